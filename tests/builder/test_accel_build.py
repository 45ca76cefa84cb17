"""The accelerated kp build (site_builder.accel): cached and parallel builds produce exactly
what a clean build does.

Every comparison is byte for byte over site/ and private/, ignoring only build timestamps
(the manifest's `built_at`, the gzip header of sitemap.xml.gz, RSS build dates).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from site_builder import leaks, slugs
from site_builder.accel import build_loop, engine, leak_search, linker, precheck, romanizer
from site_builder.accel.nav_cache import NavCache
from site_builder.accel.page_render import RenderState
from site_builder.accel.precheck import SEARCH_INDEX
from site_builder.accel.workers import fork_pool, state_of
from site_builder.build import BuildFailed, build_site
from site_builder.leaks import find_leaks

ZH_ARTICLE = """\
    ---
    title: 社群运营第一课
    date: 2026-01-05
    tags: [社群, 运营]
    lang: zh
    summary: 中文文章的摘要。
    ---

    第一段，介绍社群运营的基本方法。

    ## 为什么重要

    第二段，说明每周节奏为什么重要。
    """


def _comparable(root: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name, data = path.relative_to(root).as_posix(), path.read_bytes()
        if name.endswith(".gz"):
            data = gzip.decompress(data)
        if name.endswith("manifest.json"):
            manifest = json.loads(data)
            manifest.pop("built_at", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        files[name] = re.sub(rb"<lastBuildDate>[^<]*</lastBuildDate>", b"", data)
    return files


def _outputs(root: Path) -> dict[str, bytes]:
    site = {f"site/{k}": v for k, v in _comparable(root / "site").items()}
    private = {f"private/{k}": v for k, v in _comparable(root / "private").items()}
    return site | private


def _clean_copy_build(mini, tmp_path: Path, **options) -> dict[str, bytes]:
    """The same project built from scratch elsewhere, without any cache."""
    other = tmp_path / "clean"
    shutil.rmtree(other, ignore_errors=True)
    other.mkdir()
    shutil.copy(mini.config, other / "mkdocs.yml")
    shutil.copytree(mini.root / "content", other / "content")
    build_site(other / "mkdocs.yml", cache=False, **options)
    return _outputs(other)


@pytest.fixture
def site(mini):
    mini.write("articles/zh-first.md", ZH_ARTICLE)
    for number in range(1, 24):  # more than one archive page
        mini.write(
            f"articles/post-{number:02d}.md",
            f"---\ntitle: Post {number}\ndate: 2025-{1 + number % 12:02d}-{number:02d}\n"
            f"tags: [Growth, 'tag {number % 3}']\n---\n\nBody of post {number}.\n\n"
            f"## Section\n\nMore text.\n",
        )
    return mini


def _same(a: dict[str, bytes], b: dict[str, bytes]) -> None:
    assert sorted(a) == sorted(b)
    differing = [name for name in a if a[name] != b[name]]
    assert differing == []


def test_incremental_build_renders_one_page_and_equals_a_clean_build(site, tmp_path):
    first = site.build()
    assert first.fast is not None and first.fast.cached == 0
    site.write(
        "articles/post-05.md",
        "---\ntitle: Post 5\ndate: 2025-06-05\ntags: [Growth, 'tag 2']\n---\n\nEdited body.\n",
    )
    second = site.build()
    assert second.fast is not None
    assert (second.fast.rendered, second.fast.cached) == (1, second.fast.pages - 1)
    assert second.fast.linked == second.fast.cached, "unchanged pages are linked, not rewritten"
    assert "Edited body." in (site.root / "site/articles/post-05/index.html").read_text("utf-8")
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))


def test_a_published_file_edited_by_hand_is_not_reused(site, tmp_path):
    site.build()
    site.build()  # records what was published
    published = site.root / "site/articles/post-02/index.html"
    published.write_text(published.read_text("utf-8") + "<!-- edited by hand -->", "utf-8")
    again = site.build()
    assert again.fast is not None and again.fast.linked == again.fast.pages - 1
    assert "edited by hand" not in published.read_text("utf-8")
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))


def _vanish_before_linking(monkeypatch, site, sources: set[str]) -> None:
    """The live files of `sources` go away once the build has chosen to link them."""
    original = linker.Linker.__init__

    def start(self, previous_site, pages):
        for page in pages:
            if page.file.src_uri in sources:
                (Path(previous_site) / page.file.dest_uri).unlink()
        original(self, previous_site, pages)

    monkeypatch.setattr(linker.Linker, "__init__", start)


@pytest.mark.parametrize("helper", ["process", "no process"])
def test_a_page_whose_file_cannot_be_linked_is_rendered(site, tmp_path, monkeypatch, helper):
    """Unchanged pages are linked by a second process while the build goes on (or here,
    without one); a page whose file went away before its link (a gated page and an
    article) is rendered after all, and the output is still the clean build's."""
    site.build()
    site.build()  # records what was published
    if helper == "no process":  # (a module that does not exist: the process fails)
        monkeypatch.setattr(linker, "LINK_PROCESS", "site_builder.accel.processes.missing")
    _vanish_before_linking(monkeypatch, site, {"articles/post-07.md", "courses/c/02-paid.md"})
    again = site.build()
    assert again.fast is not None
    assert (again.fast.rendered, again.fast.linked) == (2, again.fast.pages - 2)
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))


