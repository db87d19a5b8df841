"""The source layout: one installed namespace, and imports that go one way.

Read from the source, not from what happens to import: the core (pipeline/, installed as
`longtail`) never imports the Spark layer (jobs/, `longtail.jobs`) or pyspark, not even inside
a function; `longtail.query` and `longtail.analysis` do not import each other; nothing imports
the folders' own names (`pipeline`, `jobs`, `schemas`), which exist only in a checkout.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"pipeline": "longtail", "jobs": "longtail.jobs", "schemas": "longtail.schemas"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth, with its line; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}:{node.lineno}: relative import")
            found.append((node.lineno, node.module or ""))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    name = ".".join([FOLDERS[folder], *rest])
    return name.removesuffix(".__init__")


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def violations(folder: str, forbidden: tuple[str, ...], skip: tuple[str, ...] = ()) -> list:
    found = []
    for path in sources(folder):
        name = module_name(path)
        if name.startswith(skip):
            continue
        for line, module in imported_modules(path):
            if module == forbidden or module.startswith(forbidden) or any(
                    module == f or module.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


def test_the_core_never_imports_the_spark_layer_or_pyspark():
    assert len(sources("pipeline")) > 60
    assert violations("pipeline", ("longtail.jobs", "pyspark", "py4j")) == []


def test_query_and_analysis_do_not_import_each_other():
    assert violations("pipeline/query", ("longtail.analysis",)) == []
    assert violations("pipeline/analysis", ("longtail.query",)) == []


def test_schemas_import_only_pyarrow_and_themselves():
    for path in sources("schemas"):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            assert top in ("__future__", "pyarrow") or module.startswith("longtail.schemas"), \
                f"{path.relative_to(ROOT)}:{line} imports {module}"


def test_nothing_imports_the_checkout_folder_names():
    for folder in ("pipeline", "jobs", "schemas", "tests", "bench"):
        for path in sources(folder):
            for line, module in imported_modules(path):
                assert module.split(".")[0] not in FOLDERS, \
                    f"{path.relative_to(ROOT)}:{line} imports {module}; use {FOLDERS}"
            text = path.read_text(encoding="utf-8")
            for name in FOLDERS:
                assert f'files("{name}")' not in text and f'"-m", "{name}.' not in text, path


def test_every_package_folder_is_installed_under_longtail():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"longtail": "pipeline", "longtail.jobs": "jobs",
                                         "longtail.schemas": "schemas"}
    folders = sorted(module_name(p) for folder in FOLDERS for p in sources(folder)
                     if p.name == "__init__.py")
    assert sorted(setuptools["packages"]) == folders
    assert pyproject["project"]["scripts"]["longtail"] == "longtail.jobs.cli:main"


BLOCK_OPTIONAL = """
import importlib.abc, sys
BLOCKED = {"scipy", "matplotlib", "datasketch", "venv_pack", "pytest"}

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
sys.path = [p for p in sys.path if p not in ("", ".") and not p.endswith("/main")]
from longtail.jobs.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_extras(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_OPTIONAL, *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_a_plain_install_answers_help_and_names_the_missing_extra(tmp_path):
    """Without the analysis and cluster extras the command still starts; a command that needs
    one says in one line which extra to install."""
    helped = run_without_extras("--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "status" in helped.stdout and "analyze" in helped.stdout
    out = tmp_path / "out"
    out.mkdir()
    for args, extra in ((["analyze", "accuracy", str(out), "--predictions", "p.jsonl"],
                         "analysis"),
                        (["duplicates", str(out)], "analysis"),
                        (["pack", "--out", str(tmp_path / "env.tar.gz")], "cluster")):
        result = run_without_extras(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr[-2000:])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and f"longtail[{extra}]" in lines[0], (args, lines)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", ["longtail.jobs.cli", "longtail.jobs.submit"])
def test_the_spark_layer_imports_under_its_installed_name(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                            text=True, cwd="/", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
