"""Hard-links files in a second process (site_builder.accel.linker): the path of a JSON
listing of `[source, target]` pairs as the argument; writes the JSON list of the numbers of
the pairs it could not link."""

from __future__ import annotations

import json
import os
import sys


def link_all(pairs: list[list[str]]) -> list[int]:
    """Link each source to its target (creating folders); the numbers of failed pairs."""
    made: set[str] = set()
    failed = []
    for number, (source, target) in enumerate(pairs):
        folder = os.path.dirname(target)
        try:
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            os.link(source, target)
        except OSError:
            failed.append(number)
    return failed


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as listing:
        pairs = json.load(listing)
    sys.stdout.write(json.dumps(link_all(pairs)))


if __name__ == "__main__":
    main(sys.argv)