def test_a_failed_build_stops_the_linking_process(site, monkeypatch):
    """A build failing after the linking process started (here: writing the search index)
    ends that process and leaves the published site as it was."""
    from material.plugins.search.plugin import SearchPlugin

    site.build()
    site.build()
    started = []
    original = linker.Linker._start

    def start(self, previous_site):
        original(self, previous_site)
        started.append((self, self.process))

    def fail(self, *, config):
        raise RuntimeError("disk full")

    monkeypatch.setattr(linker.Linker, "_start", start)
    monkeypatch.setattr(SearchPlugin, "on_post_build", fail)
    post = site.root / "content/articles/post-03.md"
    post.write_text(post.read_text(encoding="utf-8") + "\nEdited.\n", encoding="utf-8")
    before = _outputs(site.root)
    with pytest.raises(BuildFailed, match="disk full"):
        site.build()
    assert _outputs(site.root) == before
    assert len(started) == 1
    stopped, process = started[0]
    assert stopped.process is None and process.poll() is not None
    assert not Path(stopped.listing).exists()


def test_unchanged_rebuild_renders_nothing(site):
    site.build()
    before = _outputs(site.root)
    again = site.build()
    assert again.fast is not None and again.fast.rendered == 0
    _same(_outputs(site.root), before)


@pytest.mark.parametrize(
    "change",
    ["title", "new article", "removed article", "paid text", "config"],
)
def test_changes_elsewhere_give_the_clean_output(site, tmp_path, change):
    site.build()
    if change == "title":  # listed in archives, tag pages, neighbours' footers
        text = (site.root / "content/articles/post-07.md").read_text("utf-8")
        (site.root / "content/articles/post-07.md").write_text(text.replace("Post 7", "Renamed"))
    elif change == "new article":
        site.write("articles/fresh.md", "---\ntitle: Fresh\ndate: 2026-02-01\n---\n\nNew.\n")
    elif change == "removed article":
        site.remove("articles/post-03.md")
    elif change == "paid text":
        site.write(
            "courses/c/02-paid.md",
            "---\ntitle: Paid lesson\n---\n\nThe teaser paragraph of the paid lesson.\n\n"
            "<!-- more -->\n\nA rewritten paid method only members may read here.\n",
        )
    else:
        site.configure(site_name="Renamed Mini")
    result = site.build()
    assert result.fast is not None and result.fast.rendered >= 1
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))
    if change == "paid text":
        private = (site.root / "private/courses/c/02-paid/index.html").read_text("utf-8")
        assert "A rewritten paid method" in private
        assert not any(
            b"rewritten paid method" in data for data in _comparable(site.root / "site").values()
        )


