"""Structured logs (`key=value` lines) that never carry secrets.

Every record passes through `RedactingFilter`, which scrubs magic-link and session tokens,
Stripe keys and webhook secrets, passwords and cookies, and masks e-mail addresses, so a
careless `log.info(...)` cannot leak them. E-mail bodies are never logged (see mailer.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from typing import Any, TextIO

_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # specific shapes first, so the generic name=value rule cannot leave half of one behind
    (re.compile(r"\bt=\d+,v1=[0-9a-f]+(,v\d=[0-9a-f]+)*"), "[redacted-signature]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 [redacted]"),
    (re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9]+"), r"\1_\2_[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9]+"), "whsec_[redacted]"),
    # query/form/cookie/header values of secret-looking names: token=..., password: ...
    (
        re.compile(
            r"(?i)\b(token|kp_session|session|password|passwd|secret|secret_key|api_key"
            r"|authorization|cookie|stripe-signature)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&;,]+)"
        ),
        r"\1\2[redacted]",
    ),
]
_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


def redact(text: str) -> str:
    """Scrub secrets and mask e-mail addresses (`a***@example.com`) in one log line."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _EMAIL.sub(r"\1***@\2", text)


def mask_email(address: str) -> str:
    """`alice@example.com` → `a***@example.com`: enough to correlate, not to harvest."""
    return _EMAIL.sub(r"\1***@\2", address)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message through `redact` (args included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class KeyValueFormatter(logging.Formatter):
    """`ts=… level=… logger=… msg` — the message itself is already `event key=value …`."""

    def format(self, record: logging.LogRecord) -> str:
        ts = dt.datetime.fromtimestamp(record.created, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = f"ts={ts[:-4]}Z level={record.levelname} logger={record.name} {record.getMessage()}"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


def kv(event: str, **fields: Any) -> str:
    """One structured message: `event key=value …`, values with spaces quoted."""
    parts = [event]
    for key, value in fields.items():
        text = "-" if value is None else str(value)
        if not text or any(c.isspace() or c in '"=' for c in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send `paywall.*` and uvicorn logs through one redacting key=value handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    handler.addFilter(RedactingFilter())
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"KP_LOG_LEVEL: unknown level {level!r} (DEBUG, INFO, WARNING, ERROR)")
    for name in ("paywall", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(numeric)
        logger.propagate = False
    # uvicorn's access log prints full query strings (magic-link tokens): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    return handler


def get_logger(name: str) -> logging.Logger:
    """A logger whose records are redacted at the source, whatever handler receives them
    (our stream handler, pytest's caplog, an embedding application's)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
