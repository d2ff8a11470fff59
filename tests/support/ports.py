"""Free loopback ports for the local broker, the local cluster and the job's web UI."""

from __future__ import annotations

import socket


def free_ports(n: int) -> list[int]:
    """n consecutive free loopback ports (the second worker's web UI is the first one's + 1)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return list(range(base, base + n))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


def free_port() -> int:
    return free_ports(1)[0]
