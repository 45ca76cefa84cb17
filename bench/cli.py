"""`python -m bench` (or `make bench`): build speed and paywall throughput in one table.

    python -m bench                          # sizes 200 and 1000, every tool, paywall
    python -m bench --sizes 1000,5000 --only kp,hugo --repeat 3
    python -m bench --only paywall --duration 10
    python -m bench --only kp,kp-incremental --baseline /tmp/before   # against another commit

Writes bench/results/<UTC time>.json and .txt (git-ignored) and prints the same table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from bench import corpus as corpus_mod
from bench import paywall_load, site_builds
from bench.report import paywall_table, site_table

BENCH_DIR = Path(__file__).resolve().parent
ALL_PARTS = (*site_builds.SITE_TOOLS, *site_builds.BASELINE_TOOLS, "paywall")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="200,1000",
        help="article counts (default 200,1000; a large site: 5000)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per tool; the median is shown (default 3)"
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL_PARTS),
        help=f"comma-separated subset of {', '.join(ALL_PARTS)}",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="a checkout of another commit (git worktree add PATH COMMIT): its kp build is "
        "timed beside this one's, taking turns (rows '@ baseline', with kp and kp-incremental)",
    )
    parser.add_argument("--seed", type=int, default=7, help="corpus seed (default 7)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds before one build run is killed (default 900)",
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per paywall scenario (default 10)"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="concurrent connections of the load generator"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="paywall databases (postgresql is skipped when unreachable)",
    )
    parser.add_argument(
        "--workers",
        default="1,2",
        help="kp serve worker counts to measure the paywall with (default 1,2)",
    )
    parser.add_argument(
        "--paywall-size",
        type=int,
        default=None,
        help="corpus the paywall serves (default: the smallest of --sizes)",
    )
    parser.add_argument("--corpus-dir", type=Path, default=BENCH_DIR / "corpus")
    parser.add_argument("--results-dir", type=Path, default=BENCH_DIR / "results")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in _csv(args.sizes)]
    except ValueError:
        parser.error(f"--sizes: expected numbers like 200,1000 (got {args.sizes!r})")
    args.only = _csv(args.only)
    unknown = sorted(set(args.only) - set(ALL_PARTS))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (choose from {', '.join(ALL_PARTS)})")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    if args.baseline is not None and not (args.baseline / "site_builder").is_dir():
        parser.error(f"--baseline: {args.baseline} is not a checkout of this project")
    if any(size < 2 for size in args.sizes) or not args.sizes:
        parser.error("--sizes: every size must be at least 2")
    try:
        args.workers = [int(n) for n in _csv(args.workers)]
    except ValueError:
        parser.error(f"--workers: expected numbers like 1,2 (got {args.workers!r})")
    if not args.workers or any(n < 1 for n in args.workers):
        parser.error("--workers: at least one count, each at least 1")
    args.databases = _csv(args.databases)
    bad = sorted(set(args.databases) - {"sqlite", "postgresql"})
    if bad:
        parser.error(f"--databases: unknown {', '.join(bad)} (sqlite, postgresql)")
    return args


def _progress(line: str) -> None:
    print(line, flush=True)


def prepare_corpus(args: argparse.Namespace, size: int) -> corpus_mod.Corpus:
    corpus = corpus_mod.generate(args.corpus_dir / str(size), size, seed=args.seed)
    corpus_mod.validate(corpus)
    return corpus


def site_tools(args: argparse.Namespace) -> list[str]:
    """The site tools to measure, in order: a baseline's beside the builds it compares with."""
    tools = []
    for tool in site_builds.SITE_TOOLS:
        if tool in args.only:
            tools.append(tool)
        partner = {"kp": "kp-baseline", "kp-incremental": "kp-baseline-incremental"}.get(tool)
        if partner and (partner in args.only or (args.baseline and tool in args.only)):
            tools.append(partner)
    return tools