def test_parallel_workers_give_the_same_bytes_as_one_process(site, tmp_path):
    one = _clean_copy_build(site, tmp_path, jobs=1)
    site.build(cache=False, jobs=2)
    assert site.build(cache=False, jobs=2).fast.workers == 2
    _same(_outputs(site.root), one)


def test_fast_path_equals_plain_mkdocs_build(site, tmp_path, monkeypatch):
    site.build(jobs=2)
    fast = _outputs(site.root)
    monkeypatch.setattr(build_loop, "eligible", lambda config: "forced for the test")
    plain = site.build()
    assert plain.fast is None and plain.fast_path_note == "forced for the test"
    _same(_outputs(site.root), fast)


def test_unknown_plugins_fall_back_to_mkdocs(site):
    plugins = ["search", {"kp-content": {"shell_langs": ["en"]}}, "tags"]
    site.configure(plugins=plugins)
    result = site.build()
    assert result.fast is None and "tags" in (result.fast_path_note or "")


def test_sidebar_cache_changes_nothing(site, tmp_path, monkeypatch):
    site.build(cache=False)
    cached = _outputs(site.root)
    monkeypatch.setattr(NavCache, "__call__", lambda self, page, nav, caller: caller())
    _same(_clean_copy_build(site, tmp_path), cached)


def test_sidebar_cache_key():
    cache = NavCache()
    assert cache.key(None, None) is None
    assert cache("not a page", None, lambda: "rendered") == "rendered"


def test_only_the_accelerated_build_renders_sidebars_once(mini):
    """The sidebar cache is the fast path's: kp-content renders every sidebar without it."""
    from site_builder.build import load_site_config
    from site_builder.plugins.content import ContentPlugin

    config = load_site_config(mini.config)
    plugin = next(p for p in config.plugins.values() if isinstance(p, ContentPlugin))
    assert plugin.nav_cache is None


def test_leak_check_cache_only_skips_identical_clean_files(mini, tmp_path):
    mini.build()
    site, private = mini.root / "site", mini.root / "private"

    class Memory:
        def __init__(self) -> None:
            self.known: set[str] = set()

        def clean(self, keys):
            return self.known & set(keys)

        def update(self, clean, current):
            self.known = (self.known | set(clean)) & current

    memory = Memory()
    assert find_leaks(site, private, cache=memory) == []
    assert memory.known, "clean files are remembered"
    page = site / "articles/hello/index.html"
    page.write_text(
        page.read_text("utf-8")
        + "<p>The secret method lives only in the private copy of this lesson.</p>",
        encoding="utf-8",
    )
    found = find_leaks(site, private, cache=memory)
    assert [leak.site_file for leak in found] == ["articles/hello/index.html"]
    assert find_leaks(site, private, cache=memory, search=leak_search.in_workers(2)) == found


def _index_views(site_dir: Path) -> tuple[str, list[str]]:
    """(sha256, views the leak check reads) of the written search index, parsed again."""
    index = (site_dir / SEARCH_INDEX).read_bytes()
    return hashlib.sha256(index).hexdigest(), leaks.file_views(SEARCH_INDEX, index)[1]


def test_json_texts_are_what_the_check_reads_of_the_written_json():
    value = {
        "config": {"lang": ["en", "zh"], "separator": "[\\s]+", "boost": 2.5, "on": True},
        "docs": [
            {"location": "a/", "title": "A &amp; <b>B</b>", "text": "<p>one\n two</p>"},
            {"location": "b/", "title": "\u200b中文\u200b", "text": "", "tags": ["x", "y"]},
            {"location": "c/", "title": None, "text": "t", "extra": ("tu", "ple")},
        ],
    }
    written = json.dumps(value, separators=(",", ":")).encode()
    assert leaks.file_views("x.json", written)[1] == [leaks.json_view(leaks.json_texts(value))]
    assert leaks.json_texts({"when": __import__("datetime").date(2026, 1, 1)}) is None


