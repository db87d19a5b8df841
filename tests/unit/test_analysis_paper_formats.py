"""`longtail import paper` / `export paper` on a small archive in the released formats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
import pytest

from longtail.analysis.paper_formats import marker_reason, parse_entity, pyspotlight_value
from longtail.errors import UsageError
from tests.unit.test_analysis_accuracy import run

R = "http://dbpedia.org/resource/"
ENTITY_MAP = {
    R + "Paris": [0, 2, 5, 7],
    R + "France": [0, 1, 2, 7, 9],
    R + "Seine": [2, 5, 7],
    R + "Nineteen_Eighty-Four": [3, 9],
    R + "George_Orwell": [3, 4, 9],
    R + "Caf\u00e9_de_Flore": [1],
    "__SPOTLIGHT_EXCEPTION__": [6],
    "__HTTP_ERROR__": [8],
}
SUPPORT = {"Paris": 52000, "France": 310000, "Seine": 2500, "Nineteen_Eighty-Four": 4100,
           "George_Orwell": 6000, "Unknown_Thing": 30}
TYPES = {"Paris": "DBpedia:Place,DBpedia:City,Schema:Place", "France": "Schema:Country",
         "Seine": "DBpedia:River", "Nineteen_Eighty-Four": "", "George_Orwell": "Schema:Person",
         "Unknown_Thing": ""}
# (question, answers, [(entity, surface form)] in the question, [(entity, surface)] in answers)
QA = [
    ("Which river flows through Paris \U0001f5fc?", ["Seine", "River Seine"],
     [("Paris", "Paris")], [("Seine", "Seine"), ("Seine", "Seine")]),
    ("Who wrote 1984?", ["George Orwell"], [("Nineteen_Eighty-Four", "1984")],
     [("George_Orwell", "George Orwell")]),
    ("What is it?", ["France"], [], [("France", "France")]),  # no question entity
    ("Where is France?", ["France"], [("France", "France")], [("France", "France")]),  # no answer
    ("Did Paris inspire him?", ["George Orwell"], [("Paris", "Paris")],
     [("George_Orwell", "George Orwell")]),  # zero: never in one document
    ("Which river is in France?", ["Seine", "Paris"], [("France", "France")],
     [("Seine", "Seine"), ("Paris", "Paris")]),  # salient tie: Seine 2 docs, Paris 3
    ("What is the thing?", ["Seine"], [("Unknown_Thing", "thing")], [("Seine", "Seine")]),
]


def utf16_offset(text: str, surface: str, start: int = 0) -> int:
    return len(text[:text.index(surface, start)].encode("utf-16-le")) // 2


def entity(name: str, surface: str, text: str, start: int, score: float) -> dict:
    return {"URI": R + name, "support": SUPPORT[name], "types": TYPES[name],
            "surfaceForm": pyspotlight_value(surface), "offset": utf16_offset(text, surface, start),
            "similarityScore": score, "percentageOfSecondRank": round(1 - score, 6)}


def write_archive(folder: Path, shared_id: bool = False) -> tuple[Path, Path, Path]:
    """The entity map, the QA file (nq-open) and its QA entity file; with `shared_id`, rows
    1, 3 and 5 carry the same id, as TriviaQA rows sometimes do."""
    npz = folder / "tiny_entity_map.npz"
    np.savez(npz, **{uri: np.array(ids, dtype=np.int32) for uri, ids in ENTITY_MAP.items()})
    qa = folder / "qa.jsonl"
    qa.write_text("".join(json.dumps({"question": q, "answer": a, **(
        {"id": "shared"} if shared_id and row in (1, 3, 5) else {})}) + "\n"
        for row, (q, a, _, _) in enumerate(QA)), encoding="utf-8")
    lines = []
    for q, answers, q_ents, a_ents in QA:
        text = q + "\n" + "\n".join(answers)
        q_list = [entity(n, s, q, 0, 0.99) for n, s in q_ents]
        a_list, start = [], len(q)
        for n, s in a_ents:
            a_list.append(entity(n, s, text, start, 0.9999999999984))
            start = text.index(s, start) + len(s)
        lines.append(json.dumps({"q_entities": q_list, "a_entities": a_list}))
    entities = folder / "qa_entities.jsonl"
    entities.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return npz, qa, entities


def import_archive(tmp_path: Path, shared_id: bool = False
                   ) -> tuple[Path, Path, Path, Path]:
    npz, qa, entities = write_archive(tmp_path, shared_id)
    out = tmp_path / "out"
    assert run(["import", "paper", "--entity-map", str(npz), "--qa-entities", str(entities),
                "--qa", str(qa), "--qa-format", "nq-open", "--out", str(out)]) == 0
    return out, npz, qa, entities


def rows(out: Path, name: str) -> list[dict]:
    return ds.dataset(str(out / name)).to_table().to_pylist()


@pytest.mark.parametrize("shared_id", [False, True])
def test_import_then_export_is_lossless(tmp_path, shared_id):
    """Also when questions share an id: each keeps its own entities (keyed by file and row)."""
    out, npz, _, entities = import_archive(tmp_path, shared_id)
    if shared_id:
        ids = [r["question_id"] for r in sorted(rows(out, "qa_questions"), key=lambda r: r["row"])]
        assert [ids[i] for i in (1, 3, 5)] == ["shared"] * 3
    assert run(["export", "paper", str(out), "--entity-map", str(tmp_path / "again.npz"),
                "--qa-entities", str(tmp_path / "again.jsonl")]) == 0
    original, again = np.load(npz), np.load(tmp_path / "again.npz")
    assert sorted(again.files) == sorted(original.files)
    for uri in original.files:
        assert again[uri].dtype == np.int32
        assert np.array_equal(again[uri], original[uri]), uri
    before = [json.loads(line) for line in entities.read_text(encoding="utf-8").splitlines()]
    after = [json.loads(line) for line in
             (tmp_path / "again.jsonl").read_text(encoding="utf-8").splitlines()]
    assert after == before
    assert after[1]["q_entities"][0]["surfaceForm"] == 1984  # numbers stay numbers


def test_imported_tables(tmp_path):
    out, *_ = import_archive(tmp_path)
    docs = rows(out, "docs")
    assert sorted(d["doc_id"] for d in docs) == [0, 1, 2, 3, 4, 5, 7, 9]
    assert {d["doc_id"]: d["n_mentions"] for d in docs}[9] == 3  # France, 1984, Orwell
    failures = {(f["doc_id"], f["reason"]) for f in rows(out, "failures")}
    assert failures == {(6, "spotlight_exception"), (8, "http_error")}
    uris = {u["uri"]: (u["support"], u["types"]) for u in rows(out, "entity_uris")}
    assert uris[R + "Paris"] == (52000, ["DBpedia:Place", "DBpedia:City", "Schema:Place"])
    assert uris[R + "Caf\u00e9_de_Flore"] == (0, [])  # in the map only
    assert uris[R + "Unknown_Thing"] == (30, [])  # in the QA file only
    qa_entities = [e for e in rows(out, "qa_entities") if e["row"] == 0]
    # "...Paris \U0001f5fc?\nSeine\nRiver Seine": the emoji is two UTF-16 units, one here
    question = QA[0][0]
    assert [(e["role"], e["offset"]) for e in qa_entities] == [
        ("question", question.index("Paris")), ("answer", len(question) + 1),
        ("answer", len(question) + 13)]
    questions = rows(out, "qa_questions")
    assert [q["row"] for q in questions] == list(range(7)) and all(q["linked"]
                                                                    for q in questions)
    # entity_docs: the doc_entities rows by entity, in the index stage's sorted layout
    postings = [(p["entity_id"], p["doc_id"]) for p in rows(out, "entity_docs")]
    assert postings == sorted((d["entity_id"], d["doc_id"]) for d in rows(out, "doc_entities"))
    assert len(postings) == sum(d["n_mentions"] for d in docs)


def test_values_as_the_rest_api_sends_them(tmp_path):
    out, *_ = import_archive(tmp_path)
    target = tmp_path / "strings.jsonl"
    run(["export", "paper", str(out), "--qa-entities", str(target), "--values", "spotlight"])
    first = json.loads(target.read_text(encoding="utf-8").splitlines()[1])["q_entities"][0]
    assert first == {"URI": R + "Nineteen_Eighty-Four", "support": "4100", "types": "",
                     "surfaceForm": "1984", "offset": "10", "similarityScore": "0.99",
                     "percentageOfSecondRank": "0.01"}
    assert parse_entity(first)[1:] == (4100, [], "1984", 10, 0.99, 0.01)


def test_a_bad_entity_line_is_a_failure_not_a_crash(tmp_path):
    npz, qa, entities = write_archive(tmp_path)
    lines = entities.read_text(encoding="utf-8").splitlines()
    lines[2] = "{broken"
    lines[4] = json.dumps({"q_entities": [{"URI": R + "Paris"}], "a_entities": []})
    entities.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    run(["import", "paper", "--entity-map", str(npz), "--qa-entities", str(entities),
         "--qa", str(qa), "--out", str(out)])
    failed = {f["row"]: f["detail"] for f in rows(out, "failures") if f["doc_id"] is None}
    assert set(failed) == {2, 4}
    assert "not JSON" in failed[2] and "no support" in failed[4]
    linked = {q["row"]: q["linked"] for q in rows(out, "qa_questions")}
    assert (linked[2], linked[4], linked[3]) == (False, False, True)


def test_wrong_usage(tmp_path):
    npz, qa, entities = write_archive(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="go together"):
        run(["import", "paper", "--entity-map", str(npz), "--qa", str(qa), "--out", str(out)])
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(entities.read_text().splitlines()[:3]) + "\n")
    with pytest.raises(UsageError, match="has 3 lines but"):
        run(["import", "paper", "--entity-map", str(npz), "--qa-entities", str(short),
             "--qa", str(qa), "--out", str(out)])
    run(["import", "paper", "--entity-map", str(npz), "--out", str(out), "--overwrite"])
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "_lock"}
    with pytest.raises(UsageError, match="already holds"):
        run(["import", "paper", "--entity-map", str(npz), "--out", str(out)])
    with pytest.raises(UsageError, match="too small"):
        run(["import", "paper", "--entity-map", str(npz), "--out", str(out), "--overwrite",
             "--num-docs", "5"])
    # a refused or failed import leaves the previous one as it was, and nothing of its own
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "_lock"}
    assert after == before
    with pytest.raises(UsageError, match="cannot read entity map"):
        run(["import", "paper", "--entity-map", str(qa), "--out", str(tmp_path / "o2")])
    with pytest.raises(UsageError, match=".npz"):
        run(["export", "paper", str(out), "--entity-map", str(tmp_path / "map.npy")])
    assert marker_reason("__CONNECTION_ERROR__") == "connection_error"
    assert marker_reason(R + "__Init__") is None
