"""A free local port, for a server started on demand (the Rasa server, a test's ``serve``).

The port is free when asked; another process may take it before the caller binds it, which
is why callers that can retry on "address in use" do.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
