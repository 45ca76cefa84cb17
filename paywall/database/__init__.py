"""The paywall's database: engine from `KP_DATABASE_URL`, tables, race-safe upserts and the
Alembic migrations (`kp db upgrade`)."""
