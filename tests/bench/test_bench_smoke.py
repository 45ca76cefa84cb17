"""The benchmark harness stays runnable: a tiny corpus is generated, validated, built by every
tool and served under one-second load, and the results file holds real measurements."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import cli, configs, corpus, site_builds
from bench.loadgen import parse_wrk
from bench.nginx_static import nginx_executable
from bench.paywall_load import NGINX_FRONT, stripe_signature

pytestmark = pytest.mark.timeout(120)


def test_corpus_is_deterministic_valid_and_bilingual(tmp_path: Path) -> None:
    first = corpus.generate(tmp_path / "a", 6, seed=3)
    second = corpus.generate(tmp_path / "b", 6, seed=3)
    corpus.validate(first)
    files = sorted(p.relative_to(first.content) for p in first.content.rglob("*.md"))
    assert files == sorted(p.relative_to(second.content) for p in second.content.rglob("*.md"))
    for relative in files:
        assert (first.content / relative).read_bytes() == (second.content / relative).read_bytes()
    example = len(list((configs.REPO / "content" / "courses").glob("*/*.md")))
    assert first.pages == 6 + 2 + 2 * corpus.LESSONS_PER_COURSE + example + 2 == len(files)
    english = first.article_path(1).read_text(encoding="utf-8")
    chinese = first.article_path(2).read_text(encoding="utf-8")
    assert 'lang: "en"' in english and 'lang: "zh"' in chinese
    for text in (english, chinese):
        assert (
            text.count("\n## ") == 4 and "\n- " in text and "|---|" in text and "```python" in text
        )
    assert 700 <= len(english.split()) <= 1000
    lesson = (first.content / "courses/course-001/02-lesson.md").read_text(encoding="utf-8")
    assert lesson.index("<!-- more -->") < lesson.index(corpus.PAID_MARKER)
    hugo_content = first.root / configs.HUGO_DIR / "content"
    assert (hugo_content / "courses/course-001/_index.md").is_file()
    assert not (hugo_content / "courses/course-001/index.md").exists()


def test_invalid_corpus_is_refused_with_the_file_and_key(tmp_path: Path) -> None:
    made = corpus.generate(tmp_path / "c", 2)
    path = made.article_path(1)
    path.write_text(path.read_text(encoding="utf-8").replace("title:", "titel:"), encoding="utf-8")
    with pytest.raises(ValueError, match=r"en-00001\.md.*titel"):
        corpus.validate(made)


def test_wrk_output_is_parsed() -> None:
    output = """Running 1s test @ http://127.0.0.1:1/
  1 threads and 4 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.50s
  1234 requests in 2.00s, 1.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    617.00
