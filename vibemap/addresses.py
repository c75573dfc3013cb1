"""Whether a server can listen where `vibemap serve`, `demo` or `ui` is told to, checked
before any work starts: a typo in ``--host`` or a port already taken gets one line naming
it, not the web server's own error after the artifact has loaded (or been built)."""

from __future__ import annotations

import socket

MAX_PORT = 65535


def port_problem(port: int) -> str | None:
    """None for a TCP port number a server may be given (0: any free port), else why not."""
    return None if 0 <= port <= MAX_PORT else f"must be between 0 and {MAX_PORT}, got {port}"


def host_problem(host: str) -> str | None:
    """None if ``host`` is an address or a name this machine resolves, else one line why."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        return (f"cannot listen on host {host!r}: not an address or a name this machine "
                f"resolves ({reason}); e.g. 127.0.0.1, or 0.0.0.0 for every interface")
    return None


def listen_problem(host: str, port: int) -> str | None:
    """None if a server can bind ``host``:``port`` now, else one line why (the host does not
    resolve, the port is taken or not allowed). Port 0 (any free port) always can."""
    if problem := host_problem(host):
        return problem
    if port == 0:
        return None
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return (f"cannot listen on {host}:{port}: {exc.strerror or exc} (another server "
                    "there? choose another --port)")
    return None
