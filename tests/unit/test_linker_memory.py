"""The embedded linker's work and memory grow linearly with a text, sentence breaks or not.

No timings: the tests count what the linker does (`SpotSelector.work`: spans, sub-chunks and
characters of spellings looked up; `Segmenter.forced_cuts`) and what tracemalloc sees it
allocate. The model is the sample model (longtail/sample/wikistats), where "Paris" is a surface
form of one entity and no run of two or more "Paris" is; its longest surface form has 30
characters. Spotlight links every "Paris" of `"Paris " * n`.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest

from longtail.linking.statistical import StatisticalLinker, import_wikistats
from longtail.sample import SAMPLE_CORPUS, SAMPLE_WIKISTATS

GOLDEN_WIKISTATS = SAMPLE_WIKISTATS
PARIS = "http://dbpedia.org/resource/Paris"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("memory") / "model"
    import_wikistats(GOLDEN_WIKISTATS, folder)  # what `longtail demo` builds
    return folder


def fresh(model: Path, limit: int | None = None) -> StatisticalLinker:
    linker = StatisticalLinker.load(model)
    if limit is not None:
        linker.segmenter.limit = limit
    return linker


def sample_words() -> list[str]:
    words = []
    for line in Path(SAMPLE_CORPUS).read_text(encoding="utf-8").splitlines():
        try:
            words.extend(json.loads(line)["text"].split())
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return words


def assert_tokenized_alone(linker: StatisticalLinker, pieces: list) -> None:
    """Each piece's tokens (cut from the tokens of a longer stretch) are the piece's own."""
    for _, tokens in pieces:
        alone = linker.tokenizer.tokenize(tokens.text)
        for field in ("starts", "ends", "sentence", "hashes", "points"):
            assert getattr(tokens, field).tolist() == getattr(alone, field).tolist(), field


def test_a_capitalised_run_is_linked_with_work_linear_in_its_length(model):
    work = {}
    for n in (1_000, 4_000, 16_000):
        linker = fresh(model)
        found = linker.annotate("Paris " * n)
        assert [a.offset for a in found] == list(range(0, 6 * n, 6))
        assert {(a.uri, a.surface_form) for a in found} == {(PARIS, "Paris")}
        work[n] = dict(linker.selector.work)
    longest = fresh(model).model.longest_spelling
    assert longest == 30
    for n, counts in work.items():
        # n one-token chunks, the run itself, and of its 2(n - 1) sub-chunks only those of at
        # most 30 characters at either end (up to 5 "Paris" each)
        assert counts["sub_chunks"] == 10
        assert counts["spans"] == n + 1 + counts["sub_chunks"]
        assert counts["spans_looked_up"] == n + counts["sub_chunks"]
    # the same few distinct spellings ("Paris", "Paris Paris", ...) are built whatever n is,
    # where every sub-chunk of the run used to be: about 3 n^2 characters, 768 million at 16k
    assert work[1_000]["spelling_chars"] == work[16_000]["spelling_chars"] <= 5 * longest


def test_a_long_text_is_linked_in_pieces_exactly_as_a_whole(model):
    words = sample_words()
    prose = " ".join(words * (60_000 // len(" ".join(words)) + 1))[:60_000]
    # about 100 sentences of 100 words, none of which end inside a piece's end
    bare = [re.sub(r"[.!?]", "", w) or "x" for w in words * 20][:10_000]
    long_sentences = ". ".join(" ".join([s[0].capitalize(), *s[1:]]) for s in
                               (bare[i:i + 100] for i in range(0, len(bare), 100)))
    whole, pieces = fresh(model, limit=10**9), fresh(model, limit=5_000)
    sentences = whole.tokenizer.tokenize(long_sentences).sentence_count
    assert 50 < sentences <= 200  # one context window: the whole text
    assert whole.tokenizer.tokenize(prose).sentence_count > 200  # windows of 200 tokens
    for text in (prose, long_sentences):
        assert len(text) > 10 * pieces.segmenter.limit
        expected = whole.annotate(text)
        assert len(expected) > 100
        assert pieces.annotate(text) == expected
        assert pieces.candidates(text) == whole.candidates(text)
        assert pieces.spots(text) == whole.spots(text)
        batch = ["Paris is in France.", text, "Homer wrote the Iliad."]
        assert [r.annotations for r in pieces.annotate_many(enumerate(batch))] == \
            [whole.annotate(t) for t in batch]
    assert pieces.segmenter.forced_cuts == 0
    for windowed in (False, True):
        assert_tokenized_alone(pieces, list(pieces.segmenter.pieces(prose, windowed)))


def test_a_sentence_longer_than_the_limit_is_cut_at_whitespace(model):
    text = "Bohemian Rhapsody " * 2_000  # one sentence of 36,000 characters
    linker, whole = fresh(model, limit=5_000), fresh(model, limit=10**9)
    pieces = list(linker.segmenter.pieces(text, windowed=False))
    assert "".join(t.text for _, t in pieces) == text
    assert all(len(t.text) <= 5_000 for _, t in pieces)
    cuts = [offset for offset, _ in pieces[1:]]
    assert all(text[offset - 1] == " " != text[offset] for offset in cuts)
    assert linker.segmenter.forced_cuts == len(pieces) - 1 == 7
    assert_tokenized_alone(linker, pieces)
    found, expected = linker.annotate(text), whole.annotate(text)
    assert len(expected) == 2_000
    # the cut ends the sentence: a mention across it is not found; every other one is
    across = [a for a in expected if any(a.offset < cut < a.offset + 17 for cut in cuts)]
    assert len(across) == 4  # the other three cuts fall between two mentions
    assert [(a.offset, a.uri) for a in found] == \
        [(a.offset, a.uri) for a in expected if a not in across]


def test_the_memory_of_a_call_stops_growing_with_the_text(model):
    limit = 20_000
    transient, peaks = {}, {}
    for n in (3_000, 12_000, 48_000):  # 18,000 characters (one piece) to 288,000 (15)
        linker = fresh(model, limit=limit)
        linker.annotate("Paris is in France.")
        text = "Paris " * n
        tracemalloc.start()
        try:
            found = linker.annotate(text)
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(found) == n
        transient[n], peaks[n] = peak - after, peak
        assert peak <= linker.working_memory(len(text))
    # what the call holds beyond its result: one piece's arrays, not the text's
    assert transient[48_000] < 2 * transient[3_000]
    assert peaks[48_000] > 5 * transient[48_000]  # the rest is the 48,000 annotations


def test_working_memory_is_a_cheap_bound_that_flattens_past_the_limit(model):
    linker = fresh(model)
    limit = linker.segmenter.limit
    assert linker.working_memory(0) == linker.working_memory("") == 0
    assert linker.working_memory("Paris " * 1000) == linker.working_memory(6000) > 0
    sizes = [limit // 2, limit, 4 * limit, 40 * limit]
    estimates = [linker.working_memory(n) for n in sizes]
    assert estimates == sorted(estimates)
    # past the limit only the annotations' share grows
    per_character = (estimates[3] - estimates[2]) / (sizes[3] - sizes[2])
    assert per_character < estimates[1] / sizes[1]


def test_the_caches_key_table_answers_as_a_dict_in_16_bytes_an_entry():
    import numpy as np

    from longtail.linking.statistical.spotter import KeyTable

    rng = np.random.default_rng(1)
    table, expected = KeyTable(), {}
    for _ in range(200):  # batches of 1 to 5,000 keys, as texts bring them
        keys = np.unique(rng.integers(0, 2**63, size=int(rng.integers(1, 5_000)),
                                      dtype=np.uint64))
        new = keys[table.get(keys) < 0]
        rows = np.arange(len(expected), len(expected) + len(new))
        table.add(new, rows)
        expected.update(zip(new.tolist(), rows.tolist(), strict=True))
        asked = np.concatenate([keys, rng.integers(0, 2**63, size=50, dtype=np.uint64)])
        assert table.get(asked).tolist() == [expected.get(k, -1) for k in asked.tolist()]
    assert len(table) == len(expected) > 400_000
    held = sum(keys.nbytes + rows.nbytes for keys, rows in table._levels)
    assert held == 16 * len(expected)
    table.clear()
    assert len(table) == 0 and table.get(asked).tolist() == [-1] * len(asked)
