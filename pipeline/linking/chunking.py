"""Cutting texts into pieces a linker can take, at sentence boundaries where possible.

Sentences come from spaCy's rule-based sentencizer (`spacy.blank("en")` + "sentencizer"): no
model is loaded. Pieces always concatenate back to the input: nothing lost, nothing repeated.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_WORD_START = re.compile(r"(?<=\s)(?=\S)")  # a word that follows whitespace
_LAST_SPACE = re.compile(r"\s\S*\Z")
_SEARCH_CHARS = 4096  # sentence starts are looked for this near a wanted cut first
_NLP_LOCK = threading.Lock()
_NLP: Any = None


def _sentencizer() -> Any:
    """The process's sentence splitter, built on first use (spaCy is imported only then)."""
    global _NLP
    if _NLP is None:
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.max_length = 2**31 - 1  # the sentencizer needs no per-token model memory
        _NLP = nlp
    return _NLP


def sentence_starts(text: str) -> list[int]:
    """Offsets (code points) where a sentence starts, other than 0, ascending."""
    if not text:
        return []
    with _NLP_LOCK:
        doc = _sentencizer()(text)
        return [token.idx for token in doc[1:] if token.is_sent_start]


def split_for_request(text: str, max_chars: int) -> list[tuple[int, str]]:
    """`(start offset, piece)` pairs of at most `max_chars` code points covering `text`.

    Each cut is at the last sentence start that fits, else after the last whitespace that
    fits, else exactly at `max_chars`. An empty text gives no pieces.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    pieces = []
    start = 0
    while len(text) - start > max_chars:
        cut = _last_cut(text, start, max_chars)
        pieces.append((start, text[start : start + cut]))
        start += cut
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def split_in_half(text: str) -> tuple[str, str]:
    """Two pieces cut at the sentence start nearest the middle, else at the word start nearest
    it, else at the middle itself. Both are non-empty when `text` has two characters or more.
    """
    if len(text) < 2:
        return text, ""
    middle = len(text) // 2
    cuts = _starts_between(text, middle - _SEARCH_CHARS // 2, middle + _SEARCH_CHARS // 2)
    cuts = cuts or _starts_between(text, 0, len(text))
    cuts = cuts or [m.start() for m in _WORD_START.finditer(text)]
    cuts = [c for c in cuts if 0 < c < len(text)]
    cut = min(cuts, key=lambda c: abs(c - len(text) / 2)) if cuts else middle
    return text[:cut], text[cut:]


def _starts_between(text: str, lo: int, hi: int) -> list[int]:
    """Sentence starts (offsets in `text`) strictly inside `text[lo:hi]`.

    Analysis begins at a word start, so that a word cut in two cannot fake a boundary.
    """
    lo, hi = max(lo, 0), min(hi, len(text))
    if 0 < lo < hi and not text[lo - 1].isspace():
        word = _WORD_START.search(text, lo, hi)
        if word is None:
            return []
        lo = word.start()
    return [lo + s for s in sentence_starts(text[lo:hi])]


def _last_cut(text: str, start: int, max_chars: int) -> int:
    """Length of the next piece starting at `start`: between 1 and `max_chars`."""
    end = start + max_chars
    near_end = max(start, end - _SEARCH_CHARS)
    starts = _starts_between(text, near_end, end)
    if not starts and near_end > start:
        starts = _starts_between(text, start, end)
    if starts:
        return starts[-1] - start
    last_space = _LAST_SPACE.search(text, start, end)
    return last_space.start() + 1 - start if last_space else max_chars
