"""The embedded linker's annotations against a golden set recorded with an earlier version.

The model is imported from longtail/sample/wikistats: the wikistats `longtail model build` wrote
for the bundled sample wiki (what `longtail demo` links with). The golden annotations cover the
bundled sample corpus (confidence 0.4), the first real C4 documents of ../shared/data (0.0,
skipped when absent) and one text of 250 sentences, scored in context windows (0.4). A row is
[set, document, URI, surface form, offset, similarity, percentage of second rank, support].
Regenerate, only on purpose, with `python -m tests.unit.test_golden_annotations`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longtail.linking.statistical import StatisticalLinker, import_wikistats
from longtail.sample import SAMPLE_CORPUS, SAMPLE_WIKISTATS
from tests.conftest import SHARED_DATA, shared_path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ANNOTATIONS = GOLDEN / "annotations.jsonl"
C4 = ("c4", "c4-sample-449.jsonl")
C4_DOCUMENTS = 200
LONG = ("Paris is the capital of France and the Seine flows through Paris. "
        + "Nothing happened there that day. " * 9) * 25
FIELDS = ("set", "doc", "uri", "surface_form", "offset", "similarity", "second_rank", "support")


def _jsonl_texts(path: Path, limit: int | None = None) -> list[str]:
    texts = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            text = json.loads(line, strict=False)["text"]
        except (ValueError, KeyError, TypeError):
            continue  # the sample corpus holds a malformed line on purpose
        if isinstance(text, str):
            texts.append(text)
    return texts[:limit]


def corpora(c4: Path | None) -> dict[str, tuple[float, list[str]]]:
    """Name: (confidence, texts)."""
    sets = {"sample": (0.4, _jsonl_texts(Path(SAMPLE_CORPUS))), "long": (0.4, [LONG])}
    if c4 is not None:
        sets["c4"] = (0.0, _jsonl_texts(c4, C4_DOCUMENTS))
    return sets


def annotate(linker: StatisticalLinker, name: str, confidence: float,
             texts: list[str]) -> list[dict]:
    linker.confidence = confidence
    rows = []
    for i, result in enumerate(linker.annotate_many(enumerate(texts))):
        for a in result.annotations:
            rows.append(dict(zip(FIELDS, (name, i, a.uri, a.surface_form, a.offset,
                                          a.similarity, a.second_rank, a.support),
                                 strict=True)))
    return rows


@pytest.fixture(scope="module")
def linker(tmp_path_factory) -> StatisticalLinker:
    model = tmp_path_factory.mktemp("golden") / "model"
    import_wikistats(SAMPLE_WIKISTATS, model, min_surface_form_count=1, min_context_count=1)
    return StatisticalLinker.load(model)


def golden(name: str) -> list[dict]:
    rows = [dict(zip(FIELDS, json.loads(line), strict=True))
            for line in ANNOTATIONS.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["set"] == name]


@pytest.mark.parametrize("name", ["sample", "long", "c4"])
def test_annotations_match_the_golden_set(linker, name):
    c4 = shared_path(*C4) if name == "c4" else None
    confidence, texts = corpora(c4)[name]
    expected = golden(name)
    found = annotate(linker, name, confidence, texts)
    assert len(expected) >= 100
    assert [{k: v for k, v in r.items() if k not in ("similarity", "second_rank")}
            for r in found] == \
        [{k: v for k, v in r.items() if k not in ("similarity", "second_rank")}
         for r in expected]
    # scores to 1e-12: numpy's log and exp may differ in the last bit between machines
    for got, want in zip(found, expected, strict=True):
        assert got["similarity"] == pytest.approx(want["similarity"], rel=1e-12, abs=1e-300)
        assert got["second_rank"] == pytest.approx(want["second_rank"], rel=1e-12, abs=1e-300)


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        import_wikistats(SAMPLE_WIKISTATS, Path(tmp) / "model", min_surface_form_count=1,
                         min_context_count=1)
        linker = StatisticalLinker.load(Path(tmp) / "model")
        c4 = SHARED_DATA.joinpath(*C4)
        rows = []
        for name, (confidence, texts) in corpora(c4 if c4.exists() else None).items():
            rows.extend(annotate(linker, name, confidence, texts))
    ANNOTATIONS.write_text("".join(json.dumps(list(r.values()), ensure_ascii=False) + "\n"
                                   for r in rows), encoding="utf-8")
    print(f"{ANNOTATIONS}: {len(rows)} annotations")


if __name__ == "__main__":
    main()