@pytest.mark.parametrize("jobs", [1, 2])
def test_search_index_is_checked_from_its_pages_texts(site, jobs):
    """The fast path searches the search index from the texts its workers worked out (or
    the cache kept) for every page's entries: the same text the leak check reads when it
    parses the written file, for a clean build and after an edit."""
    for edit in range(2):
        result = site.build(jobs=jobs)
        assert result.fast is not None and SEARCH_INDEX in result.fast.prechecked
        digest, views = _index_views(site.root / "site")
        assert result.fast.digests[SEARCH_INDEX] == digest
        index = json.loads((site.root / "site" / SEARCH_INDEX).read_bytes())
        config_texts = leaks.json_texts(index["config"])
        assert views == [leaks.json_view(config_texts + result.fast.search_texts)]
        post = site.root / "content/articles/post-03.md"
        post.write_text(post.read_text(encoding="utf-8") + f"\nEdit {edit}.\n", encoding="utf-8")
    assert result.fast.rendered < result.fast.pages


def test_paid_text_in_the_search_index_fails_the_build(mini):
    """A free article quoting the paid part: found in its page and in the search index,
    which the fast path searched from its pages' texts."""
    mini.write(
        "articles/quote.md",
        "---\ntitle: Quote\ndate: 2026-01-03\n---\n\n"
        "The secret method lives only in the private copy of this lesson.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    report = "\n".join(failed.value.problems)
    assert "search/search_index.json: paid text of /courses/c/02-paid/" in report
    assert "articles/quote/index.html: paid text of /courses/c/02-paid/" in report
    assert not (mini.root / "site").exists()


def test_search_index_changed_after_it_was_written_is_read_again(mini, monkeypatch):
    """When the index written is not the one made of the merged entries (here: a plugin
    rewrites it after the search plugin), the leak check parses the file itself."""
    from material.plugins.search.plugin import SearchPlugin

    written = SearchPlugin.on_post_build

    def rewrite(self, *, config):
        written(self, config=config)
        path = Path(config.site_dir) / SEARCH_INDEX
        index = json.loads(path.read_text(encoding="utf-8"))
        index["docs"].append(
            {
                "location": "x/",
                "title": "x",
                "text": "The secret method lives only in the private copy of this lesson.",
            }
        )
        path.write_text(json.dumps(index), encoding="utf-8")

    monkeypatch.setattr(SearchPlugin, "on_post_build", rewrite)
    with pytest.raises(BuildFailed) as failed:
        mini.build()
    assert "search/search_index.json: paid text of /courses/c/02-paid/" in "\n".join(
        failed.value.problems
    )


def test_chinese_pages_and_search_are_built_with_jieba_rs(site):
    import jieba
    from material.plugins.search import plugin as search_plugin

    from site_builder.accel.segmenter import _JiebaRs

    result = site.build()
    assert {"chinese-segmenter", "segment-chinese"} <= set(result.replacements)
    assert type(search_plugin.jieba).__name__ != "_JiebaRs", "uninstalled after the build"
    text = "第一段，介绍社群运营的基本方法。每周节奏为什么重要"
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        assert _JiebaRs().cut(run.encode("utf-8")) == list(jieba.cut(run))
    index = json.loads((site.root / "site/search/search_index.json").read_text("utf-8"))
    zh = next(doc for doc in index["docs"] if doc["location"].startswith("articles/zh-first/"))
    assert "\u200b社群\u200b" in zh["text"] or "社群\u200b" in zh["text"]


def test_segmenting_chinese_gives_what_materials_own_method_gives(site):
    from material.plugins.search import plugin as search_plugin

    from site_builder.accel import segmenter

    site.build()
    original = search_plugin.SearchIndex._segment_chinese
    undo = segmenter.install_segment_chinese()
    assert undo is not None
    try:
        fast = vars(search_plugin.SearchIndex)["_segment_chinese"]
        assert fast.kp_fast and fast.kp_original is original
        index = search_plugin.SearchIndex()
        _compare_segmenting(site, index, original)
    finally:
        undo()
    assert search_plugin.SearchIndex._segment_chinese is original


def _compare_segmenting(site, index, original) -> None:
    samples = [
        "",
        "plain ASCII text, no Han at all",
        "第一段，介绍社群运营的基本方法。",
        "\u200b开头和结尾\u200b",
        "mixed 中文 and English 付费课程 text",
        "〇 and 𠀀𠀁 (Han outside the BMP), 々 and ー",
        "café naïve — “quotes” 与标点：社群！",
        "\u200b\u200bzero width only\u200b",
    ]
    index_json = (site.root / "site/search/search_index.json").read_text("utf-8")
    samples += [doc["text"].replace("\u200b", "") for doc in json.loads(index_json)["docs"]]
    for text in samples:
        assert index._segment_chinese(text) == original(index, text), text


def test_workers_find_paid_text_while_rendering(site, monkeypatch):
    """Pages are searched for paid text by the workers that render them once the parent
    has handed them the matcher (pages rendered before that are left to the leak check),
    the search index by the parent from its pages' texts; a leak fails the build either
    way, and no file is searched twice."""
    site.write(
        "articles/quote.md",
        "---\ntitle: Quote\ndate: 2026-01-03\n---\n\n"
        "As the course says: The secret method lives only in the private copy of this lesson.\n",
    )
    searched: list[str] = []
    in_workers = leak_search.in_workers

    def recording(jobs):
        search = in_workers(jobs)
        return lambda matcher, files: searched.extend(r for r, _ in files) or search(matcher, files)

    monkeypatch.setattr(leak_search, "in_workers", recording)
    with pytest.raises(BuildFailed) as failed:
        site.build(cache=False, jobs=2)
    report = str(failed.value)
    assert "articles/quote/index.html: paid text of /courses/c/02-paid/" in report
    assert report.count("articles/quote/index.html") == 1
    assert report.count("search/search_index.json: paid text of /courses/c/02-paid/") == 1
    assert "search/search_index.json" not in searched
    assert len(searched) == len(set(searched))


def test_the_matcher_handed_to_workers_finds_what_the_parents_finds(site):
    site.build(cache=False, jobs=1)
    private = site.root / "private"
    manifest = json.loads((private / "manifest.json").read_text("utf-8"))
    gated = [
        (url, page["private_file"], (private / page["private_file"]).read_text("utf-8"))
        for url, page in manifest["gated"].items()
    ]
    matcher = leaks.matcher_for(gated)
    paid = "The secret method lives only in the private copy of this lesson."
    page = f"<html><body><p>As quoted: {paid}</p></body></html>".encode()
    handoff = precheck.MatcherHandoff.create()
    assert handoff is not None
    # (only the handoff matters here: the rest of what rendering needs is left out)
    state = RenderState(None, None, None, None, [], None, None, handoff=handoff)
    try:
        with fork_pool(1, state) as pool:
            assert pool.apply(_current_matcher) is None, "nothing handed over yet"
            handoff.publish(matcher)
            received = pool.apply(_current_matcher)
            found = pool.apply(_search_with_handed_matcher, ("a/index.html", page))
    finally:
        handoff.close()
    assert received.digest == matcher.digest
    assert found == matcher.leaks_in("a/index.html", page) and found
    assert not Path(handoff.directory).exists()


def test_without_a_temporary_folder_pages_are_left_to_the_leak_check(site, monkeypatch):
    """No handoff when no temporary folder can be made: the build still checks every
    page (afterwards) and fails on a leak."""

    def unwritable(*args, **kwargs):
        raise PermissionError("read-only temporary folder")

    monkeypatch.setattr(precheck.tempfile, "mkdtemp", unwritable)
    assert precheck.MatcherHandoff.create() is None
    site.build(cache=False, jobs=2)
    site.write(
        "articles/quote.md",
        "---\ntitle: Quote\ndate: 2026-01-03\n---\n\n"
        "As the course says: The secret method lives only in the private copy of this lesson.\n",
    )
    with pytest.raises(BuildFailed) as failed:
        site.build(cache=False, jobs=2)
    assert "articles/quote/index.html: paid text of /courses/c/02-paid/" in str(failed.value)


def _current_matcher() -> leaks.Matcher | None:
    return state_of(RenderState).current_matcher()


def _search_with_handed_matcher(name: str, data: bytes) -> list[leaks.Leak]:
    matcher = _current_matcher()
    assert matcher is not None
    return matcher.leaks_in(name, data)


def test_settings_from_the_environment_are_part_of_the_cache_key(site, tmp_path, monkeypatch):
    config = site.config.read_text("utf-8")
    site.config.write_text(config + "site_description: !ENV [KP_BENCH_DESC, first]\n", "utf-8")
    site.build()
    monkeypatch.setenv("KP_BENCH_DESC", "second description")
    again = site.build()
    assert again.fast is not None and again.fast.rendered == again.fast.pages
    assert "second description" in (site.root / "site/index.html").read_text("utf-8")
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))


