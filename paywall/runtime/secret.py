"""The server's secret key: `KP_SECRET_KEY`, or one generated once and kept in `var/secret_key`.

Zero-config `kp serve` must not run with a guessable key, and the key must survive restarts
(and be shared by workers on one machine), so it is generated with `secrets` and written with
mode 0600 by whichever process gets there first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from kp_contract.settings import Settings

KEY_FILE = "secret_key"
MIN_LENGTH = 32


class SecretKeyError(RuntimeError):
    """The configured or stored key is unusable (too short, unreadable)."""


def secret_key_path(settings: Settings) -> Path:
    return settings.var_path / KEY_FILE


def load_secret_key(settings: Settings) -> bytes:
    """The configured key, else the stored one, else a new random key stored 0600."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < MIN_LENGTH:
            raise SecretKeyError(
                f"KP_SECRET_KEY is {len(value)} characters long; use at least {MIN_LENGTH} "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        return value.encode("utf-8")
    return _stored_or_new_key(secret_key_path(settings))


def _stored_or_new_key(path: Path) -> bytes:
    """Write the new key to a private temp file, then hard-link it into place: the link fails
    if another process won the race, and nobody ever reads a half-written key."""
    if path.exists():
        return _read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_LENGTH:
        raise SecretKeyError(
            f"{path} holds a key of {len(value)} characters (at least {MIN_LENGTH} needed); "
            "delete the file to have a new one generated"
        )
    return value.encode("ascii")
