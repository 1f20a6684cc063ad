"""Helpers for tests that check the ledger writer's child processes (Linux ``/proc``)."""

from __future__ import annotations

import os
from pathlib import Path


def ledger_children() -> list[int]:
    """Pids of this process's ``aqbot.io.ledger_child`` children that have not been reaped."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after the command name, which may hold spaces
        if ppid == os.getpid() and b"aqbot.io.ledger_child" in cmdline:
            found.append(int(entry))
    return found