def test_a_damaged_cache_is_replaced_not_fatal(site, tmp_path):
    site.build()
    (site.root / ".kp-cache/pages.sqlite3").write_bytes(b"not a database" * 100)
    for name in ("frontmatter.pickle", "leak-memo.pickle"):
        (site.root / ".kp-cache" / name).write_bytes(b"\x80garbage")
    (site.root / ".kp-cache/romanized.json").write_text("{not json", "utf-8")
    result = site.build()
    assert result.fast is not None and result.fast.rendered == result.fast.pages
    _same(_outputs(site.root), _clean_copy_build(site, tmp_path))
    assert site.build().fast.rendered == 0, "the new cache works"


def test_no_cache_where_it_cannot_be_written(site, monkeypatch):
    monkeypatch.setattr(engine, "cache_dir_for", lambda config: Path("/proc/kp-cache"))
    result = site.build()
    assert result.fast is not None and result.fast.rendered == result.fast.pages


def test_jieba_is_imported_only_when_used():
    """kp build defers jieba (mkdocs-material imports it; jieba-rs segments); the first use
    of an attribute still gets the real module, as a site with `jieba_dict` needs."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from site_builder.accel.segmenter import defer_jieba_import\n"
        "defer_jieba_import()\n"
        "from material.plugins.search import plugin\n"
        "assert 'jieba._compat' not in sys.modules, 'loaded too early'\n"
        "import jieba\n"
        "words = list(jieba.cut('我们在北京学习'))\n"
        "assert words and ''.join(words) == '我们在北京学习', words\n"
        "assert type(sys.modules['jieba']).__name__ == 'module'\n"
        "assert plugin.jieba.cut is not None\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_segmenter_process_cuts_what_jieba_rs_cuts_and_stops_with_the_build(site):
    """A build that may segment Chinese starts jieba-rs in a second process while it sets
    up (segmenter._Helper); its words are the in-process ones, a dead helper falls back to
    this process, and the build's end stops it."""
    import rjieba

    from site_builder.accel import segmenter

    texts = ["我们在北京学习付费课程", "社群运营与私域增长", "混合 English 文本和中文"]
    helper = segmenter._Helper()
    try:
        for text in texts:
            assert helper.cut(text, False, True) == rjieba.cut(text, hmm=True)
            assert helper.cut(text, True, True) == rjieba.cut_all(text)
    finally:
        helper.close()
    assert helper.process.poll() is not None

    # A Chinese page edited since the last build; a fresh interpreter (jieba-rs not loaded
    # yet) builds the site again.
    site.build()
    time.sleep(0.05)  # a later modification time than the page cache's
    edited = textwrap.dedent(ZH_ARTICLE) + "\n新的一段：社群运营的下一步。\n"
    site.write("articles/zh-first.md", edited)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from site_builder.accel import segmenter\n"
        "from site_builder.build import build_site\n"
        "started = []\n"
        "real = segmenter.start_helper\n"
        "def start():\n"
        "    real(); started.append(segmenter._helper)\n"
        "segmenter.start_helper = start\n"
        "build_site(Path(sys.argv[1]), jobs=1)\n"
        "assert started and started[0] is not None, 'not started'\n"
        "assert segmenter._helper is None, 'not stopped'\n"
        "assert started[0].process.poll() is not None, 'still running'\n"
        "assert 'rjieba' not in sys.modules, 'segmented in this process'\n"
    )
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script, str(site.config)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    index = (site.root / "site/search/search_index.json").read_text("utf-8")
    assert "\\u200b" in index or "\u200b" in index, "Chinese was segmented"

    dead = segmenter._Helper()  # a helper that died: no answer, and it is dropped
    dead.process.kill()
    dead.process.wait()
    segmenter._helper = dead
    try:
        assert dead.cut(texts[0], False, True) is None
        assert segmenter._helper is None
    finally:
        segmenter.stop_helper()


