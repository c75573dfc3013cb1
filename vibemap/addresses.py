"""Whether a server can listen on the ``--host`` given to `vibemap serve`, `demo` or `ui`,
checked before any work starts: a typo gets one line naming the flag, not the web server's
"Name or service not known" (or an HTTP client's error) after the artifact has loaded."""

from __future__ import annotations

import socket


def host_problem(host: str) -> str | None:
    """None if ``host`` is an address or a name this machine resolves, else one line why."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        return (f"cannot listen on host {host!r}: not an address or a name this machine "
                f"resolves ({reason}); e.g. 127.0.0.1, or 0.0.0.0 for every interface")
    return None
