"""`bench/` is a top-level folder of the repository, not an installed package: put the
repository root on sys.path so the tests import the very suite `python -m bench.chaos` runs."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
