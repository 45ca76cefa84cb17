"""The paywall half of the benchmark: `kp serve` under bounded load over loopback.

Scenarios, each for `duration` seconds against a real `kp serve` process (one uvicorn
worker, as `kp serve` runs by default), on SQLite and on PostgreSQL when 127.0.0.1:5432
answers:
- `gated`: a paid lesson with a valid session of a member entitled to it (checked first: the
  answer holds the paid text, and the same URL without the cookie does not);
- `public`: a free article (a static page);
- `webhook`: distinct, correctly signed `checkout.session.completed` events, each granting a
  course to a buyer (members are created, entitlements written, purchase mails queued).

And, with `through_nginx`, the production shape: the same gated lesson with the same session
through nginx running `kp deploy nginx`'s configuration in front of that `kp serve`
(`auth_request` to the paywall, grants cached by nginx per session and URL), checked the
same way first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.corpus import PAID_MARKER, Corpus
from bench.loadgen import LoadResult, Request, run_load
from bench.measure import stop_process_group
from bench.site_builds import clean_env, kp_executable

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
WEBHOOK_SECRET = "whsec_bench_" + "0" * 24
SCENARIOS = ("gated", "public", "webhook")
EVENTS_PER_SECOND_BUDGET = 1000
"""Distinct webhook events prepared per second of load (several times what one worker
processes; if it were exceeded, later requests would replay events, which the table says)."""


@dataclass(frozen=True)
class ScenarioResult:
    database: str
    scenario: str
    load: LoadResult
    server: str = "kp serve"
    """`kp serve`, `nginx static` (the yardstick) or `nginx front` (`NGINX_FRONT`)."""
    workers: int = 1


NGINX_FRONT = "nginx front"
"""The server of the gated-through-nginx row: `kp deploy nginx`'s configuration in front of
`workers` kp serve workers on `database`."""


def postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(**PG, dbname="postgres", connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextlib.contextmanager
def _database(kind: str, var_dir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{var_dir / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"kp_bench_{secrets.token_hex(4)}"
    with psycopg.connect(**PG, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        with psycopg.connect(**PG, dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    from stripe_local.asgi_thread import free_port

    return free_port()


def _server_env(corpus: Corpus, var_dir: Path, database_url: str, port: int) -> dict[str, str]:
    """No KP_BASE_URL: `kp serve` takes the corpus's site_url (it refuses another one)."""
    env = clean_env()
    env.update(
        {
            "KP_PROJECT_DIR": str(corpus.root),
            "KP_SITE_DIR": str(corpus.root / "site"),
            "KP_PRIVATE_DIR": str(corpus.root / "private"),
            "KP_VAR_DIR": str(var_dir),
            "KP_DATABASE_URL": database_url,
            "KP_SECRET_KEY": secrets.token_hex(32),
            "KP_LOG_LEVEL": "WARNING",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
    )
    for unset in ("STRIPE_SECRET_KEY", "STRIPE_API_BASE", "KP_SMTP_HOST"):
        env.pop(unset, None)
    return env


def _settings(env: dict[str, str]):  # -> kp_contract.settings.Settings
    from kp_contract.settings import load_settings

    keys = ("KP_PROJECT_DIR", "KP_SITE_DIR", "KP_PRIVATE_DIR", "KP_VAR_DIR", "KP_DATABASE_URL")
    values: dict[str, object] = {key: env[key] for key in keys}
    values.update(KP_SECRET_KEY=env["KP_SECRET_KEY"])
    return load_settings(_env_file=None, **values)


def _session_for_entitled_member(env: dict[str, str], requires: list[str]) -> str:
    """Migrate, create a member holding the lesson's entitlement, return a session token."""
    from paywall.app import make_paywall
    from paywall.database.migrate import upgrade
    from paywall.members.entitlements import Desired, set_state
    from paywall.members.records import get_or_create_member
    from paywall.members.sign_in import create_session
    from paywall.runtime.mailer import OutboxMailer

    settings = _settings(env)
    upgrade(settings)
    pw = make_paywall(
        settings, mailer=OutboxMailer(settings.var_path / "outbox", "b@x", console=None)
    )
    try:
        with pw.sessions() as db:
            now = pw.now()
            member = get_or_create_member(db, "reader@bench.example", now=now)
            set_state(
                db,
                member,
                requires[0],
                "complimentary",
                Desired(),
                now=now,
                actor="bench",
                reactivate=True,
            )
            token = create_session(pw, db, member)
            db.commit()
            return token
    finally:
        pw.engine.dispose()


@contextlib.contextmanager
def _kp_serve(env: dict[str, str], port: int, workers: int = 1) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    # Its output goes to a file: a pipe nobody reads fills up (the development mailer prints
    # every purchase mail) and then blocks the server.
    log_path = Path(env["KP_VAR_DIR"]) / "kp-serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [kp_executable(), "serve", "--port", str(port), "--workers", str(workers)],
        cwd=env["KP_PROJECT_DIR"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                err = log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"kp serve exited ({proc.returncode}): {err[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"kp serve did not answer {url}/healthz within 30s")
            time.sleep(0.1)
        yield url
    finally:
        stop_process_group(proc)
        log.close()


def stripe_signature(body: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe sends (v1 = HMAC-SHA256 of "t.body")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_requests(count: int, course: str) -> list[Request]:
    """`count` distinct signed checkout.session.completed events for `course`; 50 buyers,
    so most events extend an existing member (like a real shop), some create one."""
    now = int(time.time())
    requests = []
    for n in range(count):
        event = {
            "id": f"evt_bench_{n:07d}_{secrets.token_hex(4)}",
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": now,
            "livemode": False,
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": f"cs_bench_{n:07d}",
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "complete",
                    "payment_status": "paid",
                    "payment_intent": f"pi_bench_{n:07d}",
                    "customer": f"cus_bench_{n % 50:03d}",
                    "customer_details": {"email": f"buyer{n % 50}@bench.example"},
                    "client_reference_id": None,
                    "metadata": {"kp_product": f"course:{course}"},
                    "amount_total": 4900,
                    "currency": "usd",
                }
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(body, WEBHOOK_SECRET, now),
        }
        requests.append(Request("POST", "/api/stripe/webhook", headers, body))
    return requests


@dataclass(frozen=True)
class Targets:
    gated_url: str
    public_url: str
    course: str
    requires: list[str]


def find_targets(corpus: Corpus) -> Targets:
    from kp_contract.manifest import read_manifest

    manifest = read_manifest(corpus.root / "private" / "manifest.json")
    gated = sorted(manifest.gated.values(), key=lambda page: page.url)
    # A lesson of a generated course: its paid part carries PAID_MARKER.
    lesson = next((page for page in gated if (page.course or "").startswith("course-")), None)
    if lesson is None:
        raise RuntimeError(f"bench: no gated lesson in {corpus.root}/private/manifest.json")
    article = sorted((corpus.root / "site" / "articles").glob("*/index.html"))[0]
    public = "/" + article.parent.relative_to(corpus.root / "site").as_posix() + "/"
    return Targets(lesson.url, public, str(lesson.course), list(lesson.requires))


def _check_answers(url: str, targets: Targets, cookie: str) -> None:
    """The scenarios measure what they claim: full lesson with the session, teaser without."""
    full = httpx.get(url + targets.gated_url, headers={"Cookie": cookie}, timeout=10)
    teaser = httpx.get(url + targets.gated_url, timeout=10)
    if full.status_code != 200 or PAID_MARKER not in full.text:
        raise RuntimeError(
            f"bench: {targets.gated_url} with a session is not the full lesson ({full.status_code})"
        )
    if PAID_MARKER in teaser.text:
        raise RuntimeError(f"bench: {targets.gated_url} without a session shows paid text")
    if httpx.get(url + targets.public_url, timeout=10).status_code != 200:
        raise RuntimeError(f"bench: public page {targets.public_url} does not answer 200")


def measure_database(
    kind: str,
    corpus: Corpus,
    *,
    duration: float,
    connections: int,
    generator: str,
    scenarios: tuple[str, ...],
    progress: Callable[[str], None],
    workers: int = 1,
    through_nginx: bool = False,
) -> list[ScenarioResult]:
    targets = find_targets(corpus)
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="kp-bench-var-") as tmp,
        _database(kind, Path(tmp)) as db_url,
    ):
        port = _free_port()
        env = _server_env(corpus, Path(tmp), db_url, port)
        token = _session_for_entitled_member(env, targets.requires)
        cookie = f"kp_session={token}"
        with _kp_serve(env, port, workers) as url:
            _check_answers(url, targets, cookie)
            plans = {
                "gated": lambda: [Request("GET", targets.gated_url, {"Cookie": cookie})],
                "public": lambda: [Request("GET", targets.public_url)],
                "webhook": lambda: webhook_requests(
                    int(duration * EVENTS_PER_SECOND_BUDGET), targets.course
                ),
            }
            for scenario in scenarios:
                load = run_load(
                    url,
                    plans[scenario](),
                    duration=duration,
                    connections=connections,
                    generator=generator,
                )
                results.append(ScenarioResult(kind, scenario, load, workers=workers))
                if scenario == "webhook" and load.requests > duration * EVENTS_PER_SECOND_BUDGET:
                    progress("  (more requests than distinct events: some were replays)")
                progress(
                    f"  {kind:<10} {workers}w {scenario:<8} {load.rps:8.0f} req/s"
                    f"  p50 {load.p50_ms:6.1f} ms"
                    f"  p99 {load.p99_ms:6.1f} ms  errors {load.errors}  ({load.generator})"
                )
            if through_nginx:
                results.append(
                    measure_nginx_gated(
                        env,
                        port,
                        targets,
                        cookie,
                        kind=kind,
                        workers=workers,
                        duration=duration,
                        connections=connections,
                        generator=generator,
                        progress=progress,
                    )
                )
    return results


