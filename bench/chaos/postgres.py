"""A private PostgreSQL cluster for the chaos suite: its own temporary directory, its own
free port on 127.0.0.1, trust authentication for loopback only. The suite stops it and starts
it again to take the database away from the paywall; it never touches the shared server on
127.0.0.1:5432.

    with PrivateCluster.create() as cluster:
        url = cluster.url           # postgresql://postgres@127.0.0.1:<port>/kp_chaos
        cluster.stop("immediate")   # an outage (a crash); cluster.start() ends it

As root, every PostgreSQL program runs as the `postgres` user (`runuser -u postgres --`),
which owns the directory. The cluster is stopped and its directory removed on leaving the
`with` block, on an error or on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

BIN_GLOB = "/usr/lib/postgresql/*/bin"
DATABASE = "kp_chaos"
SHARED_PORT = 5432


class ClusterUnavailable(RuntimeError):
    """initdb / pg_ctl cannot run here (not installed, or no `postgres` user as root)."""


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory holding initdb and pg_ctl."""
    candidates = []
    for found in Path("/").glob(BIN_GLOB.lstrip("/")):
        if (found / "initdb").is_file() and (found / "pg_ctl").is_file():
            version = found.parent.name
            candidates.append((int(version) if version.isdigit() else 0, found))
    for name in ("initdb", "pg_ctl"):
        on_path = shutil.which(name)
        if on_path and not candidates:
            candidates.append((0, Path(on_path).parent))
    if not candidates:
        raise ClusterUnavailable(f"no initdb/pg_ctl under {BIN_GLOB} or on PATH")
    return max(candidates)[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    if port == SHARED_PORT:  # pragma: no cover - the kernel never hands out a bound port
        raise RuntimeError("refusing the shared PostgreSQL port")
    return port


class PrivateCluster:
    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        if port == SHARED_PORT:
            raise ValueError("the private cluster never uses the shared port 5432")
        self.bin_dir = bin_dir
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.running = False
        self.stops = 0
        self._as_postgres = os.geteuid() == 0

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, bin_dir: Path | None = None) -> PrivateCluster:
        """initdb a fresh cluster in a new temporary directory and start it."""
        bin_dir = bin_dir or find_bin_dir()
        root = Path(tempfile.mkdtemp(prefix="kp-chaos-pg-"))
        cluster = cls(bin_dir, root, free_port())
        try:
            cluster._init()
            cluster.start()
            cluster._create_database()
        except BaseException:
            cluster.remove()
            raise
        return cluster

    def __enter__(self) -> PrivateCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-1500:]}"
            )
        return result.stdout

    def _init(self) -> None:
        if self._as_postgres:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterUnavailable(
                    "running as root but there is no `postgres` user"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            # A scratch cluster: nothing here must survive the *machine* crashing, so no
            # fsync. A stopped server (even `-m immediate`, a crash) loses nothing the OS
            # already has, and every commit is written to the OS before it returns:
            # synchronous_commit stays on (off, a crash would lose commits the paywall
            # already answered 2xx for, which is not the paywall's doing).
            "fsync": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# kp chaos suite\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        # Trust, but only over the socket in our own directory and from 127.0.0.1.
        (self.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n", encoding="utf-8"
        )

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')

    def start(self) -> float:
        """Start the server and wait until it accepts connections; the seconds it took."""
        started = time.monotonic()
        self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")
        self.running = True
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> float:
        """Stop the server (`fast`: clients are disconnected; `immediate`: as a crash)."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"pg_ctl stop mode {mode!r}")
        started = time.monotonic()
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")
        self.running = False
        self.stops += 1
        return time.monotonic() - started

    def remove(self) -> None:
        """Stop the server if it runs and delete the cluster's directory."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
