"""Outgoing e-mail: the development outbox (files in `var/outbox/` + console) or real SMTP.

With no SMTP settings the paywall still works end to end: every message is written as an
`.eml` file a developer (or a test) can open, and echoed to the console so the magic link can
be clicked. `KP_SMTP_HOST` switches to `smtplib` (STARTTLS and login optional).
"""

from __future__ import annotations

import itertools
import smtplib
import ssl
import sys
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import TextIO

from kp_contract.settings import Settings
from paywall.runtime.logs import get_logger

log = get_logger("paywall.runtime.mailer")


class MailError(RuntimeError):
    """The message could not be handed to the mail system (SMTP refused, unreachable...)."""


def build_message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    *,
    eight_bit: bool = False,
) -> EmailMessage:
    """One RFC 5322 message: plain text, plus an HTML alternative when given. `eight_bit`
    writes the parts as plain UTF-8 (`Content-Transfer-Encoding: 8bit`) instead of
    quoted-printable, so the outbox reads in a text editor with every link whole (no `=3D`,
    no soft line breaks); a part with a line too long for 8bit keeps the default."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text, cte=_transfer_encoding(text, eight_bit))
    if html is not None:
        msg.add_alternative(html, subtype="html", cte=_transfer_encoding(html, eight_bit))
    return msg


# RFC 5322's limit on a line, CRLF excluded: what an 8bit part may carry.
_MAX_8BIT_LINE = 998


def _transfer_encoding(body: str, eight_bit: bool) -> str | None:
    """`8bit` when asked for and every line fits; None lets `email` choose (QP, base64)."""
    lines = body.splitlines() or [""]
    if eight_bit and max(len(line.encode("utf-8")) for line in lines) <= _MAX_8BIT_LINE:
        return "8bit"
    return None


def _safe_name(address: str) -> str:
    """File-name-safe form of an address, so the outbox is easy to browse."""
    return "".join(c if c.isalnum() or c in "@.-_" else "_" for c in address)[:80]


class OutboxMailer:
    """Writes each message to `outbox_dir` as `.eml` (8-bit UTF-8 parts, readable as text);
    optionally echoes it to a console."""

    _seq = itertools.count()

    def __init__(self, outbox_dir: Path, sender: str, console: TextIO | None = sys.stderr) -> None:
        self.outbox_dir = outbox_dir
        self.sender = sender
        self.console = console
        self._lock = threading.Lock()

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        msg = build_message(self.sender, to, subject, text, html, headers, eight_bit=True)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{next(self._seq):06d}-{_safe_name(to)}.eml"
        path = self.outbox_dir / name
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(msg))
        tmp.replace(path)
        log.info("mail.outbox file=%s subject=%r", path.name, subject)
        if self.console is not None:
            self._echo(self.console, to, subject, text)

    def _echo(self, console: TextIO, to: str, subject: str, text: str) -> None:
        """Development convenience: the whole text so a magic link can be clicked."""
        with self._lock:
            bar = "-" * 72
            print(f"{bar}\nTo: {to}\nSubject: {subject}\n\n{text}\n{bar}", file=console)
            console.flush()


class SmtpMailer:
    """Delivers through an SMTP server with `smtplib` (STARTTLS and AUTH when configured)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 15.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.user = user
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.tls_context = tls_context

    def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        msg = build_message(self.sender, to, subject, text, html, headers)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                    smtp.ehlo()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail.smtp_failed host=%s port=%s error=%s", self.host, self.port, exc)
            raise MailError(
                f"SMTP {self.host}:{self.port} did not accept the message: {exc}"
            ) from exc
        log.info("mail.smtp_sent host=%s subject=%r", self.host, subject)


def mailer_from_settings(settings: Settings) -> OutboxMailer | SmtpMailer:
    """SMTP when `KP_SMTP_HOST` is set, else the development outbox under `var/outbox/`."""
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            user=settings.smtp_user,
            password=password,
            starttls=settings.smtp_starttls,
        )
    return OutboxMailer(settings.var_path / "outbox", settings.mail_from)
