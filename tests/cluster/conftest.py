"""Fixtures for the cluster tests: the packed environment, built once per run in the background.

Packing takes half a minute to a minute (a wheel build, a pip install into a fresh
environment, gzip), so `packing` starts it in a thread and hands out the future: a test can do
other slow work, such as the local-mode reference run, while the archive is being built.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from longtail.packaging import PackReport, pack_environment


def require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("cluster tests need Java 17 on PATH or JAVA_HOME")


@pytest.fixture(scope="session")
def packing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Future[PackReport]]:
    """`longtail pack` of this checkout, running in the background; `.result()` waits."""
    pytest.importorskip("venv_pack", reason="longtail pack needs venv-pack: "
                                            "pip install -e '.[dev]'")
    archive = tmp_path_factory.mktemp("pack") / "longtail-env.tar.gz"
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="longtail-pack")
    future = pool.submit(pack_environment, archive)
    try:
        yield future
    finally:
        pool.shutdown(wait=True)  # pip and gzip finish before the temporary folders go
