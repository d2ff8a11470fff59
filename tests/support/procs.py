"""Processes from /proc: the process tree, command lines, pid files, and killing what a test or
benchmark left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path


def children() -> dict[int, list[int]]:
    """parent pid -> child pids, of every process now."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    tree, found, todo = children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def pid_files(folder: Path) -> list[int]:
    """The pids written in `folder`/*.pid."""
    pids = []
    for f in folder.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(f.read_text().strip()))
    return pids


def kill_leftovers(folder: Path) -> list[str]:
    """SIGKILL, by pid, any process whose command line names `folder` (a test's temporary
    folder); returns their pids."""
    found = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True).stdout.split()
    pids = [p for p in found if int(p) != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    return pids


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a LISTEN socket on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, hexport = fields[1].rsplit(":", 1)
            if fields[3] != "0A" or int(hexport, 16) != port:
                continue
            raw = bytes.fromhex(addr)
            if len(raw) == 4:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found
