"""Selling through Stripe: Checkout Sessions, the verified webhook (verify, record once, apply)
and the fulfilment handlers that turn events into entitlements; `kp stripe sync`."""
