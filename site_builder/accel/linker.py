"""Unchanged pages' published files, hard-linked from the live site into the new one."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from site_builder.accel.workers import PARALLEL_MIN_PAGES

if TYPE_CHECKING:
    from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.kp.accel")

LINK_PROCESS = "site_builder.accel.processes.link"


class Linker:
    """Hard-links the published files of unchanged pages from the live site into the new
    one while the build goes on: a new folder and a link per page is the filesystem's part
    of an incremental build (a third of its time on 1,000 articles, more when the disk is
    busy), and a second process (processes/link.py) does it on the otherwise idle core
    while this one renders the changed pages, merges them and writes the search index,
    sitemaps and feeds. (A thread would not: it needs the GIL back after every call.)
    Started after the static files are copied and the workers forked, so nothing else
    writes those paths meanwhile; `finish` waits for it and names the pages whose file
    could not be linked (it went away since the build looked), which the build then
    renders. Few pages, or no second process, are linked here."""

    def __init__(self, previous_site: Path | None, pages: list[Page]) -> None:
        self.previous_site, self.pages = previous_site, pages
        self.process: subprocess.Popen[str] | None = None
        self.listing: str | None = None
        self.made_dirs: set[str] = set()
        """Folders `link_here` created in the new site."""
        if previous_site is not None and len(pages) >= PARALLEL_MIN_PAGES:
            self._start(previous_site)

    def _start(self, previous_site: Path) -> None:
        pairs = [
            [os.path.join(previous_site, page.file.dest_uri), page.file.abs_dest_path]
            for page in self.pages
        ]
        try:
            fd, self.listing = tempfile.mkstemp(prefix="kp-link-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as listing:
                json.dump(pairs, listing)
            self.process = subprocess.Popen(
                [sys.executable, "-m", LINK_PROCESS, self.listing],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:  # link them here instead
            log.debug("kp build: no linking process (%s)", exc)
            self.process = None
            self._remove_listing()

    def finish(self) -> tuple[int, list[Page]]:
        """(pages linked, pages left to render). Call once."""
        failed = self._helper_failures()
        if failed is None:  # no helper, or it did not finish: whatever it did not link
            failed = [page for page in self.pages if not self._linked_here(page)]
        return len(self.pages) - len(failed), failed

    def _helper_failures(self) -> list[Page] | None:
        process, self.process = self.process, None
        if process is None:
            return None
        try:
            output, _ = process.communicate(timeout=300)
            numbers = json.loads(output) if process.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError, OSError):
            process.kill()
            process.wait()
            numbers = None
        finally:
            self._remove_listing()
        if not isinstance(numbers, list):
            return None
        return [self.pages[number] for number in numbers]

    def stop(self) -> None:
        """A failed build: end the helper (the tree it links into is discarded)."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()
        self._remove_listing()

    def _remove_listing(self) -> None:
        if self.listing is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.listing)

    def link_here(self, page: Page) -> bool:
        """Hard-link the published file of `page` into the new site, in this process."""
        if self.previous_site is None:
            return False
        target = page.file.abs_dest_path
        folder = os.path.dirname(target)
        try:
            if folder not in self.made_dirs:
                os.makedirs(folder, exist_ok=True)
                self.made_dirs.add(folder)
            os.link(os.path.join(self.previous_site, page.file.dest_uri), target)
        except OSError:
            return False
        return True

    def _linked_here(self, page: Page) -> bool:
        """Link `page` in this process, or find it linked already (by a helper that
        stopped half-way)."""
        if self.link_here(page):
            return True
        try:
            return self.previous_site is not None and os.path.samefile(
                os.path.join(self.previous_site, page.file.dest_uri), page.file.abs_dest_path
            )
        except OSError:
            return False
