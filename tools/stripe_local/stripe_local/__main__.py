"""`python -m stripe_local --port 12111 --webhook-url URL --webhook-secret S`

Chaos from the command line too: `--retry-schedule 0.5,1,2,4` (redeliver failed webhooks
after those delays, then give up), `--chaos-seed 7` (duplicates and reordering),
`--delivery-concurrency 16`; `curl -X POST …/_local/pause_api` pauses the API.
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from stripe_local.server import DEFAULT_API_KEY, LocalStripe
from stripe_local.webhooks import Chaos


def _delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 0.5,1,2, not {text!r}") from None
    if any(delay < 0 for delay in delays):
        raise argparse.ArgumentTypeError("delays cannot be negative")
    return delays


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m stripe_local", description="Run the local Stripe test server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="secret key clients must use")
    parser.add_argument("--webhook-url", help="deliver events here (e.g. the paywall's webhook)")
    parser.add_argument(
        "--webhook-secret",
        default=os.environ.get("STRIPE_WEBHOOK_SECRET"),
        help="signing secret for --webhook-url (default: $STRIPE_WEBHOOK_SECRET)",
    )
    parser.add_argument("--delivery", choices=("sync", "async", "hold"), default="sync")
    parser.add_argument(
        "--retry-schedule",
        type=_delays,
        default=(),
        help="seconds between redeliveries of a failed webhook, e.g. 0.5,1,2,4 (default: none)",
    )
    parser.add_argument(
        "--delivery-concurrency", type=int, default=1, help="deliveries in flight at once (1)"
    )
    parser.add_argument(
        "--chaos-seed",
        type=int,
        default=None,
        help="deliver with duplicates and reordering, decided by this seed (default: off)",
    )
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret (or STRIPE_WEBHOOK_SECRET)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    local = LocalStripe(
        args.webhook_url,
        args.webhook_secret,
        args.delivery,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        retry_schedule=args.retry_schedule,
        delivery_concurrency=args.delivery_concurrency,
        chaos=None if args.chaos_seed is None else Chaos(seed=args.chaos_seed),
    )
    print(f"stripe_local on http://{args.host}:{args.port}  (STRIPE_API_BASE)", file=sys.stderr)
    if args.webhook_url:
        print(f"delivering webhooks to {args.webhook_url}", file=sys.stderr)
    uvicorn.run(local.app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
