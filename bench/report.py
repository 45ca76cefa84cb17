"""The benchmark's tables: plain text, aligned, readable in a terminal and in the README."""

from __future__ import annotations

from bench.paywall_load import ScenarioResult
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


def paywall_table(results: list[ScenarioResult], notes: list[str]) -> str:
    header = [
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
    text = "Paywall (kp serve, 1 worker, loopback)\n" + _table(header, rows)
    return text + "".join(f"\n{note}" for note in notes)
