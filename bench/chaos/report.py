"""The chaos suite's one table, and the evidence for each failure under it."""

from __future__ import annotations

from bench.chaos.run import RunResult

MAX_FINDINGS_SHOWN = 25


def _n(value: int) -> str:
    return f"{value:,}"


def rows(result: RunResult) -> list[tuple[str, str]]:
    stats, verdict = result.stats, result.verdict
    outages = ", ".join(
        f"{kind} {result.outages.get(kind, 0)} ({result.outage_seconds.get(kind, 0.0):.0f} s)"
        for kind in ("stripe", "database")
    )
    outside_5xx = result.responses_5xx - result.responses_5xx_in_outages
    return [
        ("buyers", f"{_n(result.config.buyers)} (seed {result.config.seed}, {result.ticks} ticks)"),
        ("database", result.database_label),
        ("events created", _n(result.events)),
        (
            "deliveries made",
            f"{_n(stats.attempts)} ({_n(stats.duplicates)} duplicates; "
            f"{_n(stats.deliveries)} event × endpoint)",
        ),
        (
            "deliveries answered 5xx",
            f"{_n(result.responses_5xx)} ({_n(result.responses_5xx_in_outages)} during outages, "
            f"{_n(outside_5xx)} outside)",
        ),
        (
            "deliveries without an answer",
            f"{_n(result.no_answer)} ({_n(result.no_answer_in_outages)} during outages)",
        ),
        ("deliveries given up", _n(stats.given_up)),
        (
            "settled (all 2xx or given up)",
            "yes" if result.settled else f"NO ({stats.pending} pending)",
        ),
        ("outages", outages),
        ("Stripe API requests refused", _n(result.api_refused)),
        (
            "grants expected / present",
            f"{_n(verdict.expected_grants)} / {_n(verdict.present_grants)}",
        ),
        ("lost", _n(verdict.count("lost"))),
        ("doubled", _n(verdict.count("doubled"))),
        ("wrong final states", _n(verdict.count("wrong"))),
        ("peak server memory", f"{result.peak_memory_kib / 1024:.0f} MiB (kp serve, VmHWM)"),
        (
            "CPU time",
            f"kp serve {result.server_cpu_seconds:.0f} s, this process (local Stripe, "
            f"buyers) {result.suite_cpu_seconds:.0f} s",
        ),
        (
            "wall time",
            f"{result.wall_seconds:.0f} s"
            + (" (time limit reached)" if result.time_limit_hit else ""),
        ),
    ]


def table(result: RunResult) -> str:
    body = rows(result)
    left = max(len(name) for name, _ in body)
    right = max(len(value) for _, value in body)
    rule = f"+-{'-' * left}-+-{'-' * right}-+"
    lines = [rule, f"| {'bench.chaos'.ljust(left)} | {'result'.ljust(right)} |", rule]
    lines += [f"| {name.ljust(left)} | {value.ljust(right)} |" for name, value in body]
    lines.append(rule)
    return "\n".join(lines)


def details(result: RunResult) -> str:
    """What went wrong, buyer by buyer, with the events and the paywall's outcomes."""
    out: list[str] = []
    findings = result.verdict.findings
    if findings:
        out.append(
            f"{len(findings)} finding(s); the first {min(len(findings), MAX_FINDINGS_SHOWN)}:"
        )
        for finding in findings[:MAX_FINDINGS_SHOWN]:
            out.append(
                f"- {finding.kind.upper()} buyer {finding.buyer} {finding.email} "
                f"[{finding.scenario}]: {finding.detail}"
            )
            out.extend(f"    {line}" for line in finding.evidence)
    if result.server_exit is not None:
        out.append(f"kp serve ended during the run (exit status {result.server_exit})")
    if result.outage_errors:
        out.append("outage errors: " + "; ".join(result.outage_errors[:10]))
    if result.buyer_errors:
        out.append(f"{len(result.buyer_errors)} buyer step(s) failed:")
        out.extend(f"- {error}" for error in result.buyer_errors[:MAX_FINDINGS_SHOWN])
    if result.buyer_counts:
        shown = ", ".join(f"{name}: {n}" for name, n in sorted(result.buyer_counts.items()))
        out.append(f"buyers' side: {shown}")
    if result.server_log_tail:
        out.append("kp serve's log (tail):")
        out.extend(f"    {line}" for line in result.server_log_tail.splitlines())
    return "\n".join(out)


def render(result: RunResult) -> str:
    extra = details(result)
    return table(result) + ("\n\n" + extra if extra else "")
