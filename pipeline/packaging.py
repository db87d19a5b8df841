"""`longtail pack`: longtail and its dependencies as one archive for Spark executors.

    longtail pack --out longtail-env.tar.gz
    PYSPARK_PYTHON=./environment/bin/python \\
        spark-submit --archives longtail-env.tar.gz#environment jobs/submit.py run ...

The archive is a fresh virtual environment packed with venv-pack (the way Spark's Python
packaging guide ships dependencies): longtail is built from its source into a wheel and
installed with its dependencies, except pyspark itself, which executors take from the cluster's
own Spark. The environment you develop in is never packed:
an editable install points back at the checkout, which executors elsewhere do not have.

The interpreter is not in the archive: `bin/python` links to the one that built the
environment, so executors need the same Python version at the same path, or at the path
given with `--python-prefix`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.parser import HeaderParser
from importlib.util import find_spec
from pathlib import Path

from longtail.errors import UsageError

DEFAULT_ARCHIVE = "longtail-env.tar.gz"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar", ".zip")
EXECUTOR_EXTRAS: tuple[str, ...] = ()
# Executors import pyspark from the cluster's Spark (SPARK_HOME/python/lib/pyspark.zip);
# a second copy in the archive would be 450 MB of jars that must match the cluster anyway.
LEFT_OUT = frozenset({"pyspark"})
PROJECT_NAME = "longtail"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PackReport:
    """What `pack_environment` built and how long each step took."""

    archive: Path
    archive_bytes: int
    python_version: str
    requirements: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    install_seconds: float = 0.0
    compress_seconds: float = 0.0
    seconds: float = 0.0


def project_source() -> Path | None:
    """The source checkout this `pipeline` package was imported from, if it is one."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and f'name = "{PROJECT_NAME}"' in pyproject.read_text("utf-8"):
        return root
    return None


def wheel_requirements(metadata: str, extras: Sequence[str],
                       left_out: frozenset[str] = LEFT_OUT) -> list[str]:
    """What installing a wheel with `extras` would install, from its METADATA text: its own
    requirements and those of `extras`, markers evaluated for this interpreter, without the
    distributions in `left_out` and without requirements on the project itself."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    headers = HeaderParser().parsestr(metadata)
    project = canonicalize_name(headers.get("Name", ""))
    wanted: list[str] = []
    for line in headers.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in left_out or name == project:
            continue
        if requirement.marker is not None:
            if not any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)):
                continue
            requirement.marker = None
        if str(requirement) not in wanted:
            wanted.append(str(requirement))
    return wanted


def wheel_metadata(wheel: Path) -> str:
    """The METADATA text of a wheel file."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist()
                 if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
        if not names:
            raise UsageError(f"{wheel} is not a wheel: no *.dist-info/METADATA inside")
        return archive.read(names[0]).decode("utf-8")


