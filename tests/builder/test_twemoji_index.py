"""site_builder.accel.twemoji_index: the same icon index as mkdocs-material's own function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from site_builder.accel import twemoji_index

_INDEX = """
import json, sys
from material.extensions import emoji
if sys.argv[1] == "fast":
    from site_builder.accel import twemoji_index
    assert twemoji_index.install()
paths = tuple(json.loads(sys.argv[2]))
index = emoji._load_twemoji_index(paths)
assert emoji.twemoji({"custom_icons": list(paths)}, None) is index
print(json.dumps([index["name"], list(index["emoji"].items()), list(index["aliases"].items())]))
"""


def _index(kind: str, paths: list[str]) -> list:
    done = subprocess.run(
        [sys.executable, "-c", _INDEX, kind, json.dumps(paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_fast_index_is_materials_index_in_the_same_order(tmp_path: Path):
    custom = tmp_path / "overrides" / ".icons"
    (custom / "brand" / "sub").mkdir(parents=True)
    (custom / "brand" / "logo.svg").write_text("<svg/>")
    (custom / "brand" / "sub" / "deep.svg").write_text("<svg/>")
    (custom / "brand" / ".hidden.svg").write_text("<svg/>")
    (custom / "brand" / "notes.txt").write_text("not an icon")
    (custom / "material").mkdir()
    (custom / "material" / "account.svg").write_text("<svg/>")  # shadows the theme's icon
    (custom / "twemoji.svg").write_text("<svg/>")
    for paths in ([], [str(custom)]):
        assert _index("fast", paths) == _index("material", paths)


def test_installing_keeps_one_original_and_undoing_restores_it(monkeypatch):
    from material.extensions import emoji

    def materials(paths):
        return {"name": "twemoji", "emoji": {}, "aliases": {}}

    monkeypatch.setattr(emoji, "_load_twemoji_index", materials)
    monkeypatch.setattr(twemoji_index, "_FAST", {})
    first = twemoji_index.install()
    second = twemoji_index.install()
    assert first is not None and second is not None
    assert emoji._load_twemoji_index.kp_original is materials
    second()
    assert emoji._load_twemoji_index is materials
