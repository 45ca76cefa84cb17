"""Stripe resources: each module owns one family of objects and declares its `ROUTES`."""
