"""A real Spark standalone cluster on 127.0.0.1: one master and N workers, each its own JVM.

They are started with `spark-class` from the pip-installed pyspark. While they run, a thread
notes every process they start (walking /proc down from each daemon), and `stop()` kills all
of them: process groups are not enough, since pyspark's Python worker daemon moves itself
into a group of its own and can outlive the executor that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pyspark

STOP_GRACE_SECONDS = 10.0
GONE_TIMEOUT_SECONDS = 20.0
WATCH_SECONDS = 0.5

# A process by pid and start time (clock ticks after boot): a pid reused later is another one.
Process = tuple[int, int]


def spark_home() -> Path:
    """SPARK_HOME of the pip-installed pyspark: the package folder holds bin/, jars/, python/."""
    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spark_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment for Spark's scripts, without settings that would leak a
    surrounding Spark or Python setup into the cluster."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK_", "SPARK_")) and k != "PYTHONPATH"}
    env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"})
    env.update(extra or {})
    return env


class StandaloneCluster:
    """`with StandaloneCluster(folder, workers=2) as cluster:` ... `cluster.master_url`."""

    def __init__(self, folder: Path, workers: int = 2, cores: int = 1, memory: str = "1g",
                 start_timeout: float = 90.0):
        self.folder = folder
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.start_timeout = start_timeout
        self.port = free_port()
        self.ui_port = free_port()
        self.master_url = f"spark://127.0.0.1:{self.port}"
        self._processes: list[tuple[str, subprocess.Popen]] = []
        self._started: set[Process] = set()
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    def worker_dir(self, index: int) -> Path:
        return self.folder / f"worker-{index}"

    def start(self) -> StandaloneCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._launch("master", ["org.apache.spark.deploy.master.Master",
                                "--host", "127.0.0.1", "--port", str(self.port),
                                "--webui-port", str(self.ui_port)])
        self._watcher.start()
        self._wait(lambda state: True, "the master to answer")
        for i in range(self.workers):
            self.worker_dir(i).mkdir(exist_ok=True)
            self._launch(f"worker-{i}", [
                "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--webui-port", str(free_port()), "--cores", str(self.cores),
                "--memory", self.memory, "--work-dir", str(self.worker_dir(i)),
                self.master_url])
        self._wait(lambda state: state.get("aliveworkers", 0) >= self.workers,
                   f"{self.workers} workers to register")
        return self

    def state(self) -> dict:
        """The master's own view (its web UI's JSON): workers, cores, applications."""
        url = f"http://127.0.0.1:{self.ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)

    def logs(self) -> str:
        """The tail of every daemon's log, to show when something failed."""
        parts = []
        for name, _ in self._processes:
            path = self.folder / f"{name}.log"
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- {name} ---\n" + "\n".join(lines[-30:]))
        return "\n".join(parts)

    def alive_pids(self) -> list[int]:
        """Processes of the cluster still running: its JVMs, executors and Python workers."""
        return sorted(process[0] for process in self._started if _running(process))

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        self._started |= _trees(p.pid for _, p in self._processes)
        for _, process in self._processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _, process in self._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
        self._started |= _trees(p.pid for _, p in self._processes)
        _kill_and_wait(self._started)
        for _, process in self._processes:
            process.wait()

    def __enter__(self) -> StandaloneCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            self._started |= _trees(p.pid for _, p in list(self._processes))

    def _launch(self, name: str, arguments: list[str]) -> None:
        log = (self.folder / f"{name}.log").open("w")
        env = spark_env({"SPARK_LOG_DIR": str(self.folder), "SPARK_NO_DAEMONIZE": "1"})
        process = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), *arguments], cwd=self.folder,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        log.close()
        self._processes.append((name, process))

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}\n{self.logs()}")
            with contextlib.suppress(OSError, ValueError):
                if ready(self.state()):
                    return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}\n{self.logs()}")


def run_in_group(command: list[str], *, env: dict[str, str], cwd: Path, log: Path,
                 timeout: float) -> int:
    """Run `command` with its output in `log`; return its exit code (-1: timed out).

    Whatever it started (a driver JVM, Python workers) is killed when it ends, fails or
    times out, so nothing outlives the call.
    """
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started: set[Process] = set()
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            started |= _trees([process.pid])  # children may outlive it, so note them now
            time.sleep(WATCH_SECONDS)
        return process.returncode if process.returncode is not None else -1
    finally:
        _kill_and_wait(started | _trees([process.pid]))
        process.wait()


def log_tail(log: Path, lines: int = 60) -> str:
    """The end of a log, without Spark's console progress bars."""
    text = log.read_text(errors="replace") if log.exists() else ""
    kept = [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("[Stage ")]
    return "\n".join(kept[-lines:])


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _identity(pid: int) -> Process | None:
    fields = _stat(pid)
    return (pid, int(fields[19])) if fields else None


def _trees(roots) -> set[Process]:
    """The given pids and all their descendants that are running now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(int(stat.parent.name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[Process] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        identity = _identity(pid)
        if identity and identity not in found and _running(identity):
            found.add(identity)
            todo.extend(children.get(pid, []))
    return found


def _running(process: Process) -> bool:
    """Still the same process, alive and not a zombie waiting to be reaped."""
    fields = _stat(process[0])
    return bool(fields) and int(fields[19]) == process[1] and fields[0] not in ("Z", "X")


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _kill_and_wait(processes: set[Process]) -> None:
    """SIGKILL every process still running (and a group it leads); wait until all are gone."""
    for process in processes:
        if _running(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(process[0]) == process[0]:
                    os.killpg(process[0], signal.SIGKILL)
                os.kill(process[0], signal.SIGKILL)
    deadline = time.monotonic() + GONE_TIMEOUT_SECONDS
    while any(_running(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.1)


def requires_dist_text() -> str:
    """The installed project's Requires-Dist lines as METADATA text (its description, the
    README, would not survive `Message.as_string()`)."""
    from importlib.metadata import metadata

    return "".join(f"Requires-Dist: {r}\n" for r in metadata("longtail").get_all("Requires-Dist"))
