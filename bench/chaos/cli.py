"""`python -m bench.chaos` (or `make chaos`): money is never lost or doubled.

    python -m bench.chaos                                 # 1,000 buyers, private PostgreSQL
    python -m bench.chaos --buyers 50 --database sqlite --time-limit 120
    python -m bench.chaos --seed 3 --keep /tmp/chaos-run   # keep kp serve's log and the data

Exit status: 0 when nothing was lost, doubled or left in a wrong state and every delivery
settled; 1 when anything was lost, doubled or wrong; 2 when the run did not finish (time
limit reached, deliveries still pending) but found nothing wrong in what it checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stripe_local.webhooks import Chaos

from bench.chaos.report import render
from bench.chaos.run import ChaosConfig, run_chaos


def _pair(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX seconds, not {text!r}") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= MIN <= MAX, not {text!r}")
    return pair


def _weights(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected weights like 0.5,0.3,0.2, not {text!r}"
        ) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos",
        description="Buyers, duplicated and reordered webhooks, Stripe and database outages; "
        "then every buyer's Stripe truth against the paywall's database.",
    )
    parser.add_argument("--buyers", type=int, default=1000, help="how many buyers (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of every random choice (7)")
    parser.add_argument(
        "--database",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="a private PostgreSQL cluster started for the run (default), or a SQLite file",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds for the whole run (default: 60 + 0.85 per buyer, at most 900)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="buyers at a time (16)")
    parser.add_argument(
        "--per-tick", type=int, default=40, help="buyers arriving per tick of the clock (40)"
    )
    parser.add_argument(
        "--tick-seconds", type=float, default=0.3, help="shortest wall time of a tick (0.3)"
    )
    parser.add_argument(
        "--outage-gap", type=_pair, default=(2.0, 8.0), help="seconds between outages (2,8)"
    )
    parser.add_argument(
        "--outage-length", type=_pair, default=(1.0, 4.0), help="seconds an outage lasts (1,4)"
    )
    parser.add_argument(
        "--align",
        type=float,
        default=0.05,
        help="chance that a payment, refund or clock step starts an outage at once (0.05)",
    )
    parser.add_argument(
        "--copies",
        type=_weights,
        default=Chaos().copies,
        help="weights of delivering each event 1, 2, … times (0.5,0.2,0.15,0.1,0.05)",
    )
    parser.add_argument(
        "--concurrent",
        type=float,
        default=Chaos().concurrent,
        help="share of duplicates sent at the same moment as the first copy (0.5)",
    )
    parser.add_argument(
        "--reorder-window", type=int, default=Chaos().window, help="events reordered within (8)"
    )
    parser.add_argument(
        "--project", type=Path, default=None, help="an already built copy of the example site"
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep kp serve's log and the data in this folder"
    )
    args = parser.parse_args(argv)
    if args.buyers < 1:
        parser.error("--buyers must be at least 1")
    if args.time_limit is None:
        args.time_limit = min(900.0, 60 + 0.85 * args.buyers)
    return args


def config_from(args: argparse.Namespace) -> ChaosConfig:
    chaos = Chaos(
        seed=args.seed,
        copies=args.copies,
        concurrent=args.concurrent,
        window=args.reorder_window,
    )
    return ChaosConfig(
        buyers=args.buyers,
        seed=args.seed,
        database=args.database,
        time_limit=args.time_limit,
        concurrency=args.concurrency,
        per_tick=args.per_tick,
        tick_seconds=args.tick_seconds,
        outage_gap=args.outage_gap,
        outage_length=args.outage_length,
        align=args.align,
        chaos=chaos,
        project=args.project,
        keep=args.keep,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run_chaos(config_from(args))
    except KeyboardInterrupt:
        print("bench.chaos: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    shown = render(result)
    print(shown)
    if args.keep is not None:
        (args.keep / "table.txt").write_text(shown + "\n", encoding="utf-8")
    if result.failures:
        return 1
    if not result.settled or result.time_limit_hit:
        return 2
    return 0
