"""`kp build|new|check` commands (registered on the `kp` group by `kp.cli`)."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from kp import fast_exit
from site_builder import CACHE_NAME, accel_requested

if TYPE_CHECKING:  # the commands import what they run: `kp build` starts its helpers first
    from mkdocs.config.defaults import MkDocsConfig

    from site_builder.build import BuildFailed, BuildResult

config_option = click.option(
    "--config",
    "-f",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default="mkdocs.yml",
    show_default=True,
    help="The site's mkdocs.yml.",
)


def register(group: click.Group) -> None:
    """Attach the build commands to the `kp` group."""
    group.add_command(build)
    group.add_command(new)
    group.add_command(check)


class _WarningsOnly(logging.Filter):
    """Errors are printed once, by the command, from `BuildFailed`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def setup_logging(verbose: bool) -> None:
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's banner, not ours
    # jieba (the search plugin's Chinese tokenizer, when it is used) logs its dictionary
    # loading at DEBUG; its logger is set here without importing it
    # (site_builder/accel/segmenter.py defers importing it).
    logging.getLogger("jieba").setLevel(logging.WARNING)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
    handler.addFilter(_WarningsOnly())
    logger = logging.getLogger("mkdocs")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


_OUTPUT_VARIABLES = ("KP_SITE_DIR", "KP_PRIVATE_DIR")


def _output_dirs() -> tuple[Path | None, Path | None]:
    """KP_SITE_DIR / KP_PRIVATE_DIR (environment or `.env`), when set, win over mkdocs.yml
    (the paywall reads them). Without either, the settings are not loaded at all: that
    pulls in pydantic-settings and asyncio, a twentieth of a second of every build."""
    if not any(name in os.environ for name in _OUTPUT_VARIABLES) and not Path(".env").exists():
        return None, None
    from kp_contract.settings import load_settings

    settings = load_settings()
    site = settings.site_path if settings.site_dir is not None else None
    private = settings.private_path if settings.private_dir is not None else None
    return site, private


def _fail(title: str, problems: list[str]) -> NoReturn:
    click.secho(title, fg="red", err=True)
    for problem in problems:
        click.echo(problem, err=True)
    raise SystemExit(1)


@click.command()
@config_option
@click.option("--drafts", is_flag=True, help="Also publish drafts and future-dated articles.")
@click.option(
    "--clean/--no-clean",
    default=True,
    show_default=True,
    help="--clean: the output holds exactly this build (and leftovers of interrupted builds "
    "are removed). --no-clean: files already in site/ that this build does not produce "
    "(a CNAME, a verification file) are kept.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes rendering pages (default: one per core).",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Reuse pages whose inputs did not change since the last build (.kp-cache/).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="After building, rebuild whenever content/, mkdocs.yml or the theme change "
    "(Ctrl-C stops).",
)
@click.option(
    "--no-accel",
    is_flag=True,
    help="Build through mkdocs' own build, with none of the fast paths (as KP_ACCEL=0): "
    "the same output, slower. --jobs and --cache then do nothing.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show mkdocs' progress messages.")
def build(
    config_file: Path,
    drafts: bool,
    clean: bool,
    jobs: int | None,
    cache: bool,
    watch: bool,
    no_accel: bool,
    verbose: bool,
) -> None:
    """Render content/ into site/ (public) and private/ (paid pages + manifest).

    Atomic: both are built next to their targets, leak-checked, then swapped in; a failed
    build leaves the previous site/ and private/ untouched.
    """
    accel = accel_requested() and not no_accel
    if accel:  # a first build's pypinyin loads in a second process while this one imports
        from site_builder.accel import romanizer

        cache_dir = config_file.resolve().parent / CACHE_NAME if cache else None
        romanizer.start_unless_remembered(cache_dir)
    from site_builder.build import BuildFailed, build_site

    setup_logging(verbose)
    site_dir, private_dir = _output_dirs()
    build_once = functools.partial(
        build_site,
        config_file,
        drafts=drafts,
        clean=clean,
        site_dir=site_dir,
        private_dir=private_dir,
        jobs=jobs,
        cache=cache,
        accel=accel,
    )
    if not watch:  # a one-shot build leaves nothing open when it returns (or fails)
        fast_exit.request()
    try:
        result = build_once()
    except BuildFailed as exc:
        if not watch:
            _fail("Build failed; site/ and private/ were left as they were.", exc.problems)
        _report_failure(exc)
    else:
        if result.site_url_note:  # KP_BASE_URL overrode mkdocs.yml's site_url
            click.echo(result.site_url_note)
        click.echo(result.summary())
        if result.kept:
            click.echo(f"  kept {len(result.kept)} file(s) from the previous site (--no-clean)")
    if watch:
        _watch_and_rebuild(config_file, build_once)


