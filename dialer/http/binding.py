"""Binding a listening socket before anything runs, so a port that cannot be had is one clear
line (`ListenError`) rather than a traceback from deep inside a server."""

from __future__ import annotations

import errno
import socket

DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise (--host / DIALER_HTTP_HOST)
_BACKLOG = 1024


class ListenError(Exception):
    """An address this process cannot listen on; the message says why and what to do."""


def host_port(host: str, port: int) -> str:
    """`host:port` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _why(exc: OSError, flag: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"the port is already in use; stop what listens there or choose another {flag}"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose a higher port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that is not an address of this machine; check --host (DIALER_HTTP_HOST)"
    return exc.strerror or str(exc)


def listening_socket(host: str, port: int, flag: str = "port") -> socket.socket:
    """A TCP socket listening on host:port (port 0: any free one). `flag` names the option
    that chose the port, for the message. Raises ListenError."""
    shown = host_port(host, port)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on {shown} ({flag}): unknown host ({exc.strerror}); "
            "check --host (DIALER_HTTP_HOST)"
        ) from None
    family, _, _, _, address = found[0]
    try:
        return socket.create_server(address, family=family, backlog=_BACKLOG)
    except OSError as exc:
        raise ListenError(f"cannot listen on {shown} ({flag}): {_why(exc, flag)}") from None


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])
