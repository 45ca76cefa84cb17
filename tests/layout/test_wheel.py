"""The product's wheel holds the product: the command line, the contract, the build and the
paywall (with its migrations and translations), and never the local Stripe test server or
the repository's tools and tests; the local Stripe server builds as its own distribution."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _clean_checkout(dest: Path) -> Path:
    """The tracked files only, as a fresh clone has them (no build/ or egg-info left over)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def _wheel(project: Path, out: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(project)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 and "Could not find a version that satisfies" in result.stderr:
        pytest.skip(f"no package index to fetch the build backend from: {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _clean_checkout(tmp_path_factory.mktemp("checkout"))


def test_product_wheel_has_no_local_stripe_server(checkout: Path, tmp_path: Path) -> None:
    names = _wheel(checkout, tmp_path)
    packages = {name.split("/")[0] for name in names if not name.endswith(".dist-info/")}
    packages = {p for p in packages if not p.endswith(".dist-info")}
    assert packages == {"kp", "kp_contract", "site_builder", "paywall"}
    assert not [name for name in names if "stripe_local" in name or name.startswith("tests/")]
    # what the product needs at run time, beside its modules
    assert "kp_contract/translations.yml" in names
    assert any(n.startswith("paywall/database/migrations/versions/0001_") for n in names)
    assert "paywall/database/migrations/script.py.mako" in names


def test_local_stripe_server_is_its_own_distribution(checkout: Path, tmp_path: Path) -> None:
    names = _wheel(checkout / "tools" / "stripe_local", tmp_path)
    packages = {name.split("/")[0] for name in names if ".dist-info" not in name}
    assert packages == {"stripe_local"}
    assert any(name.startswith("stripe_local/resources/") for name in names)
