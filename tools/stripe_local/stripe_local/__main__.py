"""`python -m stripe_local --port 12111 --webhook-url URL --webhook-secret S`"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from stripe_local.server import DEFAULT_API_KEY, LocalStripe


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
    )
    print(f"stripe_local on http://{args.host}:{args.port}  (STRIPE_API_BASE)", file=sys.stderr)
    if args.webhook_url:
        print(f"delivering webhooks to {args.webhook_url}", file=sys.stderr)
    uvicorn.run(local.app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
