"""`HOST:PORT` values of the deploy commands (`--listen`, `--upstream`), parsed and checked
once so the generated files never carry an address nginx or systemd would reject."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class BadAddress(ValueError):
    """A `HOST:PORT` value that cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class HostPort:
    host: str  # an IPv4 address, an IPv6 address (without brackets) or a host name
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.is_ipv6 else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_host_port(value: str) -> HostPort:
    """`127.0.0.1:8001`, `[::1]:8001` or `app.internal:8001`; `BadAddress` otherwise."""
    text = value.strip()
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise BadAddress(f"{value!r}: an IPv6 address is written [ADDRESS]:PORT")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise BadAddress(f"{value!r}: expected HOST:PORT, e.g. 127.0.0.1:8001")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise BadAddress(f"{value!r}: the port must be a number from 1 to 65535")
    check_host(host, value)
    return HostPort(host, int(port_text))


def check_host(host: str, value: str) -> None:
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    if ":" in host:
        raise BadAddress(f"{value!r}: {host!r} is not an IPv6 address")
    if not _HOSTNAME.match(host):
        raise BadAddress(f"{value!r}: {host!r} is neither an IP address nor a host name")
