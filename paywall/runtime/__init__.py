"""What every part of the paywall runs on: the `Paywall` context (settings, database, clock,
mailer, manifest, Stripe client, hooks), logs, the secret key, the reader's language, the
page shell, URL paths and rate limits."""
