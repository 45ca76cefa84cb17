"""Directory swaps so readers (the paywall, a web server) never see half a build.

Output is written into a hidden sibling of its target (same file system, so `os.replace` is
atomic) and swapped in only once complete; a failed build just deletes its staging dir.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

STAGING_MARK = ".build-"
RETIRED_MARK = ".old-"


def staging_dir(target: Path) -> Path:
    """A fresh empty directory next to `target`, e.g. `.site.build-x1y2` beside `site/`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        staged = target.with_name(f".{target.name}{STAGING_MARK}{uuid.uuid4().hex[:12]}")
        try:
            staged.mkdir()  # mode from the umask, like the directory it replaces
        except FileExistsError:
            continue
        return staged


def replace_dir(staged: Path, target: Path) -> None:
    """Put `staged` in place of `target`; the old tree is moved aside first, then deleted."""
    retired = None
    if target.exists() or target.is_symlink():
        retired = target.with_name(f".{target.name}{RETIRED_MARK}{uuid.uuid4().hex[:8]}")
        os.replace(target, retired)
    os.replace(staged, target)
    if retired is not None:
        discard_later(retired)


def discard_later(path: Path) -> None:
    """Delete a retired tree in the background: it is out of the way already, and deleting
    a large site's thousands of directories is a good part of an incremental build's time.
    If that process never runs, the next build removes the tree (`leftovers`)."""
    rm = shutil.which("rm")
    if rm is None or os.name != "posix":
        discard(path)
        return
    try:
        subprocess.Popen(
            [rm, "-rf", "--", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        discard(path)


def discard(path: Path) -> None:
    """Remove a staging or retired tree; missing is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def leftovers(target: Path) -> list[Path]:
    """Staging/retired siblings of `target` left behind by an interrupted build."""
    if not target.parent.exists():
        return []
    prefixes = (f".{target.name}{STAGING_MARK}", f".{target.name}{RETIRED_MARK}")
    return sorted(p for p in target.parent.iterdir() if p.name.startswith(prefixes))


def same_or_inside(path: Path, other: Path) -> bool:
    """Whether `path` is `other` or lies inside it (both resolved)."""
    path, other = path.resolve(), other.resolve()
    return path == other or other in path.parents
