"""pypinyin in a second process: a JSON list of texts in, the JSON list of their pinyin
out (site_builder.accel.romanizer). The dictionaries load as the process starts, before
the first request."""

from __future__ import annotations

import json
import sys

from site_builder.pinyin import pinyin_of


def main() -> None:
    pinyin_of("\u4e2d")  # load the dictionaries now
    for line in sys.stdin:
        texts = json.loads(line)
        values = [pinyin_of(text) for text in texts]
        sys.stdout.write(json.dumps(values, ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
