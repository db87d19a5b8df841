"""Model files carry content checksums: a damaged file stops the load in one line, copies load.

The model is the sample model (longtail/sample/wikistats). "Damaged" here is what a disk or a
careless copy does: a file overwritten with other bytes of the same size, which a size check
cannot see and which made the linker link silently worse.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from longtail.errors import UsageError
from longtail.linking.spec import model_id
from longtail.linking.statistical import StatisticalLinker, import_wikistats, verify_model
from longtail.sample import SAMPLE_WIKISTATS

GOLDEN_WIKISTATS = SAMPLE_WIKISTATS
TEXT = "Paris is the capital of France. Homer wrote the Iliad; Achilles fought at Troy."


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("checksums") / "model"
    import_wikistats(GOLDEN_WIKISTATS, folder)
    return folder


@pytest.fixture
def model(pristine, tmp_path) -> Path:
    """A copy that keeps the modification times (as `cp -p`), for a test to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "model", copy_function=shutil.copy2))


def header(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text(encoding="utf-8"))


def damage(path: Path) -> None:
    """Other bytes, the same size."""
    data = path.read_bytes()
    path.write_bytes(bytes(b ^ 0x5A for b in data))


def test_every_file_is_recorded_with_the_sha256_of_its_bytes(pristine):
    files = header(pristine)["files"]
    on_disk = {p.name for p in pristine.iterdir()} - {"model.json"}
    assert set(files) == on_disk and "stopwords.list" in files and len(files) == 26
    for name, recorded in files.items():
        data = (pristine / name).read_bytes()
        assert recorded["size"] == len(data)
        assert recorded["sha256"] == hashlib.sha256(data).hexdigest()
        assert recorded["mtime_ns"] == (pristine / name).stat().st_mtime_ns
    assert verify_model(pristine) == []


def test_a_same_size_damaged_file_is_refused_in_one_line(model):
    damage(model / "pair_count.bin")  # a new modification time: its sha256 is checked
    with pytest.raises(UsageError) as refused:
        StatisticalLinker.load(model)
    message = str(refused.value)
    assert "\n" not in message
    assert message == (f"model {model} is damaged: pair_count.bin does not match the sha256 "
                       f"model.json records for it")
    assert verify_model(model) == [
        f"{model}: pair_count.bin does not match the sha256 model.json records for it"]


def test_a_damaged_file_with_its_time_set_back_is_found_by_verify_model(model, pristine):
    path = model / "context_count.bin"
    recorded = header(model)["files"]["context_count.bin"]["mtime_ns"]
    damage(path)
    os.utime(path, ns=(recorded, recorded))
    # the load's shortcut (same size, same time: no sha256) cannot see it ...
    assert StatisticalLinker.load(model).annotate(TEXT) != \
        StatisticalLinker.load(pristine).annotate(TEXT)
    # ... which is what `longtail status --verify` is for
    assert verify_model(model) == [
        f"{model}: context_count.bin does not match the sha256 model.json records for it"]


def test_a_missing_or_resized_file_is_refused(model, capsys):
    (model / "sf_hash.bin").write_bytes(b"\0" * 7)
    with pytest.raises(UsageError, match=r"damaged: sf_hash.bin has 7 bytes, model.json says"):
        StatisticalLinker.load(model)
    (model / "stopwords.list").unlink()
    assert verify_model(model) == [
        f"{model}: sf_hash.bin has 7 bytes, model.json says 872",
        f"{model}: stopwords.list is missing"]
    from longtail.jobs.cli import main

    assert main(["annotate", "--model", str(model), TEXT]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("longtail: error: model ")
    assert "sf_hash.bin" in err[0] or "stopwords.list" in err[0]


def test_copies_load_and_link_the_same(pristine, tmp_path):
    expected = StatisticalLinker.load(pristine).annotate(TEXT)
    assert len(expected) >= 4
    copy = tmp_path / "copied"
    subprocess.run(["cp", "-r", str(pristine), str(copy)], check=True)  # new times
    assert (copy / "sf_hash.bin").stat().st_mtime_ns != \
        header(copy)["files"]["sf_hash.bin"]["mtime_ns"]
    assert StatisticalLinker.load(copy).annotate(TEXT) == expected
    assert verify_model(copy) == []
    assert model_id(str(copy)) == model_id(str(pristine))


def test_the_model_id_changes_with_any_content(pristine, tmp_path):
    again = tmp_path / "again"
    import_wikistats(GOLDEN_WIKISTATS, again)  # the same data: other times, the same id
    assert header(again)["files"] != header(pristine)["files"]
    assert model_id(str(again)) == model_id(str(pristine))
    other = tmp_path / "other"
    import_wikistats(GOLDEN_WIKISTATS, other, min_context_count=1)
    assert header(other)["files"]["context_count.bin"]["sha256"] != \
        header(pristine)["files"]["context_count.bin"]["sha256"]
    assert model_id(str(other)) != model_id(str(pristine))


def test_a_model_written_before_the_record_still_loads(model):
    data = header(model)
    del data["files"]
    (model / "model.json").write_text(json.dumps(data), encoding="utf-8")
    damage(model / "pair_count.bin")
    assert StatisticalLinker.load(model).annotate(TEXT) is not None  # sizes only, as before
    assert verify_model(model) == []
    (model / "pair_entity.bin").write_bytes(b"")
    assert verify_model(model) == [f"{model}: pair_entity.bin has 0 bytes, model.json says 500"]


def test_verify_model_on_a_folder_that_is_not_a_model(tmp_path):
    assert verify_model(tmp_path) == [f"{tmp_path}: model.json is missing"]
    (tmp_path / "model.json").write_text("{", encoding="utf-8")
    assert verify_model(tmp_path)[0].startswith(f"{tmp_path}: model.json is unreadable")


@pytest.fixture(scope="module")
def s3():
    from tests.servers.object_store import s3_environment

    with s3_environment("models") as server:
        yield server


def test_a_model_copied_from_object_storage_is_verified_while_copied(s3, pristine, model,
                                                                    tmp_path, monkeypatch):
    from longtail.linking.model_copy import local_model

    intact = s3.upload("models", "intact", pristine)
    monkeypatch.setenv("LONGTAIL_MODEL_CACHE", str(tmp_path / "cache"))
    copy = local_model(intact)
    recorded = header(pristine)["files"]
    # the copy has the recorded times, so loading it checks sizes and times, no sha256
    assert all((copy / n).stat().st_mtime_ns == e["mtime_ns"] for n, e in recorded.items())
    assert StatisticalLinker.load(copy).annotate(TEXT) == \
        StatisticalLinker.load(pristine).annotate(TEXT)
    assert verify_model(intact) == []

    damage(model / "entity_support.bin")
    damaged = s3.upload("models", "damaged", model)
    assert verify_model(damaged) == [
        "s3://models/damaged: entity_support.bin does not match the sha256 model.json "
        "records for it"]
    monkeypatch.setenv("LONGTAIL_MODEL_CACHE", str(tmp_path / "other-cache"))
    with pytest.raises(UsageError, match=r"^model s3://models/damaged is damaged: "
                                         r"entity_support.bin does not match the sha256"):
        local_model(damaged)
    assert [p.name for p in (tmp_path / "other-cache").iterdir()
            if not p.name.endswith(".lock")] == []  # no partial copy left behind
