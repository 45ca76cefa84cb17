"""Fixtures for the bilingual site: the example site built once with canaries in every paid
lesson, what each page's language and URL should be (derived from content/ independently of
the builder's code), a static server and a headless chromium for the search tests."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from stripe_local.asgi_thread import ServerThread, serving

from site_builder.frontmatter import split_front_matter

BUILDER_CONFTEST = Path(__file__).resolve().parents[1] / "builder" / "conftest.py"
LANGS = ("en", "zh")


def _builder_helpers() -> ModuleType:
    """tests/builder/conftest.py as a module: canary planting and the example-build types
    (importlib import mode puts no test directory on sys.path)."""
    spec = importlib.util.spec_from_file_location("kp_tests_builder_helpers", BUILDER_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


builder = _builder_helpers()


@dataclass(frozen=True)
class ExpectedPage:
    """A content file and what the site must make of it."""

    src: str
    url: str
    lang: str
    group: str
    """The path without language suffix: pages sharing it translate each other."""
    kind: str
    meta: dict


def _lang_and_group(rel: str, meta: dict, course_lang: str | None) -> tuple[str, str, bool]:
    stem, dot, rest = rel.rpartition("/")[2].partition(".")
    head = rel.rpartition("/")[0]
    suffix = rest.removesuffix("md").rstrip(".") if dot else ""
    if suffix in LANGS:
        group = f"{head}/{stem}.md" if head else f"{stem}.md"
        return suffix, group, True
    return meta.get("lang") or course_lang or "en", rel, False


def expected_pages(project: Path) -> list[ExpectedPage]:
    """Every published page of the example content with its URL and language, by the rules
    of the issue: `x.zh.md` is Chinese and lives under /zh/, `lang:` otherwise, lessons
    inherit their course's language, `slug:` names an article's URL."""
    content = project / "content"
    pages = []
    for path in sorted(content.rglob("*.md")):
        rel = path.relative_to(content).as_posix()
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
        if meta.get("draft"):
            continue
        parts = rel.split("/")
        course_lang = None
        if parts[0] == "courses" and parts[-1] != "index.md":
            course_meta, _ = split_front_matter(
                (path.parent / "index.md").read_text(encoding="utf-8")
            )
            course_lang = course_meta.get("lang")
        lang, group, translated = _lang_and_group(rel, meta, course_lang)
        name = group.rsplit("/", 1)[-1].removesuffix(".md")
        folder = group.rpartition("/")[0]
        if parts[0] == "pages":
            folder = ""
        if parts[0] == "articles" and meta.get("slug"):
            name = meta["slug"]
        url = "/" + "/".join(p for p in (folder, "" if name == "index" else name) if p)
        url = url.rstrip("/") + "/"
        if translated and lang != "en":
            url = f"/{lang}{url}"
        kind = (
            "article" if parts[0] == "articles" else "course" if parts[0] == "courses" else "page"
        )
        pages.append(ExpectedPage(rel, url, lang, group, kind, meta))
    return pages


@dataclass
class I18nBuild:
    project: Path
    paid: list
    public: list
    pages: list[ExpectedPage]

    @property
    def site(self) -> Path:
        return self.project / "site"

    def html(self, url: str) -> str:
        return (self.site / url.strip("/") / "index.html").read_text(encoding="utf-8")

    def translations(self, page: ExpectedPage) -> dict[str, ExpectedPage]:
        return {p.lang: p for p in self.pages if p.group == page.group}

    def home(self, lang: str) -> ExpectedPage:
        homes = {p.lang: p for p in self.pages if p.group == "index.md"}
        return homes.get(lang) or homes["en"]


def _copy_example(dest: Path) -> Path:
    """content/, themes/ and mkdocs.yml of the repository, copied to `dest`."""
    repo = BUILDER_CONFTEST.parents[2]
    dest.mkdir(parents=True)
    for name in ("content", "themes"):
        shutil.copytree(repo / name, dest / name)
    shutil.copy2(repo / "mkdocs.yml", dest / "mkdocs.yml")
    return dest


@pytest.fixture(scope="session")
def i18n_build(tmp_path_factory: pytest.TempPathFactory) -> I18nBuild:
    """The example site with canaries in every paid lesson, built once with `kp build`."""
    project = _copy_example(tmp_path_factory.mktemp("i18n") / "project")
    paid, public = builder.plant_canaries(project)
    builder.build_site(project / "mkdocs.yml")
    return I18nBuild(project, paid, public, expected_pages(project))


@pytest.fixture(scope="session")
def site_server(i18n_build: I18nBuild) -> Iterator[ServerThread]:
    """The built site/ over loopback HTTP (the search worker needs http, not file://)."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    app = Starlette(routes=[Mount("/", StaticFiles(directory=i18n_build.site, html=True))])
    with serving(app) as server:
        yield server


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian chromium through Playwright (no browser download). Module scope: a
    Playwright left running would break the next module that starts its own."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.skip(f"chromium not found at {executable}: the browser search tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def mini(tmp_path: Path):
    """tests/builder's small site (one course `c` in tier `pro`, article `hello`)."""
    project = builder.MiniProject(tmp_path / "mini")
    project.root.mkdir()
    project.config.write_text(yaml.safe_dump(builder.MINI_CONFIG), encoding="utf-8")
    for relative, text in builder.MINI_CONTENT.items():
        project.write(relative, text)
    return project
