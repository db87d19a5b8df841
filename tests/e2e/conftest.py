"""The real `longtail` command, and one demo run shared by the end-to-end tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LONGTAIL = [sys.executable, "-m", "longtail.jobs.cli"]


def longtail(*args: str, cwd: Path | None = None, timeout: int = 600):
    return subprocess.run([*LONGTAIL, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`longtail demo` run once: (output folder, completed process)."""
    if shutil.which("java") is None:
        pytest.skip("the demo needs Java 17 on PATH")
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    result = longtail("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result
