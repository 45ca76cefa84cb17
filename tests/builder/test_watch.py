"""`kp build --watch`: a change to the content is rebuilt in the same process, and a
rebuild is as correct as any build (failed ones leave the site as it was)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from site_builder.build import BuildFailed
from site_builder.watch import changed, snapshot, watch


def test_snapshot_sees_added_changed_and_removed_files(tmp_path):
    (tmp_path / "a.md").write_text("a", "utf-8")
    (tmp_path / ".hidden").write_text("x", "utf-8")
    before = snapshot([tmp_path])
    assert list(before) == [str(tmp_path / "a.md")]
    (tmp_path / "a.md").write_text("changed", "utf-8")
    (tmp_path / "b.md").write_text("b", "utf-8")
    assert changed(before, snapshot([tmp_path])) == [str(tmp_path / "a.md"), str(tmp_path / "b.md")]
    (tmp_path / "a.md").unlink()
    assert str(tmp_path / "a.md") in changed(before, snapshot([tmp_path]))


def test_edits_are_rebuilt_until_stopped(mini):
    mini.build()
    stop = threading.Event()
    rebuilt: list[object] = []

    def rebuild(paths: list[str]) -> None:
        try:
            rebuilt.append(mini.build())
        except BuildFailed as exc:
            rebuilt.append(exc)

    roots = [mini.root / "content", mini.config]
    worker = threading.Thread(
        target=watch, args=(lambda: roots, rebuild), kwargs={"interval": 0.05, "stop": stop}
    )
    worker.start()
    try:
        time.sleep(0.2)
        hello = mini.root / "content/articles/hello.md"  # the body only: one page to render
        hello.write_text(hello.read_text("utf-8") + "\nWatched edit.\n", "utf-8")
        _wait_for(lambda: len(rebuilt) == 1)
        page = mini.root / "site/articles/hello/index.html"
        assert "Watched edit." in page.read_text("utf-8")
        assert rebuilt[0].fast is not None and rebuilt[0].fast.rendered == 1
        mini.write("articles/broken.md", "---\ntitle: [unclosed\n---\n")
        _wait_for(lambda: len(rebuilt) == 2)
        assert isinstance(rebuilt[1], BuildFailed)
        assert "Watched edit." in page.read_text("utf-8"), "a failed rebuild changes nothing"
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "no rebuild happened"
        time.sleep(0.05)


def test_watched_paths_follow_the_configuration(mini):
    from kp.commands.build import watched_paths

    paths = watched_paths(mini.config)
    assert mini.config.resolve() in [p.resolve() for p in paths]
    assert (mini.root / "content").resolve() in [Path(p).resolve() for p in paths]
    assert any(p.name == "themes" for p in paths)


def test_kp_build_watch_command_rebuilds_and_stops_on_ctrl_c(mini):
    import os
    import signal
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("KP_")}
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT dumps every thread's stack (see below)
    # Ctrl-C as in a terminal: a process started from a background job (as CI may be)
    # inherits SIGINT ignored, and Python then leaves it ignored.
    start = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from kp.cli import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, "build", "--watch"],
        cwd=mini.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    try:
        _wait_for(lambda: any("Watching for changes" in line for line in lines), 60)
        hello = mini.root / "content/articles/hello.md"
        hello.write_text(hello.read_text("utf-8") + "\nFrom the watcher.\n", "utf-8")
        _wait_for(lambda: any(line.startswith("Built") for line in lines[2:]), 60)
        page = (mini.root / "site/articles/hello/index.html").read_text("utf-8")
        assert "From the watcher." in page
        assert any("Changed: hello.md" in line for line in lines)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(45)
        except subprocess.TimeoutExpired:  # show where it is stuck, then fail
            proc.send_signal(signal.SIGABRT)
            proc.wait(15)
            reader.join(5)
            pytest.fail("Ctrl-C did not stop `kp build --watch`:\n" + "".join(lines))
        reader.join(5)
    assert proc.returncode == 0, "".join(lines)
    assert "Stopped watching." in "".join(lines)
