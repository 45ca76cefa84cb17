"""The chaos suite with a few buyers, on SQLite and on a private PostgreSQL cluster: every
scenario once (16 buyers), duplicated and reordered webhooks, Stripe API pauses and database
outages; nothing lost, nothing doubled, every delivery settled, and (a known bug aside) no
wrong final state.

These run the very code `python -m bench.chaos` runs; on failure the table and the evidence
(each event of the buyer's purchase, how its deliveries were answered, what the paywall
stored as its outcome) are in the assertion message.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from stripe_local.webhooks import Chaos, backoff_schedule

from bench.chaos.paywall_server import prepare_project
from bench.chaos.postgres import ClusterUnavailable, find_bin_dir
from bench.chaos.report import render
from bench.chaos.run import ChaosConfig, RunResult, run_chaos

BUYERS = 16  # one of each scenario


@pytest.fixture(scope="module")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example site built once for both databases."""
    return prepare_project(tmp_path_factory.mktemp("chaos") / "project")


def postgres_or_skip() -> None:
    try:
        find_bin_dir()
    except ClusterUnavailable as exc:
        pytest.skip(f"no private PostgreSQL cluster can be made here: {exc}")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot run initdb as postgres")


def small_run(database: str, project: Path, seed: int) -> RunResult:
    config = ChaosConfig(
        buyers=BUYERS,
        seed=seed,
        database=database,
        time_limit=75,
        per_tick=6,
        tick_seconds=0.5,
        outage_gap=(0.5, 2.0),
        outage_length=(0.5, 2.0),
        align=0.4,
        chaos=Chaos(seed=seed),
        retry_schedule=backoff_schedule(0.2, 1.5, 12),
        retry_cap=40,
        project=project,
        log=lambda message: None,
    )
    return run_chaos(config)


_RUNS: dict[str, RunResult] = {}


def run_once(database: str, project: Path) -> RunResult:
    """One chaos run per database, shared by the tests that judge it."""
    if database == "postgres":
        postgres_or_skip()
    if database not in _RUNS:
        _RUNS[database] = small_run(database, project, seed=11)
    return _RUNS[database]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_money_is_never_lost_or_doubled(database: str, built_project: Path) -> None:
    result = run_once(database, built_project)
    shown = render(result)
    print(shown)
    # The suite did what it claims: duplicates, both kinds of outage, redelivery.
    assert result.stats.duplicates > 0, shown
    assert result.outages["stripe"] >= 1 and result.outages["database"] >= 1, shown
    assert result.api_refused > 0, shown
    if database == "postgres":
        assert result.responses_5xx_in_outages > 0, shown  # the database was really gone
    assert not result.time_limit_hit, shown
    assert result.settled and result.stats.given_up == 0, shown
    assert result.verdict.expected_grants > 0, shown
    counts = {kind: result.verdict.count(kind) for kind in ("lost", "doubled")}
    assert counts == {"lost": 0, "doubled": 0}, shown
    assert result.verdict.present_grants == result.verdict.expected_grants, shown


@pytest.mark.timeout(150)
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_no_wrong_final_state(database: str, built_project: Path) -> None:
    result = run_once(database, built_project)
    assert result.verdict.count("wrong") == 0, render(result)
