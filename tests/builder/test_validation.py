"""Front-matter errors name file and key, all are reported at once, and a failed build
leaves the previous output untouched."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from site_builder.build import BuildFailed

BAD_FILES = {
    "articles/unknown-key.md": (
        "---\ntitle: A\ndate: 2026-01-01\nauthor: me\n---\nText.\n",
        "content/articles/unknown-key.md: key 'author': unknown key",
    ),
    "articles/wrong-type.md": (
        "---\ntitle: 2024\ndate: 2026-01-01\n---\nText.\n",
        "content/articles/wrong-type.md: key 'title': Input should be a valid string, got 2024",
    ),
    "articles/bad-draft.md": (
        '---\ntitle: B\ndate: 2026-01-01\ndraft: "no"\n---\nText.\n',
        "content/articles/bad-draft.md: key 'draft': Input should be a valid boolean "
        "(true or false, without quotes), got 'no'",
    ),
    "courses/no-price/index.md": (
        "---\ntitle: C\ncurrency: usd\nmode: payment\nlookup_key: c\n---\n",
        "content/courses/no-price/index.md: key 'price': required key is missing",
    ),
    "courses/no-key/index.md": (
        "---\ntitle: D\nprice: 5\ncurrency: usd\nmode: payment\n---\n",
        "content/courses/no-key/index.md: key 'lookup_key': a course needs `lookup_key` or "
        "`stripe_price`",
    ),
    "courses/orphan/01-lost.md": (
        "---\ntitle: Lost\n---\nText.\n",
        "content/courses/orphan/01-lost.md: lesson outside a course: "
        "courses/orphan/index.md is missing",
    ),
    "courses/c/extra/01-deep.md": (
        "---\ntitle: Deep\n---\nText.\n",
        "content/courses/c/extra/01-deep.md: lesson outside a course",
    ),
    "courses/sub/index.md": (
        "---\ntitle: S\nprice: 5\ncurrency: usd\nmode: subscription\nlookup_key: s\n---\n",
        "content/courses/sub/index.md: key 'interval': `mode: subscription` needs",
    ),
    "articles/bad-cta.md": (
        "---\ntitle: E\ndate: 2026-01-01\ncta: webinar\n---\nText.\n",
        "content/articles/bad-cta.md: key 'cta': unknown CTA 'webinar'",
    ),
    "articles/bad-yaml.md": (
        "---\ntitle: [unclosed\n---\nText.\n",
        "content/articles/bad-yaml.md:2:8: invalid YAML front matter",
    ),
}


@pytest.mark.parametrize("relative", sorted(BAD_FILES))
def test_each_error_names_file_and_key(mini, relative):
    text, expected = BAD_FILES[relative]
    mini.write(relative, text)
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert expected in str(failed.value)


def test_unknown_tier_and_bad_extra_are_reported(mini):
    mini.write(
        "courses/t/index.md",
        "---\ntitle: T\nprice: 5\ncurrency: usd\nmode: payment\nlookup_key: t\ntier: gold\n---\n",
    )
    mini.configure(extra={"community": {"join_url": "https://x"}, "paywall": {"tiers": {}}})
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    message = str(failed.value)
    assert "mkdocs.yml: key 'extra.community.name': required key is missing" in message
    assert "content/courses/t/index.md: key 'tier': unknown tier 'gold'" in message


def test_all_errors_printed_at_once_and_exit_nonzero(mini, kp_cli, tree_snapshot):
    first = kp_cli("build", "--config", str(mini.config))
    assert first.exit_code == 0, first.output
    before_site = tree_snapshot(mini.root / "site")
    before_private = tree_snapshot(mini.root / "private")
    for relative, (text, _) in BAD_FILES.items():
        mini.write(relative, text)

    result = kp_cli("build", "--config", str(mini.config))

    assert result.exit_code == 1
    assert "Build failed; site/ and private/ were left as they were." in result.output
    for _, expected in BAD_FILES.values():
        assert expected in result.output
    assert f"{len(BAD_FILES)} content error(s)" in result.output
    assert "Traceback" not in result.output
    assert tree_snapshot(mini.root / "site") == before_site
    assert tree_snapshot(mini.root / "private") == before_private
    leftovers = [p.name for p in mini.root.iterdir() if p.name.startswith(".")]
    leftovers = [name for name in leftovers if name != ".kp-cache"]  # the page cache stays
    assert leftovers == []


def test_failure_after_rendering_also_leaves_output_untouched(mini, tree_snapshot):
    """A leak found in the staged output aborts the swap (the theme rendered fine)."""
    mini.build()
    before = tree_snapshot(mini.root / "site"), tree_snapshot(mini.root / "private")
    mini.write(
        "articles/quote.md",
        "---\ntitle: Quote\ndate: 2026-01-03\n---\n\n"
        "As the course says: The secret method lives only in the private copy of this lesson.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    message = str(failed.value)
    assert "leak check failed" in message
    assert "articles/quote/index.html: paid text of /courses/c/02-paid/" in message
    assert (tree_snapshot(mini.root / "site"), tree_snapshot(mini.root / "private")) == before


def test_kp_check_lints_content(mini, kp_cli):
    for relative in ("articles/unknown-key.md", "courses/no-price/index.md"):
        mini.write(relative, BAD_FILES[relative][0])
    result = kp_cli("check", "--config", str(mini.config))
    assert result.exit_code == 1
    assert "2 content error(s)" in result.output
    assert BAD_FILES["articles/unknown-key.md"][1] in result.output
    assert "leak check skipped" in result.output


def test_missing_config_is_a_clear_error(tmp_path, kp_cli):
    result = kp_cli("build", "--config", str(tmp_path / "nope.yml"))
    assert result.exit_code == 1
    assert "nope.yml: no such file" in result.output


def test_a_bad_extra_section_does_not_make_good_names_look_unknown():
    """A typo in `extra.paywall` is reported once; CTAs and other sections still resolve."""
    from site_builder.content import validate_extra

    extra = {
        "community": {
            "name": "C",
            "join_url": "https://example.com/join",
            "ctas": {"course": {"title": "T", "url": "/pricing/"}},
        },
        "paywall": {"tiers": {"pro": {"title": "Pro", "currency": "usd", "pricez": {}}}},
    }
    site_extra, errors = validate_extra(extra)
    assert errors and all(e.key.startswith("extra.paywall.tiers.pro") for e in errors)
    assert site_extra.community is not None and "course" in site_extra.community.ctas
    assert site_extra.invalid == frozenset({"paywall"})


def _mkdocs_build(mini) -> subprocess.CompletedProcess[str]:
    """Plain `mkdocs build` in the project, as an editor runs it (a real process)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--config-file", str(mini.config)],
        cwd=mini.root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_plain_mkdocs_build_with_a_content_error_keeps_the_last_good_site(mini, tree_snapshot):
    """mkdocs empties site_dir before it lists the files: content is validated before that,
    so a failed plain `mkdocs build` leaves the last good site (and private/) as they were."""
    good = _mkdocs_build(mini)
    assert good.returncode == 0, good.stderr
    before_site = tree_snapshot(mini.root / "site")
    before_private = tree_snapshot(mini.root / "private")
    assert "articles/hello/index.html" in before_site and "manifest.json" in before_private
    for relative in ("articles/bad-draft.md", "courses/no-price/index.md"):
        mini.write(relative, BAD_FILES[relative][0])

    failed = _mkdocs_build(mini)

    assert failed.returncode != 0
    after = tree_snapshot(mini.root / "site")
    assert after == before_site, f"{len(after)} of {len(before_site)} files left in site/"
    assert tree_snapshot(mini.root / "private") == before_private
    assert "2 content error(s)" in failed.stderr
    for relative in ("articles/bad-draft.md", "courses/no-price/index.md"):
        assert BAD_FILES[relative][1] in failed.stderr
