"""One chaos run, start to end: everything set up, the buyers and the outages let loose, the
dust left to settle, every buyer's truth compared with the paywall's database.

    result = run_chaos(ChaosConfig(buyers=16, database="sqlite", seed=3))
    print(render(result))

The pieces, all on 127.0.0.1: the example site built once; the local Stripe server in this
process (async delivery with chaos: duplicates ×1–5, some concurrent, reordering; failed
deliveries redelivered on a backoff schedule, as Stripe does); the private PostgreSQL
cluster (or a SQLite file); `kp serve` in its own process. Time on the Stripe side moves in
ticks (`tick_days` per tick): each tick every buyer takes its next step (16 at a time), then
the clock is advanced, so renewals, failed-payment retries and period-end cancellations fall
due between steps. Outages come at random moments throughout.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import ssl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

import httpx
from sqlalchemy import Engine
from stripe_local.asgi_thread import free_port
from stripe_local.server import LocalStripe
from stripe_local.webhooks import Chaos, DeliveryStats, backoff_schedule

from bench.chaos.buyers import Buyer, Catalog, World, make_buyers
from bench.chaos.outages import DatabaseSwitch, OutageInjector, PostgresSwitch, SqliteSwitch
from bench.chaos.paywall_server import (
    MemorySampler,
    built_for,
    paywall_env,
    prepare_project,
    serve_paywall,
)
from bench.chaos.postgres import PrivateCluster
from bench.chaos.truth import expected_for_session
from bench.chaos.verify import Purchase, Verdict, read_paywall, verify
from kp_contract.manifest import Manifest, read_manifest
from kp_contract.settings import load_settings
from paywall.database.engine import make_engine

WEBHOOK_SECRET = "whsec_chaos_" + "0" * 24
DAY = 86_400
#: 5xx answers this long after an outage ended still count as "during" it: the paywall may
#: have been inside the SDK's retries (0.5 s, then 1 s) or its database pool's reconnect.
OUTAGE_GRACE = 3.0


@dataclass(frozen=True)
class ChaosConfig:
    buyers: int = 1000
    seed: int = 7
    database: str = "postgres"  # postgres | sqlite
    time_limit: float = 900.0
    concurrency: int = 16
    per_tick: int = 40  # buyers arriving per tick (the arrivals span buyers / per_tick ticks)
    tick_days: float = 3.0  # Stripe's failed-payment retries are 3 days apart
    tick_seconds: float = 0.3  # the shortest wall time of a tick
    outage_gap: tuple[float, float] = (2.0, 8.0)
    outage_length: tuple[float, float] = (1.0, 4.0)
    align: float = 0.05
    chaos: Chaos = field(default_factory=Chaos)
    retry_schedule: tuple[float, ...] = backoff_schedule(0.25, 1.6, 14)
    retry_cap: float = 240.0
    delivery_concurrency: int = 32
    delivery_timeout: float = 10.0
    project: Path | None = None  # an already built copy of the example site
    keep: Path | None = None  # keep the evidence here (see README: --keep)
    log: Callable[[str], None] = print


@dataclass
class RunResult:
    config: ChaosConfig
    database_label: str
    verdict: Verdict
    stats: DeliveryStats
    events: int
    responses_5xx: int
    responses_5xx_in_outages: int
    no_answer: int
    no_answer_in_outages: int
    api_refused: int
    outages: Counter[str]
    outage_seconds: dict[str, float]
    outage_errors: list[str]
    peak_memory_kib: int
    server_cpu_seconds: float
    suite_cpu_seconds: float
    wall_seconds: float
    ticks: int
    settled: bool
    time_limit_hit: bool
    scenario_counts: Counter[str]
    buyer_counts: Counter[str]
    buyer_errors: list[str]
    server_log_tail: str = ""
    server_exit: int | None = None  # kp serve's exit status if it ended during the run

    @property
    def failures(self) -> int:
        return (
            self.verdict.count("lost") + self.verdict.count("doubled") + self.verdict.count("wrong")
        )


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into the same clean-up path as Ctrl-C."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _database(
    config: ChaosConfig, work: Path, stack: contextlib.ExitStack
) -> tuple[str, str, DatabaseSwitch]:
    """(URL, label, outage switch) for the chosen database, cleaned up by `stack`."""
    if config.database == "sqlite":
        path = work / "var" / "paywall.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}", f"sqlite ({path.name})", SqliteSwitch(str(path))
    if config.database != "postgres":
        raise ValueError(f"--database postgres|sqlite, not {config.database!r}")
    cluster = stack.enter_context(PrivateCluster.create())
    label = f"postgresql (private cluster, 127.0.0.1:{cluster.port})"
    return cluster.url, label, PostgresSwitch(cluster)


def _sync_catalog(ls: LocalStripe, manifest: Manifest) -> dict[str, str]:
    """Products and prices of the build in the local Stripe server, as `kp stripe sync`
    makes them; lookup key → price id."""
    from paywall.billing.stripe_sync import sync_catalog

    sync_catalog(ls.client(), manifest)
    with ls.store.lock:
        return {p["lookup_key"]: p["id"] for p in ls.store.all("price") if p.get("lookup_key")}


def run_chaos(config: ChaosConfig) -> RunResult:
    started = time.monotonic()
    cpu_started = time.process_time()
    deadline = started + config.time_limit
    log = config.log
    with contextlib.ExitStack() as stack, _sigterm_as_interrupt():
        work = Path(tempfile.mkdtemp(prefix="kp-chaos-"))
        stack.callback(shutil.rmtree, work, True)
        port = free_port()
        paywall_url = f"http://127.0.0.1:{port}"
        project = config.project
        if project is None:
            log("chaos: building the example site …")
            project = prepare_project(work / "project", paywall_url)
        else:
            project = built_for(project, paywall_url)
        manifest = read_manifest(project / "private" / "manifest.json")
        database_url, database_label, switch = _database(config, work, stack)
        log(f"chaos: database {database_label}")
        ls = LocalStripe(
            delivery="async",
            max_attempts=1,
            retry_schedule=config.retry_schedule,
            retry_cap=config.retry_cap,
            delivery_concurrency=config.delivery_concurrency,
            delivery_timeout=config.delivery_timeout,
            chaos=config.chaos,
        )
        stack.enter_context(ls)
        catalog = Catalog.from_manifest(manifest, _sync_catalog(ls, manifest))
        ls.set_webhook(f"{paywall_url}/api/stripe/webhook", WEBHOOK_SECRET)
        env = paywall_env(
            project=project,
            var_dir=work / "var",
            database_url=database_url,
            port=port,
            stripe_url=ls.url,
            stripe_key=ls.api_key,
            webhook_secret=WEBHOOK_SECRET,
        )
        server = stack.enter_context(serve_paywall(env, port))
        log(f"chaos: paywall (kp serve, pid {server.pid}) on {paywall_url}, Stripe on {ls.url}")
        injector = OutageInjector(
            ls,
            switch,
            seed=config.seed,
            gap=config.outage_gap,
            duration=config.outage_length,
            log=log,
        )
        http = stack.enter_context(
            httpx.Client(
                follow_redirects=False,
                timeout=30,
                trust_env=False,
                verify=ssl.create_default_context(),
                headers={"Origin": paywall_url},
                limits=httpx.Limits(max_connections=config.concurrency * 2),
            )
        )
        world = World(ls, paywall_url, catalog, injector.trigger, config.align, http)
        arrival_ticks = max(1, -(-config.buyers // config.per_tick))
        buyers = make_buyers(config.buyers, config.seed, arrival_ticks)
        scenario_deadline = started + config.time_limit * 0.7
        injector.start()
        try:
            ticks, time_limit_hit = _play(config, world, buyers, scenario_deadline)
        finally:
            injector.stop()
        log(f"chaos: {ticks} ticks played; waiting for every delivery to settle …")
        settle_for = max(5.0, deadline - time.monotonic() - 15)
        settled = ls.wait_settled(settle_for)
        server.memory.stop()
        log("chaos: comparing every buyer's truth with the paywall's database …")
        purchases = [
            Purchase(
                b.index, b.email, b.scenario.name, expected_for_session(ls, manifest, b.session)
            )
            for b in buyers
            if b.session is not None
        ]
        settings = load_settings(
            _env_file=None, KP_DATABASE_URL=database_url, KP_VAR_DIR=work / "var"
        )
        engine = make_engine(settings)
        try:
            windows = [(o.kind, o.start, o.end + 0.5) for o in injector.outages]
            verdict = verify(ls, engine, purchases, windows)
            if config.keep is not None:
                _keep_paywall_tables(config.keep, engine)
        finally:
            engine.dispose()
        result = _result(
            config,
            database_label,
            verdict,
            ls,
            injector,
            server.memory,
            time.process_time() - cpu_started,
            time.monotonic() - started,
            ticks,
            settled,
            time_limit_hit,
            buyers,
            world,
        )
        result.server_exit = server.process.poll()
        if result.failures or not settled or result.server_exit is not None:
            result.server_log_tail = server.log_tail(60)
        if config.keep is not None:
            _keep(config.keep, work, ls, injector, verdict)
        return result


def _keep_paywall_tables(folder: Path, engine: Engine) -> None:
    """The paywall's `stripe_events` (without payloads) and `entitlements`, as JSON lines."""
    state = read_paywall(engine)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "stripe_events.jsonl").open("w", encoding="utf-8") as out:
        for event in sorted(state.events, key=lambda e: e.received_at):
            row = {
                "id": event.id,
                "type": event.type,
                "created": event.created,
                "object_id": event.object_id,
                "related_id": event.related_id,
                "received_at": event.received_at.isoformat(),
                "processed_at": event.processed_at.isoformat() if event.processed_at else None,
                "outcome": event.outcome,
            }
            out.write(json.dumps(row) + "\n")
    emails = {member.id: email for email, member in state.members.items()}
    with (folder / "entitlements.jsonl").open("w", encoding="utf-8") as out:
        for member_id, rows in sorted(state.rows.items()):
            for ent in rows:
                row = {
                    "id": ent.id,
                    "member": emails.get(member_id, member_id),
                    "key": ent.key,
                    "source": ent.source,
                    "stripe_object_id": ent.stripe_object_id,
                    "status": ent.status,
                    "stripe_status": ent.stripe_status,
                    "valid_until": ent.valid_until.isoformat() if ent.valid_until else None,
                    "note": ent.note,
                }
                out.write(json.dumps(row) + "\n")


