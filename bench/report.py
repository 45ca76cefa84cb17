"""The benchmark's tables: plain text, aligned, readable in a terminal and in the README."""

from __future__ import annotations

from bench.paywall_load import NGINX_FRONT, ScenarioResult
from bench.site_builds import LABELS, Measurement


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.2f}×"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        return f"| {cells} |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def site_table(measurements: list[Measurement]) -> str:
    """One row per (size, tool): median wall time, pages/s, peak RSS, ratio to Hugo and to
    plain mkdocs-material of the same size in the same run."""
    header = [
        "articles",
        "pages",
        "tool",
        "wall s (median)",
        "cpu s",
        "pages/s",
        "peak RSS MB",
        "× hugo",
        "× mkdocs-material",
        "note",
    ]
    rows = []
    for size in sorted({m.size for m in measurements}):
        same = {m.tool: m for m in measurements if m.size == size}
        hugo = same["hugo"].seconds if "hugo" in same else None
        plain = same["mkdocs"].seconds if "mkdocs" in same else None
        for m in same.values():
            rows.append(
                [
                    str(size),
                    str(m.pages),
                    LABELS[m.tool],
                    _num(m.seconds),
                    _num(m.cpu_seconds),
                    _num(m.pages_per_second, 0),
                    _num(m.peak_rss_mb, 0),
                    _ratio(m.seconds, hugo),
                    _ratio(m.seconds, plain),
                    m.skipped or "",
                ]
            )
    return "Site builds (wall seconds, median of runs)\n" + _table(header, rows)


PUBLIC_VS_NGINX_TARGET = 0.10
GATED_VS_PUBLIC_TARGET = 0.60
P99_TARGET_MS = 50.0
"""Issue 15's targets for `kp serve` alone, as ratios in one run (16 connections)."""
FRONT_GATED_VS_NGINX_TARGET = 0.50
"""Issue 15's target behind nginx: the gated lesson through `kp deploy nginx`'s front."""


def _workers(n: int) -> str:
    return f"{n} worker" + ("s" if n != 1 else "")


def _server(r: ScenarioResult) -> str:
    if r.server == "kp serve":
        return f"kp serve, {_workers(r.workers)}"
    if r.server == NGINX_FRONT:
        return f"nginx front → kp serve, {_workers(r.workers)}"
    return r.server


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def paywall_targets(results: list[ScenarioResult]) -> list[str]:
    """The issue's ratios, from the rows of this run: the gated lesson through nginx's
    front ÷ nginx static; for kp serve alone, public ÷ nginx static, gated ÷ public of the
    same server and database, and each row's p99."""
    by = {(r.server, r.workers, r.database, r.scenario): r.load for r in results}
    nginx = by.get(("nginx static", 0, "-", "public"))
    lines = []
    for (server, workers, database, scenario), load in by.items():
        if server == NGINX_FRONT and scenario == "gated" and nginx is not None and nginx.rps:
            ratio = load.rps / nginx.rps
            verdict = _verdict(ratio >= FRONT_GATED_VS_NGINX_TARGET)
            lines.append(
                f"nginx front → kp serve {workers}w {database}: gated ÷ nginx static = "
                f"{ratio:.2f} (target ≥ {FRONT_GATED_VS_NGINX_TARGET:.2f}: {verdict})"
            )
        if server != "kp serve" or scenario not in ("public", "gated"):
            continue
        where = f"kp serve {workers}w {database}"
        if scenario == "public" and nginx is not None and nginx.rps:
            ratio = load.rps / nginx.rps
            verdict = _verdict(ratio >= PUBLIC_VS_NGINX_TARGET)
            lines.append(
                f"{where}: public ÷ nginx static = {ratio:.3f} "
                f"(target ≥ {PUBLIC_VS_NGINX_TARGET:.2f}: {verdict})"
            )
        public = by.get((server, workers, database, "public"))
        if scenario == "gated" and public is not None and public.rps:
            ratio = load.rps / public.rps
            verdict = _verdict(ratio >= GATED_VS_PUBLIC_TARGET)
            lines.append(
                f"{where}: gated ÷ public = {ratio:.2f} "
                f"(target ≥ {GATED_VS_PUBLIC_TARGET:.2f}: {verdict})"
            )
        lines.append(
            f"{where}: {scenario} p99 = {load.p99_ms:.1f} ms "
            f"(target ≤ {P99_TARGET_MS:.0f} ms: {_verdict(load.p99_ms <= P99_TARGET_MS)})"
        )
    return lines


def paywall_table(results: list[ScenarioResult], notes: list[str]) -> str:
    header = [
        "server",
        "database",
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "requests",
        "errors",
        "generator",
    ]
    rows = [
        [
            _server(r),
            r.database,
            r.scenario,
            _num(r.load.rps, 0),
            _num(r.load.p50_ms, 1),
            _num(r.load.p99_ms, 1),
            str(r.load.requests),
            str(r.load.errors),
            r.load.generator,
        ]
        for r in results
    ]
    text = "Paywall (loopback; nginx static serves the same built site)\n" + _table(header, rows)
    targets = paywall_targets(results)
    if targets:
        text += "\n\nTargets (issue 15), ratios of this run:\n" + "\n".join(targets)
    return text + "".join(f"\n{note}" for note in notes)