def run_sites(args: argparse.Namespace) -> list[site_builds.Measurement]:
    tools = site_tools(args)
    measurements = []
    for size in args.sizes:
        corpus = prepare_corpus(args, size)
        _progress(
            f"corpus {size}: {corpus.pages} pages ({corpus.articles} articles, "
            f"{corpus.courses} courses, {corpus.lessons} lessons)"
        )
        clean = [tool for tool in tools if tool in site_builds.CLEAN_TOOLS]
        by_tool = {
            m.tool: m
            for m in site_builds.measure_clean_builds(
                clean,
                corpus,
                repeat=args.repeat,
                timeout=args.timeout,
                progress=_progress,
                baseline=args.baseline,
            )
        }
        for tool in tools:  # the rest after the clean builds (they edit the built site)
            if tool not in by_tool:
                by_tool[tool] = site_builds.measure_tool(
                    tool,
                    corpus,
                    repeat=args.repeat,
                    timeout=args.timeout,
                    progress=_progress,
                    baseline=args.baseline,
                )
        measurements += [by_tool[tool] for tool in tools]
    return measurements


def run_paywall(args: argparse.Namespace) -> tuple[list[paywall_load.ScenarioResult], list[str]]:
    size = args.paywall_size or min(args.sizes)
    corpus = prepare_corpus(args, size)
    notes = []
    if not (corpus.root / "private" / "manifest.json").is_file() or "kp" not in args.only:
        _progress(f"paywall: building corpus {size} with kp build")
        run = site_builds.measure_tool(
            "kp", corpus, repeat=1, timeout=args.timeout, progress=_progress
        )
        if run.skipped:
            raise SystemExit(f"bench: cannot build the paywall's site: {run.skipped}")
    from bench.nginx_static import nginx_executable

    results = []
    with_nginx = nginx_executable() is not None
    front_workers = max(args.workers)
    if not with_nginx:
        notes.append(
            "nginx static and nginx front: skipped, nginx is not installed (apt-get install nginx)"
        )
        _progress(f"  {notes[-1]}")
    else:
        notes.append(
            f"nginx front: `kp deploy nginx`'s kp.conf (default --auth-cache-seconds) in front "
            f"of kp serve with {front_workers} worker(s); the gated row's lesson and session"
        )
        results.append(
            paywall_load.measure_nginx_static(
                corpus,
                duration=args.duration,
                connections=args.connections,
                generator=args.generator,
                progress=_progress,
            )
        )
    for kind in args.databases:
        if kind == "postgresql" and not paywall_load.postgres_reachable():
            notes.append("PostgreSQL: skipped, nothing answers at 127.0.0.1:5432")
            _progress(f"  {notes[-1]}")
            continue
        for workers in args.workers:
            results += paywall_load.measure_database(
                kind,
                corpus,
                duration=args.duration,
                connections=args.connections,
                generator=args.generator,
                # the webhook's figure is the database's, not the workers': one worker only
                scenarios=paywall_load.SCENARIOS if workers == 1 else ("gated", "public"),
                progress=_progress,
                workers=workers,
                through_nginx=with_nginx and workers == front_workers,
            )
    return results, notes


def _commit(checkout: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def _environment(args: argparse.Namespace) -> dict[str, object]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "hugo": site_builds.hugo_executable(),
        "commit": _commit(BENCH_DIR.parent),
        "baseline": None
        if args.baseline is None
        else {"path": str(args.baseline), "commit": _commit(args.baseline)},
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    measurements = run_sites(args) if site_tools(args) else []
    paywall, notes = run_paywall(args) if "paywall" in args.only else ([], [])
    text = "\n\n".join(
        part
        for part in (
            site_table(measurements) if measurements else "",
            paywall_table(paywall, notes) if "paywall" in args.only else "",
        )
        if part
    )
    print("\n" + text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    record = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "environment": _environment(args),
        "builds": [
            {
                "tool": m.tool,
                "articles": m.size,
                "pages": m.pages,
                "seconds_median": m.seconds,
                "cpu_seconds_median": m.cpu_seconds,
                "pages_per_second": m.pages_per_second,
                "peak_rss_mb": m.peak_rss_mb,
                "runs": [run.seconds for run in m.runs],
                "skipped": m.skipped,
            }
            for m in measurements
        ],
        "paywall": [
            {
                "server": r.server,
                "workers": r.workers,
                "database": r.database,
                "scenario": r.scenario,
                **asdict(r.load),
                "rps": r.load.rps,
            }
            for r in paywall
        ],
        "notes": notes,
    }
    (args.results_dir / f"{stamp}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    (args.results_dir / f"{stamp}.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\nresults: {args.results_dir / stamp}.json")
    return 0
