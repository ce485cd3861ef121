"""Raw bytes on the control socket, for requests no HTTP client library would send."""

from __future__ import annotations

import json
import socket
from typing import Any


def connect(path: str, timeout: float = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(path)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (the socket timeout is the deadline)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One response: its head, then Content-Length bytes (or until the server closes)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        chunk = sock.recv(65536)
        if not chunk:
            return raw
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    length = parse(head + b"\r\n\r\n")[1].get("Content-Length")
    while length is not None and len(body) < int(length):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def exchange(path: str, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], Any]:
    """Send `data`, parse the one response."""
    with connect(path, timeout) as sock:
        sock.sendall(data)
        return parse(read_response(sock))


def parse(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None
