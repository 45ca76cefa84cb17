"""Alembic migrations of the paywall schema, packaged so `kp db upgrade` works from a wheel."""
