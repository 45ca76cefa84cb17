"""Bounded HTTP load over loopback: wrk when installed (Debian's `wrk`), else a small asyncio
generator. Both stop by themselves after `duration` seconds and only ever talk to 127.0.0.1.

A scenario is a list of prepared requests sent round-robin. GET scenarios repeat one request;
the webhook scenario holds thousands of distinct signed events, so the server processes new
events instead of answering "already seen" (wrk sends them through a small Lua script).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class LoadResult:
    generator: str
    requests: int
    seconds: float
    errors: int
    """Responses other than 2xx/3xx, plus connection errors and timeouts."""
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _loopback_only(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"load generator: refusing non-loopback target {base_url}")


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


# -- wrk ----------------------------------------------------------------------------------------

_LUA = """
local lines, n, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    lines[n] = line
  end
end
function request()
  i = i % n + 1
  local method, path, headers, body = lines[i]:match("^(%S+)\\t(%S+)\\t([^\\t]*)\\t(.*)$")
  local h = {}
  for name, value in headers:gmatch("([^\\1]+)\\1([^\\2]*)\\2") do h[name] = value end
  return wrk.format(method, path, h, body ~= "" and body or nil)
end
"""
"""Requests are formatted when sent (formatting thousands up front would eat the time)."""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"wrk: cannot read latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _request_line(request: Request) -> str:
    """One request per line for the Lua script: fields by TAB, headers by \\1 and \\2."""
    headers = "".join(f"{k}\x01{v}\x02" for k, v in request.headers.items())
    body = request.body.decode("utf-8")
    if any(ch in body for ch in "\t\n\x01\x02"):
        raise ValueError("wrk: request bodies must be single-line JSON without tabs")
    return f"{request.method}\t{request.path}\t{headers}\t{body}"


def parse_wrk(output: str, seconds: float) -> LoadResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    p50 = re.search(r"^\s*50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", output, re.M)
    if not (done and p50 and p99):
        raise RuntimeError(f"wrk: unexpected output:\n{output}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    elapsed = _ms(done.group(2) + done.group(3)) / 1e3
    return LoadResult(
        "wrk", int(done.group(1)), elapsed or seconds, failed, _ms(p50.group(1)), _ms(p99.group(1))
    )


def run_wrk(
    base_url: str, requests: list[Request], duration: float, connections: int
) -> LoadResult:
    _loopback_only(base_url)
    with tempfile.TemporaryDirectory(prefix="kp-bench-wrk-") as tmp:
        script = Path(tmp) / "requests.lua"
        data = Path(tmp) / "requests.txt"
        script.write_text(_LUA, encoding="utf-8")
        data.write_text("\n".join(_request_line(r) for r in requests) + "\n", encoding="utf-8")
        cmd = [
            "wrk",
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "--latency",
            "--script",
            str(script),
            base_url,
            "--",
            str(data),
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 30, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    return parse_wrk(done.stdout, duration)


# -- Python fallback ----------------------------------------------------------------------------


async def _python_load(
    base_url: str, requests: list[Request], duration: float, connections: int
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            request = requests[counter % len(requests)]
            counter += 1
            started = time.perf_counter()
            try:
                response = await client.request(
                    request.method,
                    request.path,
                    headers=request.headers,
                    content=request.body or None,
                )
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1e3)

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        await asyncio.gather(*(worker(client) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
    p50 = statistics.median(latencies) if latencies else 0.0
    return LoadResult("python", len(latencies), elapsed, errors, p50, p99)


def run_python(
    base_url: str, requests: list[Request], duration: float, connections: int
) -> LoadResult:
    _loopback_only(base_url)
    return asyncio.run(_python_load(base_url, requests, duration, connections))


def run_load(
    base_url: str,
    requests: list[Request],
    *,
    duration: float,
    connections: int,
    generator: str = "auto",
) -> LoadResult:
    """Send `requests` round-robin for `duration` seconds; `generator`: auto, wrk or python."""
    if not requests:
        raise ValueError("load generator: no requests to send")
    use_wrk = generator == "wrk" or (generator == "auto" and wrk_available())
    if use_wrk:
        return run_wrk(base_url, requests, duration, connections)
    return run_python(base_url, requests, duration, connections)
