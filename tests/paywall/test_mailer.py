"""Outgoing mail: the development outbox, and real SMTP (plain, STARTTLS, AUTH) against an
aiosmtpd server on loopback — including the sign-in flow through the app."""

from __future__ import annotations

import email
import email.policy
import io
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from stripe_local.asgi_thread import ServerThread, free_port

from kp_contract.settings import load_settings
from paywall.runtime.mailer import MailError, OutboxMailer, SmtpMailer, mailer_from_settings

from .conftest import open_magic_link

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
USER, PASSWORD = "mailuser", "mail-password-1"


@dataclass
class Inbox:
    """What the SMTP server accepted."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], bool]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), bool(session.authenticated))
        )
        return "250 Message accepted"


def authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN201
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    )
    # handled=False: the server itself answers 535 on failure
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl CLI)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate for STARTTLS")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def start(inbox: Inbox, **kwargs: object) -> Controller:
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


@pytest.fixture
def plain_smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = start(inbox)
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def tls_smtp(tls_files: tuple[Path, Path]) -> Iterator[tuple[Inbox, int, ssl.SSLContext]]:
    """Requires STARTTLS before MAIL and AUTH (like a real submission server)."""
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = start(
        inbox,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    client_ctx = ssl.create_default_context(cafile=str(cert))
    yield inbox, controller.port, client_ctx
    controller.stop()


def test_plain_smtp_delivers_text_and_html(plain_smtp) -> None:
    inbox, port = plain_smtp
    SmtpMailer("127.0.0.1", port, "Shop <shop@example.com>").send(
        "reader@example.com",
        "Hello",
        "plain body",
        html="<p>html body</p>",
        headers={"X-KP-Reason": "login"},
    )
    (msg,) = inbox.messages
    assert msg["To"] == "reader@example.com"
    assert msg["From"] == "Shop <shop@example.com>"
    assert msg["Subject"] == "Hello"
    assert msg["X-KP-Reason"] == "login"
    assert msg["Message-ID"].endswith("@example.com>")
    assert msg.get_body(("plain",)).get_content().strip() == "plain body"
    assert msg.get_body(("html",)).get_content().strip() == "<p>html body</p>"
    assert inbox.envelopes[0][:2] == ("shop@example.com", ["reader@example.com"])


def test_starttls_and_login(tls_smtp) -> None:
    inbox, port, ctx = tls_smtp
    mailer = SmtpMailer(
        "127.0.0.1",
        port,
        "shop@example.com",
        user=USER,
        password=PASSWORD,
        starttls=True,
        tls_context=ctx,
    )
    mailer.send("a@example.com", "Secure", "over TLS")
    assert [m["Subject"] for m in inbox.messages] == ["Secure"]
    assert inbox.envelopes[0][2] is True  # authenticated


def test_wrong_password_is_a_mail_error(tls_smtp) -> None:
    inbox, port, ctx = tls_smtp
    mailer = SmtpMailer(
        "127.0.0.1",
        port,
        "shop@example.com",
        user=USER,
        password="wrong",
        starttls=True,
        tls_context=ctx,
    )
    with pytest.raises(MailError, match=f"127.0.0.1:{port}"):
        mailer.send("a@example.com", "x", "y")
    assert inbox.messages == []


def test_server_requiring_starttls_refuses_plain_client(tls_smtp) -> None:
    inbox, port, _ = tls_smtp
    with pytest.raises(MailError):
        SmtpMailer("127.0.0.1", port, "shop@example.com").send("a@example.com", "x", "y")
    assert inbox.messages == []


def test_unreachable_server_is_a_mail_error() -> None:
    port = free_port()
    with pytest.raises(MailError, match=f"SMTP 127.0.0.1:{port}"):
        SmtpMailer("127.0.0.1", port, "shop@example.com", timeout=3).send("a@x.com", "s", "t")


def test_outbox_writes_eml_files_and_echoes_to_console(tmp_path: Path) -> None:
    console = io.StringIO()
    mailer = OutboxMailer(tmp_path / "outbox", "shop@example.com", console=console)
    mailer.send("a@example.com", "First", "body one")
    mailer.send("b@example.com", "Second", "body two https://x/y")
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    msg = email.message_from_bytes(files[1].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "b@example.com" and msg["Subject"] == "Second"
    assert "body two https://x/y" in msg.get_body(("plain",)).get_content()
    assert "To: b@example.com" in console.getvalue()
    assert "https://x/y" in console.getvalue()
    assert not list((tmp_path / "outbox").glob("*.tmp"))


def test_mailer_from_settings(tmp_path: Path) -> None:
    base = {"_env_file": None, "KP_PROJECT_DIR": tmp_path}
    outbox = mailer_from_settings(load_settings(**base))
    assert isinstance(outbox, OutboxMailer)
    assert outbox.outbox_dir == tmp_path / "var" / "outbox"
    smtp = mailer_from_settings(
        load_settings(
            **base,
            KP_SMTP_HOST="mail.example.com",
            KP_SMTP_PORT=587,
            KP_SMTP_USER="u",
            KP_SMTP_PASSWORD="p",
            KP_SMTP_STARTTLS=True,
        )
    )
    assert isinstance(smtp, SmtpMailer)
    assert (smtp.host, smtp.port, smtp.user, smtp.password, smtp.starttls) == (
        "mail.example.com",
        587,
        "u",
        "p",
        True,
    )


@SQLITE_ONLY
def test_sign_in_through_the_app_over_real_smtp(settings, server_port: int, tls_smtp) -> None:
    """KP_SMTP_* settings alone switch the app to SMTP: the link arrives there and works."""
    import httpx

    from paywall.app import create_app

    inbox, port, ctx = tls_smtp
    smtp_settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_user": USER,
            "smtp_password": __import__("pydantic").SecretStr(PASSWORD),
            "smtp_starttls": True,
        }
    )
    app = create_app(smtp_settings)
    app.state.paywall.mailer.tls_context = ctx  # trust the test certificate
    thread = ServerThread(app, port=server_port).start()
    try:
        with httpx.Client(base_url=thread.url, headers={"Origin": thread.url}) as c:
            assert c.post("/api/login", data={"email": "smtp@example.com"}).status_code == 200
            (msg,) = inbox.messages
            body = msg.get_body(("plain",)).get_content()
            link = next(w for w in body.split() if "/api/login/callback?token=" in w)
            r = open_magic_link(c, link)
            assert r.status_code == 303
            assert c.get("/api/me").json()["email"] == "smtp@example.com"
        assert not (smtp_settings.var_path / "outbox").exists()
    finally:
        thread.stop()


@SQLITE_ONLY
def test_smtp_down_gives_a_clear_503(settings, server_port: int) -> None:
    import httpx

    from paywall.app import create_app

    down = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    thread = ServerThread(create_app(down), port=server_port).start()
    try:
        with httpx.Client(base_url=thread.url, headers={"Origin": thread.url}) as c:
            r = c.post("/api/login", data={"email": "x@example.com"})
            assert r.status_code == 503
            assert "could not be sent" in r.text
    finally:
        thread.stop()


def test_outbox_files_read_whole_in_a_text_editor(tmp_path: Path) -> None:
    """Issue 16: quoted-printable broke links across lines and showed `=3D`. The outbox is
    8-bit UTF-8: the link and the Chinese text are in the file as they are in the mail."""
    from paywall.members.sign_in import login_email

    link = (
        "http://127.0.0.1:8123/api/login/callback?token="
        "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8&lang=zh&next=%2Fzh%2Fpricing%2F"
    )
    subject, text = login_email("知识火箭", link, "login", "zh")
    html = f'<p><a href="{link}">登录</a></p>'
    OutboxMailer(tmp_path, "shop@example.com", console=None).send(
        "a@example.com", subject, text, html
    )
    (path,) = tmp_path.glob("*.eml")
    raw = path.read_bytes().decode("utf-8")  # what an editor shows
    assert f"\n{link}\n" in raw.replace("\r\n", "\n"), "the link on one line of its own"
    assert f'href="{link}"' in raw
    assert "=3D" not in raw and "quoted-printable" not in raw and "base64" not in raw
    assert "请使用以下链接登录" in raw
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg.get_body(("plain",)).get_content() == text  # still a valid message


def test_a_line_too_long_for_8bit_keeps_a_transfer_encoding(tmp_path: Path) -> None:
    long_line = "词" * 400  # 1,200 bytes of UTF-8: over 8bit's 998
    OutboxMailer(tmp_path, "shop@example.com", console=None).send("a@x.test", "s", long_line)
    (path,) = tmp_path.glob("*.eml")
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
    assert msg.get_body(("plain",)).get_content().strip() == long_line