def test_heading_texts_are_the_chinese_atx_headings():
    source = (
        "# 标题一\n\nText 中文 not a heading.\n\n## 为什么重要 ##\n\n### English only\n\n"
        "#### 带属性的标题 {#custom .cls}\n\n#不是标题\n"
    )
    assert romanizer.heading_texts(source) == ["标题一", "为什么重要", "带属性的标题"]
    assert romanizer.heading_texts("# English\n") == []


def test_the_romanizer_process_gives_this_process_pinyin():
    from site_builder.accel.line_helper import LineHelper

    texts = ["社群运营", "为什么重要", "混合 English 和中文", "重庆银行"]
    helper = LineHelper("site_builder.accel.processes.romanize")
    try:
        assert helper.ask(texts) == [slugs.pinyin.pinyin_of(text) for text in texts]
    finally:
        helper.close()
    assert helper.process.poll() is not None
    assert helper.ask(texts) is None  # dead: no answer (callers romanize in-process)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_first_build_romanizes_in_the_romanizer_process(site, jobs):
    """A first build of a Chinese site loads pypinyin in a second process while it sets up
    and romanizes its tags and headings there: neither the building process nor its workers
    load it, the slugs are this process's, and the process is stopped with the build."""
    import subprocess
    import sys

    config = site.config.read_text(encoding="utf-8")  # Chinese anchors in pinyin, as mkdocs.yml
    slugify = "- toc:\n    slugify: !!python/name:site_builder.slugs.heading_slug\n"
    site.config.write_text(config.replace("- toc\n", slugify, 1), encoding="utf-8")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from site_builder import slugs\n"
        "from site_builder.accel import romanizer\n"
        "from site_builder.build import build_site\n"
        "def refuse(text):\n"
        "    raise AssertionError(f'romanized in the build process: {text!r}')\n"
        "slugs.pinyin.pinyin_of = refuse\n"
        "result = build_site(Path(sys.argv[1]), jobs=int(sys.argv[2]))\n"
        "assert result.fast is not None and result.fast.rendered == result.fast.pages\n"
        "assert not romanizer.running(), 'not stopped'\n"
        "assert 'pypinyin' not in sys.modules\n"
        "assert {'社群', '运营', '为什么重要'} <= slugs.ROMANIZED.keys(), slugs.ROMANIZED\n"
        "print(repr(slugs.ROMANIZED))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(site.config), str(jobs)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    romanized = __import__("ast").literal_eval(done.stdout.strip().splitlines()[-1])
    assert romanized == {text: slugs.pinyin.pinyin_of(text) for text in romanized}
    assert (site.root / "site/zh/tags/she-qun/index.html").is_file()


def test_kp_build_starts_the_romanizer_before_importing_the_build(site):
    """`kp build` (a first build) starts loading pypinyin before it imports the build's
    modules (a third of a second), so the load is done when the tags need it."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from site_builder.accel import romanizer\n"
        "seen = []\n"
        "real = romanizer.start\n"
        "def start():\n"
        "    seen.append('site_builder.build' in sys.modules)\n"
        "    real()\n"
        "romanizer.start = start\n"
        "from kp.cli import main\n"
        "sys.argv = ['kp', 'build', '-f', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert done.code in (0, None), done.code\n"
        "assert seen and seen[0] is False, seen\n"
        "assert not romanizer.running(), 'not stopped'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(site.config)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (site.root / "site/zh/tags/she-qun/index.html").is_file()