def measure_nginx_gated(
    env: dict[str, str],
    upstream_port: int,
    targets: Targets,
    cookie: str,
    *,
    kind: str,
    workers: int,
    duration: float,
    connections: int,
    generator: str,
    progress: Callable[[str], None],
) -> ScenarioResult:
    """The gated lesson with `cookie` through nginx with `kp deploy nginx`'s configuration
    in front of the running `kp serve` (its port), after checking that nginx gives that
    session the full lesson and the same URL without it the teaser."""
    from bench.nginx_static import nginx_front

    with nginx_front(env, [f"127.0.0.1:{upstream_port}"], _free_port()) as url:
        _check_answers(url, targets, cookie)
        load = run_load(
            url,
            [Request("GET", targets.gated_url, {"Cookie": cookie})],
            duration=duration,
            connections=connections,
            generator=generator,
        )
    progress(
        f"  nginx front {kind:<10} {workers}w gated {load.rps:8.0f} req/s"
        f"  p50 {load.p50_ms:6.1f} ms  p99 {load.p99_ms:6.1f} ms  errors {load.errors}"
        f"  ({load.generator})"
    )
    return ScenarioResult(kind, "gated", load, server=NGINX_FRONT, workers=workers)


def measure_nginx_static(
    corpus: Corpus,
    *,
    duration: float,
    connections: int,
    generator: str,
    progress: Callable[[str], None],
) -> ScenarioResult:
    """nginx serving the same built site and the same public page as `kp serve` does."""
    from bench.nginx_static import nginx_serving

    targets = find_targets(corpus)
    with nginx_serving(corpus.root / "site", _free_port()) as url:
        if httpx.get(url + targets.public_url, timeout=10).status_code != 200:
            raise RuntimeError(f"bench: nginx does not serve {targets.public_url}")
        load = run_load(
            url,
            [Request("GET", targets.public_url)],
            duration=duration,
            connections=connections,
            generator=generator,
        )
    progress(
        f"  nginx static  public   {load.rps:8.0f} req/s  p50 {load.p50_ms:6.1f} ms"
        f"  p99 {load.p99_ms:6.1f} ms  errors {load.errors}  ({load.generator})"
    )
    return ScenarioResult("-", "public", load, server="nginx static", workers=0)


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
