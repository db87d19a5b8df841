"""Cutting texts at sentence boundaries without losing or repeating a character."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from longtail.linking import chunking
from longtail.linking.chunking import sentence_starts, split_for_request, split_in_half
from tests.conftest import PROJECT_ROOT

SENTENCES = (
    "Marie Curie was born in Warsaw. She moved to Paris in 1891! Did she win twice? "
    "Yes, in physics and in chemistry. "
)


def _assert_covers(text: str, pieces: list[tuple[int, str]], max_chars: int) -> None:
    assert "".join(piece for _, piece in pieces) == text
    position = 0
    for start, piece in pieces:
        assert start == position
        assert 0 < len(piece) <= max_chars
        position += len(piece)


def test_sentence_starts():
    assert sentence_starts("Hello there. How are you? Fine.") == [13, 26]
    assert sentence_starts("no punctuation at all") == []
    assert sentence_starts("") == []
    assert sentence_starts("Он пришёл. Она ушла! Ώρα.") == [11, 21]
    # English rules split "。" off only where a space follows it.
    assert sentence_starts("東京は大きい。 大阪も大きい。") == [8]


def test_cuts_fall_on_sentence_starts():
    text = SENTENCES * 20
    starts = set(sentence_starts(text))
    pieces = split_for_request(text, 150)
    _assert_covers(text, pieces, 150)
    assert len(pieces) > 10
    assert all(start in starts for start, _ in pieces[1:])


def test_falls_back_to_whitespace_then_to_a_hard_cut():
    words = "alpha beta gamma delta epsilon " * 10
    pieces = split_for_request(words, 23)
    _assert_covers(words, pieces, 23)
    assert all(piece.endswith(" ") for _, piece in pieces[:-1])

    solid = "x" * 95
    pieces = split_for_request(solid, 20)
    _assert_covers(solid, pieces, 20)
    assert [len(p) for _, p in pieces] == [20, 20, 20, 20, 15]


def test_non_ascii_and_non_bmp_text():
    text = ("Zürich ist schön. 東京は大きい。😀 Emoji everywhere 🇫🇷 here! 𝔊𝔬𝔱𝔥𝔦𝔠 letters. " * 30)
    for max_chars in (7, 40, 333):
        pieces = split_for_request(text, max_chars)
        _assert_covers(text, pieces, max_chars)


def test_short_and_empty_texts():
    assert split_for_request("", 10) == []
    assert split_for_request("tiny", 10) == [(0, "tiny")]
    assert split_for_request("exactly10!", 10) == [(0, "exactly10!")]
    with pytest.raises(ValueError):
        split_for_request("text", 0)


def test_random_texts_are_covered_exactly():
    rng = random.Random(11)
    alphabet = "ab c.!?\n\t é東😀"
    for _ in range(150):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        max_chars = rng.randint(1, 60)
        pieces = split_for_request(text, max_chars)
        _assert_covers(text, pieces, max_chars)


def test_split_in_half_picks_the_sentence_start_nearest_the_middle():
    text = "One. Two two two. Three three three three. Four."
    left, right = split_in_half(text)
    assert left + right == text
    middle = len(text) / 2
    assert abs(len(left) - middle) == min(abs(s - middle) for s in sentence_starts(text))
    assert right.startswith("Three")


def test_long_texts_agree_with_analysing_the_whole_text():
    rng = random.Random(5)
    words = ["alpha", "beta", "Mr.", "U.S.", "gamma,", "delta;", "(eps)", "東京", "😀"]
    text = " ".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(3, 40))) + rng.choice(".!?")
        for _ in range(3000)
    )
    starts = sentence_starts(text)
    pieces = split_for_request(text, 9000)
    _assert_covers(text, pieces, 9000)
    assert all(start in starts for start, _ in pieces[1:])
    assert [start for start, _ in pieces[1:2]] == [max(s for s in starts if s <= 9000)]

    left, _ = split_in_half(text)
    middle = len(text) / 2
    assert abs(len(left) - middle) == min(abs(s - middle) for s in starts)

    # Only one boundary, far from the middle: still found.
    lone = "word " * 3000 + "end. " + "word " * 100
    assert len(split_in_half(lone)[0]) == sentence_starts(lone)[0] == 15005


def test_split_in_half_without_sentences_or_whitespace():
    left, right = split_in_half("aaaa bbbbbbbb cc dddddd")
    assert (left, right) == ("aaaa bbbbbbbb ", "cc dddddd")
    assert split_in_half("abcdefgh") == ("abcd", "efgh")
    assert split_in_half("😀😀😀") == ("😀", "😀😀")
    assert split_in_half("x") == ("x", "")
    left, right = split_in_half("   padded   ")
    assert left and right and left + right == "   padded   "


def test_spacy_loads_lazily_and_once():
    code = ("import sys, longtail.linking.chunking as c; print('spacy' in sys.modules); "
            "c.sentence_starts('A. B.'); print('spacy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["False", "True"]
    sentence_starts("Warm up. Now.")
    assert chunking._sentencizer() is chunking._sentencizer()
    assert chunking._sentencizer().pipe_names == ["sentencizer"]
