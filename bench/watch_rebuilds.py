"""The rebuilds `kp build --watch` makes, timed in one warm process (the `kp-watch` row).

Run by the harness in the corpus folder: `python -m bench.watch_rebuilds ARTICLE RUNS`
(the repository root on PYTHONPATH). Builds the site once, then edits ARTICLE differently
RUNS times, rebuilding after each edit as the watcher does (`build_site` again in the same
process); the article is restored at the end. Prints `KP-WATCH-TIMES` and the JSON list of
(wall, CPU) seconds of each rebuild.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MARKER = "KP-WATCH-TIMES"


def main(argv: list[str]) -> None:
    from site_builder.build import build_site

    path, runs = Path(argv[1]), int(argv[2])
    original = path.read_text(encoding="utf-8")
    build_site(Path("mkdocs.yml"))
    times = []
    try:
        for run in range(runs):
            path.write_text(original + f"\nEdited while watching, run {run}.\n", encoding="utf-8")
            started, cpu = time.perf_counter(), time.process_time()
            result = build_site(Path("mkdocs.yml"))
            times.append((time.perf_counter() - started, time.process_time() - cpu))
            if result.fast is None or result.fast.rendered != 1:
                raise SystemExit(f"bench: a rebuild rendered more than the edited page: {result}")
    finally:
        path.write_text(original, encoding="utf-8")
    print(f"{MARKER} {json.dumps(times)}")


if __name__ == "__main__":
    main(sys.argv)
