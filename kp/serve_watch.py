"""`kp serve --watch`: build, serve with the paywall, rebuild on every edit, reload the pages.

The paywall never imports the build, so the two are composed here (as `kp demo` does):
the site is built once, then uvicorn serves it in the foreground while a background thread
watches content/, mkdocs.yml (and what it INHERITs) and the theme overrides and calls
`build_site` again in the same process (warm, as `kp build --watch`). A rebuild is atomic:
the paywall only ever sees a complete site (it reloads the manifest by its mtime), and a
failed one prints its errors and leaves the last good site served. Open pages learn about
each new build through `kp.livereload` and reload themselves. Ctrl-C or SIGTERM stops the
server, then the watcher (after the rebuild in progress, if any).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypedDict

import click
import uvicorn

from kp.foreground import run_in_foreground
from kp.livereload import LiveReloadMiddleware, ReloadHub
from kp_contract.settings import Settings

POLL_SECONDS = 0.1
"""How often the watcher looks for changes: a look at a 1,000-article site takes about 2 ms,
and on a served site an edit should show within a second."""
JOIN_SECONDS = 60.0
"""How long Ctrl-C waits for a rebuild in progress (it is atomic: stopping mid-way is safe)."""


class ServerOptions(TypedDict):
    """The uvicorn options `kp serve` runs with, with or without `--watch`."""

    host: str
    port: int
    log_config: None
    access_log: bool
    proxy_headers: bool
    loop: str
    http: str


@dataclass
class SiteRebuilder:
    """Builds the site into the directories the paywall serves and tells the hub."""

    config_file: Path
    site_dir: Path
    private_dir: Path
    hub: ReloadHub
    drafts: bool = False
    site_url: str | None = None
    """The URL it is served at: every absolute link of the build is made from it."""

    def build(self) -> bool:
        """One `kp build`; False (errors printed, site untouched) when it failed."""
        from site_builder.build import BuildFailed, build_site

        try:
            result = build_site(
                self.config_file,
                drafts=self.drafts,
                site_dir=self.site_dir,
                private_dir=self.private_dir,
                site_url=self.site_url,
            )
        except BuildFailed as exc:
            _report_failure(exc.problems)
            return False
        except Exception:  # a crash must not end watching: the last good site stays served
            _report_failure(traceback.format_exc().rstrip().splitlines())
            return False
        build_id = self.hub.publish()
        click.echo(f"{result.summary().splitlines()[0]} [build {build_id}]")
        return True

    def rebuild(self, paths: list[str]) -> None:
        """The watcher's callback: say what changed, build again."""
        from site_builder.watch import describe

        click.echo(describe(paths))
        self.build()

    def watched_paths(self) -> list[Path]:
        from kp.commands.build import watched_paths as paths_to_watch

        return paths_to_watch(self.config_file)


def _report_failure(problems: list[str]) -> None:
    click.secho("Build failed; the last good site is still being served.", fg="red", err=True)
    for problem in problems:
        click.echo(problem, err=True)


def start_watching(
    rebuilder: SiteRebuilder, stop: threading.Event, interval: float = POLL_SECONDS
) -> threading.Thread:
    """The watcher thread, started; returns once the starting state is taken."""
    from site_builder.watch import watch

    ready = threading.Event()

    def run() -> None:
        try:
            watch(
                rebuilder.watched_paths,
                rebuilder.rebuild,
                interval=interval,
                stop=stop,
                ready=ready.set,
            )
        except Exception:
            click.secho("Watching stopped after an error:", fg="red", err=True)
            click.echo(traceback.format_exc(), err=True)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="kp-watch", daemon=True)
    thread.start()
    ready.wait()
    return thread


class WatchServer(uvicorn.Server):
    """uvicorn's server, ending the long polls as soon as a stop is asked for: uvicorn waits
    for open requests before it stops, and a long poll would hold it for seconds."""

    def __init__(self, config: uvicorn.Config, hub: ReloadHub) -> None:
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.close()
        super().handle_exit(sig, frame)


def run_server(app: Any, hub: ReloadHub, server_options: ServerOptions) -> None:
    """uvicorn in the foreground until Ctrl-C or SIGTERM (both end cleanly)."""
    server = WatchServer(uvicorn.Config(app, **server_options), hub)
    where = f"{server_options['host']}:{server_options['port']}"
    run_in_foreground(server, where, on_stop=hub.close)


def serve_watch(
    settings: Settings,
    *,
    config_file: Path | None,
    drafts: bool,
    server_options: ServerOptions,
    before_serving: Callable[[], None],
) -> None:
    """Build, then serve and rebuild until stopped. `before_serving` (the paywall's banner
    and migrations) runs after the first build, so the banner describes a built site."""
    from kp.commands.build import setup_logging
    from paywall.app import create_app

    setup_logging(False)
    hub = ReloadHub()
    rebuilder = SiteRebuilder(
        config_file or settings.project_dir / "mkdocs.yml",
        settings.site_path,
        settings.private_path,
        hub,
        drafts=drafts,
        site_url=settings.base_url,
    )
    click.echo(f"kp serve --watch: building {rebuilder.config_file} ...")
    rebuilder.build()
    before_serving()
    app = LiveReloadMiddleware(create_app(settings), hub)
    stop = threading.Event()
    watcher = start_watching(rebuilder, stop)
    click.echo("Watching content, configuration and theme; open pages reload after each build.")
    try:
        run_server(app, hub, server_options)
    finally:
        stop.set()
        watcher.join(JOIN_SECONDS)
    click.echo("kp serve --watch: stopped.")
