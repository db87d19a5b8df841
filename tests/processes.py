"""Killing a whole process tree, as a crash or `kill -9` of a machine's job would.

PySpark's worker daemon moves itself into its own process group, so killing the driver's group
misses it, and it can go on to finish a task after the "crash". Every descendant is stopped
first (so none can start more), then all are killed.
"""

from __future__ import annotations

import signal
import subprocess

import psutil


def kill_process_tree(pid: int) -> int:
    """SIGKILL `pid` and every process descended from it; returns how many were killed."""
    root = psutil.Process(pid)
    frozen: dict[int, psutil.Process] = {}
    while True:  # freeze the tree, taking in processes started while freezing it
        found = [root, *root.children(recursive=True)]
        new = [p for p in found if p.pid not in frozen]
        if not new:
            break
        for process in new:
            try:
                process.send_signal(signal.SIGSTOP)
            except psutil.NoSuchProcess:
                continue
            frozen[process.pid] = process
    for process in frozen.values():
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(list(frozen.values()), timeout=30)
    return len(frozen)


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a server the tests started: SIGTERM, then SIGKILL if it has not ended in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
