"""Builder fixtures: the example site built once per session with canaries in every paid
lesson, and small throw-away projects for validation and edge cases."""

from __future__ import annotations

import gzip
import json
import re
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import click
import pytest
import yaml
from click.testing import CliRunner

from kp.commands.build import register
from site_builder.build import BuildResult, build_site
from site_builder.frontmatter import split_front_matter

REPO_ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- more -->"
REQUIRED_COURSES = ("community-launch", "paid-community-ops")


@dataclass(frozen=True)
class Canary:
    """A unique string planted in a lesson; `url` is the lesson's URL path."""

    text: str
    source: str
    url: str


@dataclass
class ExampleBuild:
    project: Path
    result: BuildResult
    paid: list[Canary] = field(default_factory=list)
    public: list[Canary] = field(default_factory=list)

    @property
    def site(self) -> Path:
        return self.project / "site"

    @property
    def private(self) -> Path:
        return self.project / "private"

    def page(self, url: str, private: bool = False) -> str:
        root = self.private if private else self.site
        return (root / url.strip("/") / "index.html").read_text(encoding="utf-8")


def _lesson_url(path: Path) -> str:
    return f"/courses/{path.parent.name}/{path.stem}/"


def _canary(lang: str, n: int, where: str) -> str:
    tag = uuid.uuid4().hex[:10]
    if lang == "zh":
        return f"付费金丝雀{n}{where}{tag}号只应出现在私有页面"
    return f"KPCANARY{n}{where}{tag} marks paid text that must stay private"


