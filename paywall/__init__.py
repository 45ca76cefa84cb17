"""Paying half: ASGI app serving site/ and gating private/ with Stripe-backed entitlements."""
