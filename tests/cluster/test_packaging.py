"""`longtail pack` without packing: requirements, checks of its options, the subcommand.

The archive itself is checked in test_standalone.py, where it is built once for the cluster.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from longtail.errors import UsageError
from longtail.packaging import (
    DEFAULT_ARCHIVE,
    pack_environment,
    project_source,
    register,
    wheel_requirements,
)
from tests.cluster.standalone import requires_dist_text

ROOT = Path(__file__).resolve().parents[2]

METADATA = """\
Metadata-Version: 2.1
Name: example
Version: 1.0
Requires-Dist: pyarrow>=14
Requires-Dist: tomli; python_version < "3.10"
Requires-Dist: pyspark>=3.5
Requires-Dist: pandas<3,>=2.2
Requires-Dist: matplotlib>=3.7; extra == "analysis"
Requires-Dist: example[analysis]; extra == "dev"
Requires-Dist: pytest>=8; extra == "dev"

A description.
"""


def test_wheel_requirements_are_its_own_and_its_extras_without_pyspark():
    assert wheel_requirements(METADATA, []) == ["pyarrow>=14", "pandas<3,>=2.2"]
    assert wheel_requirements(METADATA, ["analysis"]) == [
        "pyarrow>=14", "pandas<3,>=2.2", "matplotlib>=3.7"]
    assert wheel_requirements(METADATA, ["dev"]) == ["pyarrow>=14", "pandas<3,>=2.2",
                                                     "pytest>=8"]


def test_wheel_requirements_of_longtail_itself_leave_out_pyspark():
    wanted = wheel_requirements(requires_dist_text(), [])
    names = {w.split("<")[0].split(">")[0].split("=")[0].lower() for w in wanted}
    assert {"pandas", "pyarrow", "duckdb"} <= names and "pyspark" not in names


def test_project_source_is_this_checkout():
    assert project_source() == ROOT


@pytest.mark.parametrize("out, message", [
    ("env.txt", "must end in one of"),
    ("missing-folder/env.tar.gz", "does not exist"),
])
def test_bad_archive_names_are_usage_errors(tmp_path, out, message):
    with pytest.raises(UsageError, match=message):
        pack_environment(tmp_path / out)


def test_an_existing_archive_is_kept_without_overwrite(tmp_path):
    archive = tmp_path / "env.tar.gz"
    archive.write_bytes(b"earlier archive")
    with pytest.raises(UsageError, match="--overwrite"):
        pack_environment(archive)
    assert archive.read_bytes() == b"earlier archive"


@pytest.mark.parametrize("keyword, value, message", [
    ("source", "no-such-project", "--source must be"),
    ("python_prefix", "usr", "absolute path"),
    ("compress_level", 12, "0-9"),
])
def test_bad_options_are_usage_errors(tmp_path, keyword, value, message):
    with pytest.raises(UsageError, match=message):
        pack_environment(tmp_path / "env.tar.gz", **{keyword: value})
    assert not (tmp_path / "env.tar.gz").exists()


def test_register_adds_the_pack_command():
    parser = argparse.ArgumentParser(prog="longtail")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["pack", "--python-prefix", "/usr", "--extra", "analysis"])
    assert (args.out, args.python_prefix, args.extra, args.compress_level) == (
        DEFAULT_ARCHIVE, "/usr", ["analysis"], 4)
    assert args.handler.__name__ == "cmd_pack"
