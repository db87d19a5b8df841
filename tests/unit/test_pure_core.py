"""Every module of `pipeline` imports where pyspark is absent: the core is pure Python."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import longtail

BLOCK_PYSPARK = """
import importlib.abc, importlib.util, sys

class NoSpark(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pyspark" or name.startswith("pyspark.") or name == "py4j":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NoSpark())
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
assert not any(m == "pyspark" or m.startswith("pyspark.") for m in sys.modules)
print(len(sys.argv) - 1)
"""


def test_every_pipeline_module_imports_without_pyspark():
    modules = sorted(m.name for m in pkgutil.walk_packages(longtail.__path__, "longtail."))
    assert len(modules) > 30
    result = subprocess.run([sys.executable, "-c", BLOCK_PYSPARK, *modules],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(len(modules))