"""
    result = parse_wrk(output, 2.0)
    assert (result.requests, result.errors) == (1234, 3)
    assert result.p50_ms == pytest.approx(0.812) and result.p99_ms == pytest.approx(1500)
    assert result.rps == pytest.approx(617)


def test_stripe_signature_matches_the_sdk() -> None:
    import stripe

    body = b'{"id":"evt_1","object":"event"}'
    header = stripe_signature(body, "whsec_x", 1_700_000_000)
    stripe.WebhookSignature.verify_header(body.decode(), header, "whsec_x", tolerance=None)


def test_one_harness_pass_measures_every_tool(tmp_path: Path) -> None:
    results = tmp_path / "results"
    only = "mkdocs,kp,kp-watch,hugo,paywall"  # kp-incremental: one more kp build, see below
    code = cli.main(
        [
            "--sizes", "4",
            "--repeat", "1",
            "--only", only,
            "--duration", "1",
            "--connections", "2",
            "--databases", "sqlite",
            "--generator", "python",
            "--corpus-dir", str(tmp_path / "corpus"),
            "--results-dir", str(results),
        ]
    )  # fmt: skip
    assert code == 0
    record = json.loads(next(results.glob("*.json")).read_text(encoding="utf-8"))
    builds = {b["tool"]: b for b in record["builds"]}
    example = len(list((configs.REPO / "content" / "courses").glob("*/*.md")))
    expected = {"mkdocs", "kp", "kp-watch"} | ({"hugo"} if site_builds.hugo_executable() else set())
    for tool in expected:
        assert builds[tool]["skipped"] is None, builds[tool]
        assert builds[tool]["seconds_median"] > 0 and builds[tool]["peak_rss_mb"] > 10
        assert builds[tool]["cpu_seconds_median"] > 0
        assert builds[tool]["pages"] == 4 + 2 + 2 * corpus.LESSONS_PER_COURSE + example + 2
    if not site_builds.hugo_executable():
        assert builds["hugo"]["skipped"].startswith("not installed")
    scenarios = {
        (p["server"], p["workers"], p["database"], p["scenario"]): p for p in record["paywall"]
    }
    expected_rows = {("kp serve", 1, "sqlite", s) for s in ("gated", "public", "webhook")}
    expected_rows |= {("kp serve", 2, "sqlite", s) for s in ("gated", "public")}
    if nginx_executable():
        expected_rows.add(("nginx static", 0, "-", "public"))
        expected_rows.add((NGINX_FRONT, 2, "sqlite", "gated"))  # in front of the 2 workers
    assert set(scenarios) == expected_rows
    for result in scenarios.values():
        assert result["requests"] > 0 and result["errors"] == 0, result
    assert (tmp_path / "corpus" / "4" / "site" / "index.html").is_file()
    table = next(results.glob("*.txt")).read_text(encoding="utf-8")
    assert "kp build (clean)" in table and "× mkdocs-material" in table and "p99 ms" in table
    assert "kp serve 1w sqlite: gated ÷ public = " in table
    assert ("public ÷ nginx static = " in table) is bool(nginx_executable())
    front = "nginx front → kp serve 2w sqlite: gated ÷ nginx static = "
    assert (front in table) is bool(nginx_executable())


def test_incremental_edits_differ_each_run_and_are_undone(tmp_path: Path) -> None:
    made = corpus.generate(tmp_path / "d", 4)
    edits = site_builds.IncrementalEdits(made)
    original = edits.path.read_bytes()
    edits.edit()
    first = edits.path.read_bytes()
    edits.edit()
    assert len({original, first, edits.path.read_bytes()}) == 3
    edits.restore()
    assert edits.path.read_bytes() == original


@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_wrk_sends_each_prepared_request_with_its_headers_and_body() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request as HttpRequest
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from stripe_local.asgi_thread import serving

    from bench.loadgen import Request, run_load

    seen: list[tuple[str, str, bytes]] = []

    async def record(request: HttpRequest) -> PlainTextResponse:
        seen.append((request.method, request.headers.get("x-bench", ""), await request.body()))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/r", record, methods=["GET", "POST"])])
    requests = [
        Request("GET", "/r", {"X-Bench": "one"}),
        Request("POST", "/r", {"X-Bench": "two", "Content-Type": "application/json"}, b'{"n":2}'),
    ]
    with serving(app) as server:
        result = run_load(server.url, requests, duration=1, connections=2, generator="wrk")
    assert result.generator == "wrk" and result.requests > 0 and result.errors == 0
    assert ("GET", "one", b"") in seen and ("POST", "two", b'{"n":2}') in seen


def test_the_targets_are_ratios_of_the_same_run() -> None:
    from bench.loadgen import LoadResult
    from bench.paywall_load import ScenarioResult
    from bench.report import paywall_targets

    def load(rps: float, p99: float) -> LoadResult:
        return LoadResult("wrk", int(rps * 10), 10.0, 0, p99 / 2, p99)

    lines = paywall_targets(
        [
            ScenarioResult("-", "public", load(20_000, 1), server="nginx static", workers=0),
            ScenarioResult("sqlite", "public", load(2_500, 20)),
            ScenarioResult("sqlite", "gated", load(1_000, 60)),
            ScenarioResult("postgresql", "gated", load(9_000, 3), server=NGINX_FRONT, workers=2),
            ScenarioResult("sqlite", "gated", load(12_000, 3), server=NGINX_FRONT, workers=2),
        ]
    )
    assert (
        "nginx front → kp serve 2w postgresql: gated ÷ nginx static = 0.45 "
        "(target ≥ 0.50: MISSES)" in lines
    )
    assert (
        "nginx front → kp serve 2w sqlite: gated ÷ nginx static = 0.60 (target ≥ 0.50: meets)"
        in lines
    )
    assert "kp serve 1w sqlite: public ÷ nginx static = 0.125 (target ≥ 0.10: meets)" in lines
    assert "kp serve 1w sqlite: gated ÷ public = 0.40 (target ≥ 0.60: MISSES)" in lines
    assert "kp serve 1w sqlite: gated p99 = 60.0 ms (target ≤ 50 ms: MISSES)" in lines