def _report_failure(exc: BuildFailed) -> None:
    click.secho("Build failed; site/ and private/ were left as they were.", fg="red", err=True)
    for problem in exc.problems:
        click.echo(problem, err=True)


def watched_paths(config_file: Path) -> list[Path]:
    """mkdocs.yml (and what it INHERITs), the content folder and the theme overrides."""
    from site_builder.build import BuildFailed, config_files, load_site_config

    try:
        config = load_site_config(config_file)
    except BuildFailed:
        return [config_file]
    paths = [*config_files(config), Path(config.docs_dir)]
    custom_dir = config.theme.custom_dir
    if custom_dir:
        paths.append(Path(custom_dir))
    return paths


def _watch_and_rebuild(config_file: Path, build_once: Callable[[], BuildResult]) -> None:
    from site_builder.build import BuildFailed
    from site_builder.watch import describe as describe_changes
    from site_builder.watch import watch as watch_changes

    def rebuild(paths: list[str]) -> None:
        click.echo(describe_changes(paths))
        try:
            result = build_once()
        except BuildFailed as exc:
            _report_failure(exc)
            return
        click.echo(result.summary().splitlines()[0])

    try:
        watch_changes(
            lambda: watched_paths(config_file),
            rebuild,
            ready=lambda: click.echo("Watching for changes (Ctrl-C to stop)..."),
        )
    except KeyboardInterrupt:
        click.echo("Stopped watching.")


@click.command()
@config_option
@click.option("--no-leak-check", is_flag=True, help="Only lint the content.")
def check(config_file: Path, no_leak_check: bool) -> None:
    """Lint every content file, then search the built site for leaked paid text."""
    from site_builder.build import BuildFailed, load_site_config
    from site_builder.content import build_index, markdown_sources
    from site_builder.errors import indented
    from site_builder.plugins.content import label_prefix, site_lang

    setup_logging(False)
    try:
        config = load_site_config(config_file)
    except BuildFailed as exc:
        _fail("Cannot read the site configuration.", exc.problems)
    docs = Path(config.docs_dir)
    sources = markdown_sources(docs)
    index = build_index(
        docs,
        sources,
        dict(config.extra),
        label_prefix=label_prefix(config),
        default_lang=site_lang(config),
    )
    problems = [str(error) for error in index.errors]
    if problems:
        click.secho(f"{len(problems)} content error(s):", fg="red", err=True)
        for problem in problems:
            click.echo(indented(problem), err=True)
    else:
        click.echo(f"Content OK: {len(sources)} files.")
    if not no_leak_check:
        problems += _check_leaks(config_file, config)
    if problems:
        raise SystemExit(1)


def _check_leaks(config_file: Path, config: MkDocsConfig) -> list[str]:
    from site_builder.leaks import find_leaks
    from site_builder.plugins.content import ContentPlugin, resolve_private_dir

    plugin = next((p for p in config.plugins.values() if isinstance(p, ContentPlugin)), None)
    if plugin is None:
        return [f"{config_file}: `plugins` must include `kp-content`"]
    site_dir, private_dir = _output_dirs()
    site_dir = site_dir or Path(config.site_dir)
    private_dir = private_dir or resolve_private_dir(config, plugin.config)
    if not (private_dir / plugin.config.manifest).is_file() or not site_dir.is_dir():
        click.echo(f"No build at {site_dir} / {private_dir}: run `kp build`; leak check skipped.")
        return []
    leaks = find_leaks(site_dir, private_dir)
    if leaks:
        click.secho(f"Paid text found in the public site ({len(leaks)}):", fg="red", err=True)
        for leak in leaks:
            click.echo(f"  {leak}", err=True)
        return [str(leak) for leak in leaks]
    click.echo(f"Leak check passed: no paid text under {site_dir}.")
    return []


@click.group()
def new() -> None:
    """Start an article, course, lesson or translation with valid front matter."""


