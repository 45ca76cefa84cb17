"""jieba-rs in a second process: a JSON line `[text, cut_all, hmm]` in, the JSON list of
its words out (site_builder.accel.segmenter's `_Helper`)."""

from __future__ import annotations

import json
import sys

import rjieba


def main() -> None:
    for line in sys.stdin:
        text, cut_all, hmm = json.loads(line)
        words = rjieba.cut_all(text) if cut_all else rjieba.cut(text, hmm=hmm)
        sys.stdout.write(json.dumps(words) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
