"""A local Stripe test server: Stripe's API shapes for the parts knowledge-pay uses.

Development (`kp demo`) and the tests point the official SDK at it through `STRIPE_API_BASE`;
it hosts its own checkout and customer-portal pages and delivers webhooks signed exactly as
Stripe signs them. It is a dev/test tool: the product never imports it.

    from stripe_local.server import LocalStripe

    with LocalStripe(webhook_url="http://127.0.0.1:8000/api/stripe/webhook",
                     webhook_secret="whsec_test") as ls:
        client = ls.client()  # StripeClient(ls.api_key, base_addresses={"api": ls.url})
        session = client.v1.checkout.sessions.create({...})
        ls.pay(session.id, email="a@b.test")   # = pressing Pay on session.url; webhooks delivered
        ls.advance(31 * 86400)                 # renewals, period-end cancellations, expiries

For chaos tests: `pause_api()`/`resume_api()` (an unreachable Stripe: `/v1` answers 503),
`retry_schedule=` (failed webhooks redelivered later with backoff, as Stripe does; then given
up), `chaos=Chaos(seed=…)` (duplicates ×1–5, some concurrent, and reordering),
`wait_settled()`, and `payment_link_checkout(price, email)` (a purchase without the site's
metadata).

Layout: `resources/` (one module per family of Stripe objects, each declaring its `/v1`
routes), `api.py` (auth, form decoding, idempotency, expansion, the paused API), `pages.py`
(hosted pages), `webhooks.py` (delivery modes, retries, redelivery, chaos), `timeline.py`
(the clock), `control.py` (`/_local/` test hooks), `server.py` (`LocalStripe`).
`python -m stripe_local --help` runs it standalone.

Deliberate simplifications: no taxes, shipping, trials or prorations; a card declined on the
hosted checkout page shows the error and creates nothing (Stripe would also record a failed
PaymentIntent); subscription sessions take recurring prices only.
"""