def _docs_dir(config_file: Path) -> Path:
    from site_builder.build import BuildFailed, load_site_config

    try:
        return Path(load_site_config(config_file).docs_dir)
    except BuildFailed as exc:
        _fail("Cannot read the site configuration.", exc.problems)


def _created(path: Path, note: str | None = None) -> None:
    try:
        shown = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path
    click.echo(f"Created {shown}" + (f" ({note})" if note else ""))


lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    help="Page language (default: zh for a title in Chinese, else en).",
)


def _language(title: str, lang: str | None) -> tuple[str, str | None]:
    """`--lang`, else the title's language and a line saying so."""
    from site_builder.scaffold import title_lang

    if lang:
        return lang, None
    chosen = title_lang(title)
    other = "en" if chosen == "zh" else "zh"
    return chosen, f"lang: {chosen}, from the title; --lang {other} for the other language"


slug_option = click.option("--slug", help="URL slug (default: from the title; pinyin for 中文).")


@new.command("article")
@click.argument("title")
@lang_option
@slug_option
@config_option
def new_article(title: str, lang: str | None, slug: str | None, config_file: Path) -> None:
    """A free article dated today, as a draft: articles/<slug>.md."""
    from site_builder import scaffold

    language, note = _language(title, lang)
    try:
        path = scaffold.new_article(_docs_dir(config_file), title, lang=language, slug=slug)
    except scaffold.ScaffoldError as exc:
        _fail("Nothing created.", [str(exc)])
    _created(path, note)
    click.echo(
        "It is a draft: preview it with `kp serve --watch --drafts`; to publish it, delete "
        "its `draft: true` line and run `kp build`."
    )


@new.command("course")
@click.argument("title")
@lang_option
@slug_option
@click.option("--price", type=float, default=49, show_default=True, help="In major units.")
@click.option("--currency", default="usd", show_default=True)
@click.option("--mode", type=click.Choice(["payment", "subscription"]), default="payment")
@click.option("--interval", type=click.Choice(["month", "year"]), help="For subscriptions.")
@click.option("--tier", help="Membership tier (extra.paywall.tiers) that includes the course.")
@config_option
def new_course(
    title: str,
    lang: str | None,
    slug: str | None,
    price: float,
    currency: str,
    mode: str,
    interval: str | None,
    tier: str | None,
    config_file: Path,
) -> None:
    """A course landing page: courses/<slug>/index.md (lookup_key = slug)."""
    from site_builder import scaffold

    language, note = _language(title, lang)
    try:
        path = scaffold.new_course(
            _docs_dir(config_file),
            title,
            lang=language,
            slug=slug,
            price=price,
            currency=currency,
            mode=mode,
            interval=interval,
            tier=tier,
        )
    except scaffold.ScaffoldError as exc:
        _fail("Nothing created.", [str(exc)])
    _created(path, note)


@new.command("lesson")
@click.argument("title")
@click.option("--course", required=True, help="Course slug (its folder under courses/).")
@lang_option
@slug_option
@click.option("--free-preview", is_flag=True, help="Publish this lesson in full.")
@config_option
def new_lesson(
    title: str,
    course: str,
    lang: str | None,
    slug: str | None,
    free_preview: bool,
    config_file: Path,
) -> None:
    """The next lesson of a course: courses/<course>/NN-<slug>.md."""
    from site_builder import scaffold

    try:
        path = scaffold.new_lesson(
            _docs_dir(config_file),
            title,
            course=course,
            lang=lang,
            slug=slug,
            free_preview=free_preview,
        )
    except scaffold.ScaffoldError as exc:
        _fail("Nothing created.", [str(exc)])
    _created(path)


@new.command("translation")
@click.argument("page", type=click.Path(path_type=Path))
@click.option("--lang", type=click.Choice(["en", "zh"]), required=True, help="Its language.")
@config_option
def new_translation(page: Path, lang: str, config_file: Path) -> None:
    """A translation of PAGE (e.g. articles/x.md → articles/x.zh.md, published under /zh/),
    with the original's text to translate; `draft: true` until you remove it."""
    from site_builder import scaffold

    try:
        path = scaffold.new_translation(_docs_dir(config_file), page, lang)
    except scaffold.ScaffoldError as exc:
        _fail("Nothing created.", [str(exc)])
    _created(path)
