"""What gets published where: drafts, future dates, members-only articles, output dirs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kp_contract.manifest import read_manifest
from site_builder.build import BuildFailed


def _search_locations(mini) -> set[str]:
    index = json.loads((mini.root / "site/search/search_index.json").read_text("utf-8"))
    return {doc["location"].split("#")[0] for doc in index["docs"]}


def test_drafts_and_future_articles_are_left_out_unless_drafts(mini, kp_cli):
    mini.write("articles/draft.md", "---\ntitle: Draft\ndate: 2026-01-01\ndraft: true\n---\nD.\n")
    mini.write("articles/future.md", "---\ntitle: Future\ndate: 2099-01-01\n---\nF.\n")
    mini.write("courses/c/03-wip.md", "---\ntitle: WIP\ndraft: true\n---\nW.\n")

    result = kp_cli("build", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    site = mini.root / "site"
    assert not (site / "articles/draft").exists() and not (site / "articles/future").exists()
    assert not (site / "courses/c/03-wip").exists()
    assert "Draft" not in (site / "index.html").read_text("utf-8")
    assert {"articles/draft/", "articles/future/"}.isdisjoint(_search_locations(mini))
    manifest = read_manifest(mini.root / "private/manifest.json")
    assert "/courses/c/03-wip/" not in manifest.courses["c"].lessons

    preview = kp_cli("build", "--drafts", "--config", str(mini.config))
    assert preview.exit_code == 0, preview.output
    assert (site / "articles/draft/index.html").is_file()
    assert (site / "articles/future/index.html").is_file()
    manifest = read_manifest(mini.root / "private/manifest.json")
    assert "/courses/c/03-wip/" in manifest.gated


def test_draft_course_hides_its_lessons(mini):
    course = (mini.root / "content/courses/c/index.md").read_text("utf-8")
    mini.write("courses/c/index.md", course.replace("tier: pro", "tier: pro\ndraft: true"))
    mini.build()
    manifest = read_manifest(mini.root / "private/manifest.json")
    assert manifest.courses == {} and manifest.gated == {}
    assert not (mini.root / "site/courses").exists()


def test_members_only_article(mini):
    mini.write(
        "articles/inner.md",
        "---\ntitle: Inner circle\ndate: 2026-01-05\naccess: members\n---\n\n"
        "Open words for everyone.\n\n<!-- more -->\n\nWords reserved for our members only.\n",
    )
    mini.build()
    manifest = read_manifest(mini.root / "private/manifest.json")
    page = manifest.gated["/articles/inner/"]
    assert page.requires == ["member"] and page.course is None
    teaser = (mini.root / "site/articles/inner/index.html").read_text("utf-8")
    full = (mini.root / "private/articles/inner/index.html").read_text("utf-8")
    assert "Open words for everyone." in teaser and "reserved for our members" not in teaser
    assert 'class="kp-paywall"' in teaser and "This article is for members" in teaser
    assert 'action="/api/login"' in teaser and 'action="/api/checkout"' not in teaser
    assert "reserved for our members" in full and "kp-paywall" not in full
    assert 'class="kp-cta kp-cta--community"' in full, "members reading get the CTA too"


def test_gated_lesson_without_marker_shows_first_paragraph(mini):
    mini.write(
        "courses/c/03-nomarker.md",
        "---\ntitle: No marker\n---\n\n## Setup {#setup}\n\nFirst paragraph is public.\n\n"
        "## Deeper {#deeper}\n\nSecond paragraph stays behind the paywall.\n",
    )
    mini.build()
    teaser = (mini.root / "site/courses/c/03-nomarker/index.html").read_text("utf-8")
    assert "First paragraph is public." in teaser
    assert "Second paragraph" not in teaser and 'href="#deeper"' not in teaser
    assert 'href="#setup"' in teaser, "toc keeps the headings of the teaser"


def test_no_clean_keeps_extra_files_and_clean_removes_them(mini, kp_cli):
    mini.build()
    (mini.root / "site/CNAME").write_text("example.com\n")
    kept = kp_cli("build", "--no-clean", "--config", str(mini.config))
    assert kept.exit_code == 0 and "kept 1 file(s)" in kept.output
    assert (mini.root / "site/CNAME").read_text() == "example.com\n"
    cleaned = kp_cli("build", "--config", str(mini.config))
    assert cleaned.exit_code == 0
    assert not (mini.root / "site/CNAME").exists()


def test_clean_removes_leftovers_of_interrupted_builds(mini):
    stale = mini.root / ".site.build-deadbeef"
    stale.mkdir()
    (stale / "index.html").write_text("half a build")
    mini.build()
    assert not stale.exists()


def test_output_dirs_from_environment(mini, kp_cli, tmp_path):
    env = {"KP_SITE_DIR": str(tmp_path / "pub"), "KP_PRIVATE_DIR": str(tmp_path / "paid")}
    result = kp_cli("build", "--config", str(mini.config), env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pub/index.html").is_file()
    assert (tmp_path / "paid/manifest.json").is_file()
    assert not (mini.root / "site").exists()


@pytest.mark.parametrize("private_dir", ["site/private", "content/private", "."])
def test_unsafe_private_dir_is_refused(mini, private_dir):
    mini.configure(plugins=["search", {"kp-content": {"private_dir": private_dir}}])
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert "private_dir" in str(failed.value)
    assert (mini.root / "content/index.md").is_file()


def test_navigation_is_pruned_and_the_archive_lists_newest_first(mini):
    mini.write("articles/older.md", "---\ntitle: Older post\ndate: 2025-05-01\n---\nO.\n")
    mini.write("articles/newer.md", "---\ntitle: Newer post\ndate: 2026-03-01\n---\nN.\n")
    mini.write("pages/about.md", "---\ntitle: About us\n---\nA.\n")
    theme = {"name": "material", "custom_dir": str(Path(__file__).resolve().parents[2] / "themes")}
    mini.configure(theme={**theme, "features": ["navigation.footer"]})
    mini.build()
    html = (mini.root / "site/index.html").read_text("utf-8")
    nav = html[html.index('class="md-nav md-nav--primary"') : html.index('class="md-content"')]
    for title in ("Newer post", "Hello", "Older post"):  # articles are not in the sidebar
        assert title not in nav
    assert re.search(r'href="articles/"', nav), "the Articles section opens the archive"
    assert nav.index("Articles") < nav.index("The Course") < nav.index("About us")
    assert (mini.root / "site/about/index.html").is_file(), "pages/about.md → /about/"
    assert re.search(r'href="about/"', nav)
    archive = (mini.root / "site/articles/index.html").read_text("utf-8")
    listing = archive[archive.index('class="kp-archive"') :]
    order = [listing.index(t) for t in ("Newer post", "Hello", "Older post")]
    assert order == sorted(order)
    # An article sits in the Articles section and links to its neighbours by date.
    page = (mini.root / "site/articles/hello/index.html").read_text("utf-8")
    footer = page[page.index('class="md-footer"') :]
    assert "Newer post" in footer and "Older post" in footer
    assert "md-nav__item--active" in page[page.index('class="md-nav md-nav--primary"') :]


def test_explicit_nav_is_kept(mini):
    mini.configure(nav=["index.md", {"Only": "articles/hello.md"}, "courses/c/index.md"])
    mini.build()
    html = (mini.root / "site/index.html").read_text("utf-8")
    nav = html[html.index('class="md-nav md-nav--primary"') :]
    assert "Only" in nav and "Intro" not in nav


def test_site_dir_over_the_project_is_refused(mini, kp_cli):
    result = kp_cli("build", "--config", str(mini.config), env={"KP_SITE_DIR": str(mini.root)})
    assert result.exit_code == 1 and "site_dir" in result.output
    assert (mini.root / "content/index.md").is_file() and (mini.root / "mkdocs.yml").is_file()


def _kp_console_script() -> str:
    import shutil
    import sys

    beside = Path(sys.executable).with_name("kp")
    found = str(beside) if beside.exists() else shutil.which("kp")
    if found is None:
        pytest.skip("no `kp` console script in this environment (pip install -e .)")
    return found


def test_the_kp_command_ends_with_the_builds_status_and_all_its_output(mini):
    """`kp build` ends its process right after the build (kp.fast_exit): the exit code and
    every line it printed must still be there."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("KP_")}
    kp = _kp_console_script()
    built = subprocess.run(
        [kp, "build", "--config", str(mini.config)], capture_output=True, text=True, env=env
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("Built ") and "(never serve it directly)" in built.stdout
    assert (mini.root / "private/manifest.json").is_file()

    mini.write("articles/broken.md", "---\ntitle: [unclosed\n---\n\nText.\n")
    failed = subprocess.run(
        [kp, "build", "--config", str(mini.config)], capture_output=True, text=True, env=env
    )
    assert failed.returncode == 1
    assert "Build failed; site/ and private/ were left as they were." in failed.stderr
    assert "broken.md" in failed.stderr


def test_fast_exit_only_when_a_command_asked(monkeypatch):
    from kp import fast_exit

    exits: list[int] = []
    monkeypatch.setattr(fast_exit.os, "_exit", exits.append)
    monkeypatch.setattr(fast_exit, "_requested", False)
    fast_exit.exit_if_requested(0)
    assert exits == []
    fast_exit.request()
    for code, status in ((None, 0), (0, 0), (2, 2), ("message", 1)):
        fast_exit.exit_if_requested(code)
        assert exits.pop() == status


def test_output_dirs_from_a_dotenv_file(mini, kp_cli, tmp_path, monkeypatch):
    """KP_SITE_DIR in `.env` counts as in the environment (the settings are only loaded
    when one of the two variables or a .env file is there)."""
    monkeypatch.chdir(mini.root)
    (mini.root / ".env").write_text(f"KP_SITE_DIR={tmp_path / 'from-dotenv'}\n", "utf-8")
    result = kp_cli("build", "--config", str(mini.config))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-dotenv/index.html").is_file()
    assert not (mini.root / "site").exists()