def _keep(
    folder: Path, work: Path, ls: LocalStripe, injector: OutageInjector, verdict: Verdict
) -> None:
    """The evidence, kept: kp serve's log and data (var/), every delivery attempt, the
    outages and the findings, as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(work / "var", folder / "var", dirs_exist_ok=True)
    with (folder / "deliveries.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(asdict(d)) + "\n" for d in ls.delivery_log)
    (folder / "given_up.json").write_text(json.dumps([asdict(g) for g in ls.given_up], indent=1))
    (folder / "outages.json").write_text(
        json.dumps([asdict(o) for o in injector.outages], indent=1)
    )
    (folder / "findings.json").write_text(
        json.dumps([asdict(f) for f in verdict.findings], indent=1)
    )
    with (folder / "events.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(e) + "\n" for e in ls.events())


def _play(
    config: ChaosConfig, world: World, buyers: list[Buyer], deadline: float
) -> tuple[int, bool]:
    """Tick by tick until every buyer is done (or the deadline): each tick, every arrived
    buyer takes one step, at most `concurrency` at a time; then the Stripe clock moves on."""
    pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="buyer")
    try:
        return _ticks(config, world, buyers, deadline, pool)
    except BaseException:
        world.stopping.set()  # buyers waiting out an outage give up at once
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def _ticks(
    config: ChaosConfig,
    world: World,
    buyers: list[Buyer],
    deadline: float,
    pool: ThreadPoolExecutor,
) -> tuple[int, bool]:
    """Each tick, every arrived buyer takes one step; then the Stripe clock moves on."""
    tick = 0
    while True:
        tick_started = time.monotonic()
        due = [b for b in buyers if not b.done and b.arrival <= tick]
        list(pool.map(Buyer.step, due, [world] * len(due), [tick] * len(due)))
        if all(b.done for b in buyers):
            return tick + 1, False
        if time.monotonic() > deadline:
            config.log(f"chaos: time limit: stopping after tick {tick}")
            return tick + 1, True
        rest = config.tick_seconds - (time.monotonic() - tick_started)
        if rest > 0:
            time.sleep(rest)
        if random.Random(config.seed * 7919 + tick).random() < config.align:
            world.trigger_outage()  # some outages fall on the clock's step itself
        world.ls.advance(int(config.tick_days * DAY))
        tick += 1
        if tick % 10 == 0:
            done = sum(b.done for b in buyers)
            stats = world.ls.delivery_stats()
            config.log(
                f"chaos: tick {tick}: {done}/{len(buyers)} buyers done, "
                f"{stats.attempts} deliveries, {stats.pending} pending"
            )


def _result(
    config: ChaosConfig,
    database_label: str,
    verdict: Verdict,
    ls: LocalStripe,
    injector: OutageInjector,
    memory: MemorySampler,
    suite_cpu: float,
    wall: float,
    ticks: int,
    settled: bool,
    time_limit_hit: bool,
    buyers: list[Buyer],
    world: World,
) -> RunResult:
    windows = sorted((o.start, o.end + OUTAGE_GRACE) for o in injector.outages)

    def in_outage(at: float) -> bool:
        return any(start <= at <= end for start, end in windows)

    log = ls.delivery_log
    server_errors = [d for d in log if d.status_code is not None and d.status_code >= 500]
    no_answer = [d for d in log if d.status_code is None]
    errors = [f"buyer {b.index} ({b.scenario.name}): {e}" for b in buyers for e in b.errors]
    return RunResult(
        config=config,
        database_label=database_label,
        verdict=verdict,
        stats=ls.delivery_stats(),
        events=len(ls.store.events),
        responses_5xx=len(server_errors),
        responses_5xx_in_outages=sum(in_outage(d.at) for d in server_errors),
        no_answer=len(no_answer),
        no_answer_in_outages=sum(in_outage(d.at) for d in no_answer),
        api_refused=ls.api_refused,
        outages=Counter(o.kind for o in injector.outages),
        outage_seconds={k: injector.seconds(k) for k in ("stripe", "database")},
        outage_errors=list(injector.errors),
        peak_memory_kib=memory.peak_kib,
        server_cpu_seconds=memory.cpu_seconds,
        suite_cpu_seconds=suite_cpu,
        wall_seconds=wall,
        ticks=ticks,
        settled=settled,
        time_limit_hit=time_limit_hit,
        scenario_counts=Counter(b.scenario.name for b in buyers),
        buyer_counts=Counter(world.counts),
        buyer_errors=errors,
    )
