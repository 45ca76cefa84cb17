"""Settings from environment variables (and an optional `.env`), shared by build and paywall.

Every variable is documented in the README. Defaults are the embedded ones: a project in the
current directory, SQLite under `var/`, e-mails to `var/outbox/`, Stripe unconfigured.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kp_contract.public_url import normalize_public_url


class Settings(BaseSettings):
    """Runtime settings. Field names map to the upper-case environment variables in aliases."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    project_dir: Path = Field(default_factory=Path.cwd, alias="KP_PROJECT_DIR")
    site_dir: Path | None = Field(default=None, alias="KP_SITE_DIR")
    private_dir: Path | None = Field(default=None, alias="KP_PRIVATE_DIR")
    var_dir: Path | None = Field(default=None, alias="KP_VAR_DIR")

    database_url: str | None = Field(default=None, alias="KP_DATABASE_URL")
    secret_key: SecretStr | None = Field(default=None, alias="KP_SECRET_KEY")
    base_url: str = Field(default="http://127.0.0.1:8000", alias="KP_BASE_URL")
    """The public URL (kp_contract.public_url): unset, the build's `site_url` stands in
    (`paywall.app.make_paywall`, `kp serve`), then this default."""

    stripe_secret_key: SecretStr | None = Field(default=None, alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")

    smtp_host: str | None = Field(default=None, alias="KP_SMTP_HOST")
    smtp_port: int = Field(default=25, alias="KP_SMTP_PORT")
    smtp_user: str | None = Field(default=None, alias="KP_SMTP_USER")
    smtp_password: SecretStr | None = Field(default=None, alias="KP_SMTP_PASSWORD")
    smtp_starttls: bool = Field(default=False, alias="KP_SMTP_STARTTLS")
    mail_from: str = Field(default="Knowledge Pay <no-reply@localhost>", alias="KP_MAIL_FROM")

    # Request bodies are counted while they stream in and refused with 413 past these
    # (paywall.web.body_limits): the webhook (Stripe's events stay well under 1 MiB), the
    # beacon, and every other body (forms and JSON).
    max_body_bytes: int = Field(default=64 * 1024, alias="KP_MAX_BODY_BYTES", ge=1024)
    max_webhook_bytes: int = Field(default=1024 * 1024, alias="KP_MAX_WEBHOOK_BYTES", ge=1024)
    max_beacon_bytes: int = Field(default=2048, alias="KP_MAX_BEACON_BYTES", ge=256)
    # Seconds a request waits for the database (a SQLite write lock, a PostgreSQL lock, a
    # pooled connection or a database thread) before it is answered 503 with Retry-After.
    db_busy_timeout: float = Field(default=3.0, alias="KP_DB_BUSY_TIMEOUT", gt=0, le=60)

    grace_days: int = Field(default=3, alias="KP_GRACE_DAYS", ge=0)
    admin_emails: str = Field(default="", alias="KP_ADMIN_EMAILS")
    log_level: str = Field(default="INFO", alias="KP_LOG_LEVEL")

    @field_validator("base_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        """One spelling (no trailing slash, lower-case host), so links and the origin check
        compare equal; an unusable URL is an error naming KP_BASE_URL."""
        return normalize_public_url(value)

    def _under_project(self, value: Path | None, default: str) -> Path:
        path = value if value is not None else Path(default)
        return path if path.is_absolute() else (self.project_dir / path).resolve()

    @cached_property
    def site_path(self) -> Path:
        """Public output (`site/`)."""
        return self._under_project(self.site_dir, "site")

    @cached_property
    def private_path(self) -> Path:
        """Full paid lessons and the manifest (`private/`), never public."""
        return self._under_project(self.private_dir, "private")

    @cached_property
    def var_path(self) -> Path:
        """Runtime state: SQLite database, generated secret key, outbox."""
        return self._under_project(self.var_dir, "var")

    @property
    def manifest_path(self) -> Path:
        return self.private_path / "manifest.json"

    @property
    def admin_email_list(self) -> list[str]:
        return [e.strip().lower() for e in self.admin_emails.split(",") if e.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; keyword overrides win (used by tests and the CLI).

    Overrides are named like the environment variables (`KP_PROJECT_DIR=...`), or are the
    settings sources' own options (`_env_file=None`); pydantic validates every value."""
    return Settings(**overrides)
