"""The TCP listener's address (`http.listen`): "host:port", IPv6 in brackets; pure parsing."""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
_NUMERIC = re.compile(r"^[0-9.]+$")  # looks like IPv4: must be a valid one, not a host name
EXAMPLE = 'host:port, such as "127.0.0.1:3000" or "[::1]:3000"'


class ListenAddress(NamedTuple):
    host: str  # an IP literal (IPv6 without brackets) or a host name
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def parse_listen(value: str) -> ListenAddress:
    """ "127.0.0.1:3000", "[::1]:3000", "localhost:3000" -> ListenAddress; ValueError otherwise
    (the message says what is wrong, for a one-line configuration error)."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected {EXAMPLE}")
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets: expected {EXAMPLE}")
    elif not _is_ipv4(host) and (_NUMERIC.match(host) or not _HOSTNAME.match(host)):
        raise ValueError(f"{host!r} is not an IP address or host name")
    return ListenAddress(host, int(port_text))


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
