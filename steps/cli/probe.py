"""One TCP probe, shared by the checks that name a dead server in seconds instead of retrying for minutes."""

from __future__ import annotations

import socket

TIMEOUT_S = 5.0


def unreachable(host: str, port: int, timeout: float = TIMEOUT_S) -> str | None:
    """Why a TCP connection to host:port cannot be opened (e.g. 'Connection refused'), or None if it can."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        return error.strerror or type(error).__name__
    return None