def _plant(path: Path, n: int, course_lang: str) -> list[Canary]:
    """Three canaries in the paid part: right after the marker, a heading, the last line."""
    text = path.read_text(encoding="utf-8")
    meta, _ = split_front_matter(text)
    lang = meta.get("lang") or course_lang
    lines = text.splitlines()
    if MARKER not in (line.strip() for line in lines):
        pytest.fail(f"{path}: paid lesson without a `{MARKER}` line (example content incomplete)")
    at = next(i for i, line in enumerate(lines) if line.strip() == MARKER)
    first, heading, last = (_canary(lang, n, w) for w in ("a", "h", "z"))
    lines[at + 1 : at + 1] = ["", f"{first}.", ""]
    lines += ["", f"## {heading}", "", f"{last}.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    url = _lesson_url(path)
    return [Canary(c, str(path), url) for c in (first, heading, last)]


def plant_canaries(project: Path) -> tuple[list[Canary], list[Canary]]:
    """Canaries in every paid lesson (must stay private) and every free preview (public)."""
    courses = project / "content" / "courses"
    missing = [c for c in REQUIRED_COURSES if not (courses / c / "index.md").is_file()]
    if missing:
        pytest.fail(f"example content incomplete: no course {', '.join(missing)} in {courses}")
    paid, public = [], []
    for index in sorted(courses.glob("*/index.md")):
        course_meta, _ = split_front_matter(index.read_text(encoding="utf-8"))
        course_lang = course_meta.get("lang", "en")
        for lesson in sorted(index.parent.glob("[0-9]*.md")):
            meta, _ = split_front_matter(lesson.read_text(encoding="utf-8"))
            if meta.get("free_preview"):
                token = _canary(course_lang, len(public), "p")
                with lesson.open("a", encoding="utf-8") as fh:
                    fh.write(f"\n\n{token}.\n")
                public.append(Canary(token, str(lesson), _lesson_url(lesson)))
            else:
                paid += _plant(lesson, len(paid), course_lang)
    if len(paid) < 3 * 4 or not public:
        pytest.fail("example content incomplete: expected several paid and free preview lessons")
    return paid, public


@pytest.fixture(scope="session")
def example_build(session_project_copy: Path) -> ExampleBuild:
    """The example site, canaries planted, built once with `kp build`'s code path."""
    paid, public = plant_canaries(session_project_copy)
    result = build_site(session_project_copy / "mkdocs.yml")
    return ExampleBuild(session_project_copy, result, paid, public)


def encodings_of(text: str) -> list[bytes]:
    """How a string can appear in a file: UTF-8, JSON-escaped, HTML numeric entities."""
    return [
        text.encode("utf-8"),
        json.dumps(text)[1:-1].encode("ascii"),
        "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in text).encode("ascii"),
        "".join(c if ord(c) < 128 else f"&#x{ord(c):x};" for c in text).encode("ascii"),
    ]


_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")


def searchable_texts(path: Path) -> list[bytes]:
    """A site file as raw bytes, gunzipped if compressed, and its JSON strings decoded
    (zero-width separators of the Chinese search index removed)."""
    data = path.read_bytes()
    texts = [data]
    if path.suffix == ".gz":
        texts.append(gzip.decompress(data))
    for blob in list(texts):
        try:
            decoded = json.loads(blob)
        except ValueError:
            continue
        texts.append(_ZERO_WIDTH.sub("", json.dumps(decoded, ensure_ascii=False)).encode())
    return texts


def files_containing(root: Path, text: str) -> list[str]:
    """Every file under root holding `text` in any of its encodings."""
    needles = encodings_of(text)
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(n in blob for blob in searchable_texts(path) for n in needles):
            hits.append(path.relative_to(root).as_posix())
    return hits


# -- small projects --------------------------------------------------------------------

MINI_CONFIG = {
    "site_name": "Mini",
    "site_url": "http://127.0.0.1:8000/",
    "docs_dir": "content",
    "theme": {"name": "material", "custom_dir": str(REPO_ROOT / "themes")},
    "plugins": ["search", {"kp-content": {"shell_langs": ["en"]}}],
    "markdown_extensions": ["toc", "admonition", "attr_list", "md_in_html"],
    "extra": {
        "community": {
            "name": "Mini Circle",
            "join_url": "https://chat.example.com/mini",
            "ctas": {"course": {"title": "Take the course", "url": "/courses/c/"}},
        },
        "paywall": {
            "tiers": {
                "pro": {
                    "title": "Pro",
                    "currency": "usd",
                    "prices": {"month": {"price": 5, "lookup_key": "mini-pro-monthly"}},
                }
            }
        },
    },
}

MINI_CONTENT = {
    "index.md": "---\ntitle: Home\n---\n\nWelcome.\n",
    "articles/hello.md": """\
        ---
        title: Hello
        date: 2026-01-02
        summary: A first article.
        ---

        Hello readers, this article is free.
        """,
    "courses/c/index.md": """\
        ---
        title: The Course
        price: 10
        currency: usd
        mode: payment
        lookup_key: c-course
        tier: pro
        ---

        What you learn.
        """,
    "courses/c/01-intro.md": """\
        ---
        title: Intro
        free_preview: true
        ---

        The introduction is free for everyone.
        """,
    "courses/c/02-paid.md": """\
        ---
        title: Paid lesson
        ---

        The teaser paragraph of the paid lesson.

        <!-- more -->

        The secret method lives only in the private copy of this lesson.
        """,
}


@dataclass
class MiniProject:
    """A small site in a tmp dir; `write` adds or replaces content files."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "mkdocs.yml"

    def write(self, relative: str, text: str) -> Path:
        path = self.root / "content" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def remove(self, relative: str) -> None:
        (self.root / "content" / relative).unlink()

    def configure(self, **changes: object) -> None:
        config = yaml.safe_load(self.config.read_text(encoding="utf-8"))
        config.update(changes)
        self.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")

    def build(self, **options: object) -> BuildResult:
        return build_site(self.config, **options)


@pytest.fixture
def mini(tmp_path: Path) -> MiniProject:
    project = MiniProject(tmp_path / "mini")
    project.root.mkdir()
    project.config.write_text(yaml.safe_dump(MINI_CONFIG), encoding="utf-8")
    for relative, text in MINI_CONTENT.items():
        project.write(relative, text)
    return project


@pytest.fixture
def kp_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Run `kp <args>` (the build commands only) and return click's Result."""
    for name in ("KP_SITE_DIR", "KP_PRIVATE_DIR", "KP_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)
    group = click.Group("kp")
    register(group)
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> object:
        return runner.invoke(group, list(args), env=env, catch_exceptions=False)

    yield run


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (for byte-for-byte comparisons)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def find_in_tree() -> Callable[[Path, str], list[str]]:
    """`find_in_tree(root, text)`: files under root containing text (raw, gz, JSON)."""
    return files_containing


@pytest.fixture(scope="session")
def tree_snapshot() -> Callable[[Path], dict[str, bytes]]:
    """`tree_snapshot(root)`: {relative path: bytes} of every file under root."""
    return snapshot


@pytest.fixture(scope="session")
def bench_corpus() -> ModuleType:
    """bench/corpus.py, the benchmark's corpus generator (`bench/` is a folder of the
    repository, not an installed package: the repository root goes on sys.path)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from bench import corpus

    return corpus