def pack_environment(
    out: str | os.PathLike[str] = DEFAULT_ARCHIVE,
    *,
    source: str | os.PathLike[str] | None = None,
    python: str | None = None,
    python_prefix: str | None = None,
    extras: Sequence[str] = EXECUTOR_EXTRAS,
    compress_level: int = 4,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> PackReport:
    """Build a fresh environment holding longtail from `source` and pack it into `out`.

    `source` is a project folder or a built wheel (default: this checkout); `python` the
    interpreter the executors will run (default: the one running this). pip's own settings
    (index URL, find-links, cache) apply to the install.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    archive = _check_out(Path(out), overwrite)
    source_path = _check_source(source)
    python = python or sys.executable
    if not 0 <= compress_level <= 9:
        raise UsageError(f"--compress-level must be 0-9, got {compress_level}")
    if python_prefix is not None and not os.path.isabs(python_prefix):
        raise UsageError(f"--python-prefix must be an absolute path, got {python_prefix!r}")
    venv_pack = _import_venv_pack()

    with tempfile.TemporaryDirectory(prefix="longtail-pack-") as work:
        work_dir = Path(work)
        mark = time.perf_counter()
        if source_path.is_file():
            wheel = source_path
        else:
            say(f"building a wheel from {source_path}")
            wheel = _build_wheel(source_path, work_dir / "wheel")
        requirements = wheel_requirements(wheel_metadata(wheel), extras)
        build_seconds = time.perf_counter() - mark

        mark = time.perf_counter()
        env = work_dir / "environment"
        uses_own_pip = find_spec("pip") is None
        _run([python, "-m", "venv", *([] if uses_own_pip else ["--without-pip"]), str(env)],
             "creating the virtual environment")
        env_python = env / "bin" / "python"
        pip = ([str(env_python), "-m", "pip"] if uses_own_pip
               else [sys.executable, "-m", "pip", "--python", str(env_python)])
        say(f"installing {wheel.name} and {len(requirements)} requirements "
            f"(without {', '.join(sorted(LEFT_OUT))})")
        # No .pyc files: they would double the archive; executors compile what they import.
        # The wheel goes in without its own dependency resolution so that pyspark stays out.
        _run([*pip, "install", "--quiet", "--no-compile", *requirements],
             "installing longtail's dependencies into the environment")
        _run([*pip, "install", "--quiet", "--no-compile", "--no-deps", str(wheel)],
             "installing longtail into the environment")
        if uses_own_pip:
            _run([*pip, "uninstall", "--quiet", "--yes", "pip"], "removing pip")
        python_version = _run([str(env_python), "-c",
                               "import platform; print(platform.python_version())"],
                              "asking the environment for its Python version").strip()
        install_seconds = time.perf_counter() - mark

        mark = time.perf_counter()
        say(f"packing {env} into {archive}")
        partial = archive.with_name(f".{os.getpid()}-partial-{archive.name}")
        try:
            venv_pack.pack(prefix=str(env), output=str(partial), python_prefix=python_prefix,
                           compress_level=compress_level, force=True)
            os.replace(partial, archive)
        finally:
            partial.unlink(missing_ok=True)
        compress_seconds = time.perf_counter() - mark

    return PackReport(
        archive=archive,
        archive_bytes=archive.stat().st_size,
        python_version=python_version,
        requirements=requirements,
        build_seconds=round(build_seconds, 3),
        install_seconds=round(install_seconds, 3),
        compress_seconds=round(compress_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
    )


def _check_out(out: Path, overwrite: bool) -> Path:
    if not out.name.endswith(ARCHIVE_SUFFIXES):
        raise UsageError(f"--out must end in one of {', '.join(ARCHIVE_SUFFIXES)}: {out}")
    if out.is_dir():
        raise UsageError(f"--out is a folder: {out}")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise UsageError(f"folder of --out does not exist: {out.parent}")
    return out.resolve()


def _check_source(source: str | os.PathLike[str] | None) -> Path:
    if source is None:
        found = project_source()
        if found is None:
            raise UsageError("longtail is not installed from a source checkout here; "
                             "pass --source with the project folder or a longtail wheel")
        return found
    path = Path(source).resolve()
    if path.is_file() and path.suffix == ".whl":
        return path
    if path.is_dir() and (path / "pyproject.toml").is_file():
        return path
    raise UsageError(f"--source must be a project folder with pyproject.toml or a .whl file: "
                     f"{source}")


def _import_venv_pack():
    try:
        import venv_pack
    except ImportError:
        raise UsageError("longtail pack needs venv-pack: pip install 'longtail[cluster]'") from None
    return venv_pack


def _build_wheel(project: Path, into: Path) -> Path:
    leftovers = [d for d in (project / "build",) if not d.exists()]
    try:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir",
              str(into), str(project)], f"building a wheel from {project}")
    finally:
        for folder in leftovers:  # setuptools builds inside the project; leave it as found
            shutil.rmtree(folder, ignore_errors=True)
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {into}, found {[w.name for w in wheels]}")
    return wheels[0]


def _run(command: list[str], what: str) -> str:
    """Run a command (never through a shell); its output on success, a clear error if not."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
                           f"{tail}")
    return result.stdout


def cmd_pack(args: argparse.Namespace) -> int:
    report = pack_environment(
        args.out, source=args.source, python=args.python, python_prefix=args.python_prefix,
        extras=(*EXECUTOR_EXTRAS, *(args.extra or ())), compress_level=args.compress_level,
        overwrite=args.overwrite, progress=lambda m: print(f"[longtail] {m}", file=sys.stderr))
    size_mb = report.archive_bytes / 1e6
    print(f"{report.archive}  {size_mb:,.1f} MB  Python {report.python_version}  "
          f"{report.seconds:.0f} s (build {report.build_seconds:.0f}, install "
          f"{report.install_seconds:.0f}, compress {report.compress_seconds:.0f})")
    print(f"ship it:  PYSPARK_PYTHON=./environment/bin/python spark-submit "
          f"--archives {report.archive}#environment ...")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add `longtail pack` to the CLI's subcommands."""
    description = "pack longtail and its dependencies into an archive for Spark executors"
    p = subparsers.add_parser("pack", help=description, description=description)
    p.add_argument("--out", default=DEFAULT_ARCHIVE, metavar="ARCHIVE",
                   help=f"archive to write, .tar.gz or .zip (default {DEFAULT_ARCHIVE})")
    p.add_argument("--source", metavar="PATH", default=None,
                   help="project folder or longtail wheel to install (default: this checkout)")
    p.add_argument("--python", metavar="EXE", default=None,
                   help="interpreter for the environment; executors need this Python version "
                        "(default: the one running longtail)")
    p.add_argument("--python-prefix", metavar="DIR", default=None,
                   help="where Python is installed on the executors, if not where it is here "
                        "(e.g. /usr)")
    p.add_argument("--extra", action="append", metavar="NAME", default=None,
                   help="an extra of longtail to include, e.g. analysis (repeatable); pyspark "
                        "is always left out")
    p.add_argument("--compress-level", type=int, default=4, metavar="N",
                   help="gzip level 0-9 (default 4; 1 is fastest, 9 smallest)")
    p.add_argument("--overwrite", action="store_true", help="replace ARCHIVE if it exists")
    p.set_defaults(handler=cmd_pack)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m longtail.packaging WHEEL [EXTRA...]`: the requirements `longtail pack` installs
    with a wheel, one per line (container images install them beside a Spark of their own)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m longtail.packaging WHEEL [EXTRA ...]", file=sys.stderr)
        return 2
    for requirement in wheel_requirements(wheel_metadata(Path(args[0])), args[1:]):
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
