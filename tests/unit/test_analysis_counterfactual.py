"""`longtail counterfactual` on the fixture: which documents go, what fraction, what is written."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from longtail.errors import UsageError
from longtail.output.lineage import fingerprint
from tests.unit.test_analysis_accuracy import run, table
from tests.unit.test_analysis_fixture import RELEVANT, B, build_out, doc_id


def test_all_counted_questions_remove_the_union_of_their_relevant_documents(tmp_path, capsys):
    fixture = build_out(tmp_path)
    target = tmp_path / "cf"
    assert run(["counterfactual", fixture.out.location, "--per-bin", "5", "--seed", "3",
                "--write-corpus", str(target)]) == 0
    chosen = {r["question_id"]: r["bin"] for r in table(fixture.out, "counterfactual_questions")}
    assert chosen == {"q1": "1-9", "q2": "1-9", "q3": "10-99", "q4": "10-99"}
    removed = table(fixture.out, "counterfactual_removed")
    # {2} | {5, 8, 33} | {10..21} | {20..34}: 28 documents, 23 of 400 and 5 of 800 characters
    assert [r["doc_id"] for r in removed] == sorted(
        doc_id(p) for p in {2, 5, 8, *range(10, 35)})
    assert {r["doc_id"]: r["questions"] for r in removed}[20] == 2  # relevant to q3 and q4
    printed = capsys.readouterr().out
    assert "70.0%" in printed  # 28 of 40 documents
    assert "66.0%" in printed  # 13,200 of 20,000 characters
    kept_a = [json.loads(line)["text"] for line in
              (target / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    assert kept_a == [fixture.texts[p] for p in (0, 1, 3, 4, 6, 7, 9)]
    lines_b = (target / "b.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["text"] for line in lines_b[:-1]] == [
        fixture.texts[B | r] for r in range(5, 10)]
    assert lines_b[-1] == "{not json"  # unreadable rows are kept, in place


def test_one_question_per_bin_is_seeded(tmp_path):
    fixture = build_out(tmp_path)
    picks = []
    for _ in range(2):
        run(["counterfactual", fixture.out.location, "--per-bin", "1", "--seed", "11"])
        picks.append(sorted(r["question_id"] for r in
                            table(fixture.out, "counterfactual_questions")))
    assert picks[0] == picks[1]
    assert len(picks[0]) == 2
    low, high = picks[0]
    assert low in ("q1", "q2") and high in ("q3", "q4")
    removed = {r["doc_id"] for r in table(fixture.out, "counterfactual_removed")}
    assert removed == {doc_id(p) for p in RELEVANT[low] | RELEVANT[high]}


def test_hugging_face_dataset_keeps_its_state_files(tmp_path):
    fixture = build_out(tmp_path)
    dataset = tmp_path / "hf"
    dataset.mkdir()
    texts = [fixture.texts[p] for p in range(30)]
    with pa.ipc.new_stream(str(dataset / "data-00000-of-00001.arrow"),
                           pa.schema([("text", pa.string())])) as writer:
        writer.write_batch(pa.record_batch([pa.array(texts[:16])], names=["text"]))
        writer.write_batch(pa.record_batch([pa.array(texts[16:])], names=["text"]))
    state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": "train"}
    (dataset / "state.json").write_text(json.dumps(state), encoding="utf-8")
    (dataset / "dataset_info.json").write_text('{"features": {}}', encoding="utf-8")
    record = fixture.out.record("link")  # the corpus as if the link stage had read these files
    record.inputs["corpus"] = [fingerprint(fixture.out.locations, str(path)) for path in (
        dataset / "data-00000-of-00001.arrow", fixture.files[1])]
    fixture.out.write_record(record)
    target = tmp_path / "cf"
    run(["counterfactual", fixture.out.location, "--per-bin", "5", "--write-corpus",
         str(target)])
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == ["corpus/b.jsonl", "hf/data-00000-of-00001.arrow", "hf/dataset_info.json",
                       "hf/state.json"]
    assert json.loads((target / "hf" / "state.json").read_text()) == state
    kept = pa.ipc.open_stream(str(target / "hf" / "data-00000-of-00001.arrow")).read_all()
    assert kept["text"].to_pylist() == [texts[p] for p in (0, 1, 3, 4, 6, 7, 9)]


def test_refuses_to_overwrite_the_corpus_and_bad_sizes(tmp_path):
    fixture = build_out(tmp_path)
    with pytest.raises(UsageError, match="would overwrite the corpus"):
        run(["counterfactual", fixture.out.location, "--per-bin", "1", "--write-corpus",
             str(fixture.corpus)])
    with pytest.raises(UsageError, match="at least 1"):
        run(["counterfactual", fixture.out.location, "--per-bin", "0"])
    assert (fixture.files[0]).read_text(encoding="utf-8").count("\n") == 30
