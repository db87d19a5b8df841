"""The shared tokenizer and the exact spotter a Wikipedia model builder counts occurrences with."""

from __future__ import annotations

import random

from longtail.linking.statistical.spotter import Spotter
from longtail.linking.statistical.spotting import CAPITAL_SEQUENCE, capital_sequences
from longtail.linking.statistical.tokenizer import (
    Tokenizer,
    default_stop_words,
    normalize_surface_form,
    stable_hash,
)


def found(spotter: Spotter, text: str) -> list[tuple[str, int, str]]:
    return [(text[s:e], s, FORMS[i]) for s, e, i in spotter.find_all(text)]


FORMS = ["New York", "New York City", "York", "Paris", "São Paulo", "U.S", "AT&T",
         "Paris Saint-Germain"]


def test_tokens_words_punctuation_possessive_and_offsets():
    tokenizer = Tokenizer(stop_words=())
    text = "🙂 Obama's U.S. trip (e-mail: don't) cost 3.14€"
    tokenized = tokenizer.tokenize(text)
    assert tokenized.tokens == ["🙂", "Obama", "s", "U.S", ".", "trip", "(", "e", "-", "mail",
                                ":", "don't", ")", "cost", "3.14", "€"]
    spans = [text[a:b] for a, b in zip(tokenized.starts, tokenized.ends, strict=True)]
    assert spans[:4] == ["🙂", "Obama", "s", "U.S"]  # "'s" tokenizes as "s", as in Spotlight
    assert (tokenized.starts[1], tokenized.ends[1]) == (2, 7)  # code points, after the emoji


def test_sentences_break_at_terminators_and_line_breaks():
    tokenizer = Tokenizer(stop_words=())
    tokenized = tokenizer.tokenize('One two. Three e.g. four! "Five?" Six\nseven')
    by_sentence: dict[int, list[str]] = {}
    for token, sentence in zip(tokenized.tokens, tokenized.sentence.tolist(), strict=True):
        by_sentence.setdefault(sentence, []).append(token)
    assert list(by_sentence.values()) == [
        ["One", "two", "."], ["Three", "e.g", ".", "four", "!"], ['"', "Five", "?", '"'],
        ["Six"], ["seven"]]


def test_stems_are_lowercased_snowball_and_stop_words_case_sensitive():
    tokenizer = Tokenizer(stop_words={"the", "of"})
    assert [tokenizer.stem(w) for w in ("Running", "nationalization", "Cities")] == \
        ["run", "nation", "citi"]
    assert tokenizer.is_stop_word("the") and not tokenizer.is_stop_word("The")
    assert tokenizer.context_stems("The cities of Paris") == ["citi", "pari"]
    assert tokenizer.surface_form_stems("Bank of America") == ["bank", "of", "america"]
    assert "the" in default_stop_words()


def test_surface_form_names_are_normalized_like_spotlight():
    assert normalize_surface_form(" Children’s   Hospital\t") == "Children's Hospital"
    assert stable_hash("Paris") == stable_hash("Paris") != stable_hash("paris")


def test_find_all_reports_every_overlapping_occurrence_at_word_boundaries():
    spotter = Spotter.build(FORMS)
    text = "New York City, not Newark. Yorkshire is not York; PARIS is not Paris."
    assert found(spotter, text) == [
        ("New York", 0, "New York"), ("New York City", 0, "New York City"),
        ("York", 4, "York"), ("York", 44, "York"), ("Paris", 63, "Paris")]


def test_find_all_is_exact_and_handles_non_ascii_and_punctuation_inside_forms():
    spotter = Spotter.build(FORMS)
    text = "🙂🙂 São Paulo, são paulo; the U.S. and AT&T; Paris Saint-Germain won"
    assert found(spotter, text) == [
        ("São Paulo", 3, "São Paulo"), ("U.S", 29, "U.S"), ("AT&T", 38, "AT&T"),
        ("Paris", 44, "Paris"), ("Paris Saint-Germain", 44, "Paris Saint-Germain")]


def test_matches_never_cross_a_sentence_boundary():
    spotter = Spotter.build(FORMS)
    assert found(spotter, "I saw New.\nYork later") == [("York", 11, "York")]


def test_duplicate_forms_report_the_first_index_and_empty_forms_never_match():
    spotter = Spotter.build(["Paris", "", "Paris", "  "])
    assert list(spotter.find_all("Paris")) == [(0, 5, 0)]


def test_stemmed_spotter_matches_inflections_and_stop_words_can_break_runs():
    tokenizer = Tokenizer(stop_words={"of"})
    spotter = Spotter.build(["United State", "Bank of America"], tokenizer=tokenizer,
                            stemmed=True, break_on_stop_words=True)
    text = "the united states and the Bank of America"
    assert [(text[s:e], i) for s, e, i in spotter.find_all(text)] == [("united states", 0)]


def test_spotter_saves_and_loads(tmp_path):
    spotter = Spotter.build(FORMS)
    spotter.save(tmp_path / "spotter")
    loaded = Spotter.load(tmp_path / "spotter")
    text = "New York City"
    assert list(loaded.find_all(text)) == list(spotter.find_all(text))


ALPHABET = list("aAbBzZ09_ .'’-,;:!?()\"\t\n") + ["É", "ß", "ǅ", "٣", "中", "🙂", "\u0301",
                                                    "\u00a0", "\u2028", "\udc80", "s", "S"]


def random_texts(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 60)))
            for _ in range(count)]


def test_numpy_tokens_are_the_regular_expression_tokens():
    tokenizer = Tokenizer(stop_words=())
    for text in random_texts(3000):
        tokenized = tokenizer.tokenize(text)
        assert tokenized.tokens == Tokenizer.split(text), text
        assert len(set(zip(tokenized.tokens, tokenized.hashes.tolist(), strict=True))) == \
            len(set(tokenized.tokens))  # one hash per distinct token


def regex_capital_sequences(tokenized) -> list[tuple[int, int]]:
    """Spotlight's RegexNameFinder run literally over the sentence's tokens joined by spaces."""
    tokens = list(tokenized.tokens)
    last = [i for i in range(len(tokens) - 1)
            if tokenized.sentence[i] != tokenized.sentence[i + 1]]
    for i in last:
        tokens[i] += ";"
    starts, ends, at = [], [], 0
    for i, token in enumerate(tokens):
        starts.append(at)
        ends.append(at + len(token) - (1 if i in last else 0))
        at += len(token) + 1
    found = []
    for match in CAPITAL_SEQUENCE.finditer(" ".join(tokens)):
        a, b = match.span()
        if a in starts and (b in ends or b in starts):
            first = starts.index(a)
            end = ends.index(b) + 1 if b in ends else starts.index(b)
            if end > first:
                found.append((first, end))
    return found


def test_capital_sequences_follow_the_regular_expression():
    tokenizer = Tokenizer(stop_words=())
    for text in random_texts(3000, seed=5) + ["Paris is in France. The U.S. Open; New York City",
                                              "iPhone Xyz and McDonald's Big Mac, O'Neil."]:
        tokenized = tokenizer.tokenize(text)
        first, end = capital_sequences(tokenized)
        assert list(zip(first.tolist(), end.tolist(), strict=True)) == \
            regex_capital_sequences(tokenized), text
