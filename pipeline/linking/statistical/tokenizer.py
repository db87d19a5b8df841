"""Tokens, sentences, stems and stop words: one definition for model import, linking and building.

Spotlight tokenizes with Java's `BreakIterator` (word and sentence instances) after rewriting the
English possessive `'s` / `’s` to ` s`, lowercases and Snowball-stems every token, and marks a
token whose exact text is in `stopwords.list` as a stop word. This module does the same with one
regular expression:

- a word is a run of letters, digits and `_`, which may continue over a single `.`, `'` or `’`
  between two such runs (`U.S`, `don't`, `3.14`); every other non-space character is a token of
  its own (punctuation, symbols, emoji); hyphens split words (`e-mail` is `e`, `-`, `mail`);
- a sentence ends at a line break, after `!` or `?`, and after `.` unless the next token starts
  with a lowercase letter (`e.g. this` stays one sentence); closing quotes or brackets right
  after the terminator stay in the sentence.

Simplified against Java: no dictionary-based segmentation of Thai/CJK runs (a run of CJK
characters is one token) and no abbreviation list. Offsets are Python code points.

Stems come from `snowballstemmer`'s English (Porter2) algorithm, which runs PyStemmer's C
implementation when that is installed (it is a dependency; pure Python is 100x slower).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import snowballstemmer

TOKEN_SPLIT = re.compile(r"(\w+(?:[.'’]\w+)*|[^\w\s])")
_POSSESSIVE = re.compile(r"[’']s")
_TERMINATOR = re.compile(r"[.!?]")
_LINE_BREAK = re.compile(r"[\r\n]")
_CLOSERS = frozenset("\"'’”»)]}")
_CACHE_LIMIT = 1_000_000


def stable_hash(text: str) -> int:
    """A 64-bit hash of a string that is the same in every process and run (never 0)."""
    value = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                           digest_size=8).digest(), "little")
    return value or 1


def default_stop_words() -> frozenset[str]:
    """spaCy's English stop word list (Spotlight ships its own `stopwords.list` per model)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def read_stop_words(path: str | Path) -> frozenset[str]:
    """One word per line, like Spotlight's `stopwords.list`; blank lines ignored."""
    with open(path, encoding="utf-8") as handle:
        return frozenset(word for line in handle if (word := line.strip()))


def write_stop_words(path: str | Path, words: Iterable[str]) -> None:
    Path(path).write_text("".join(f"{w}\n" for w in sorted(set(words))), encoding="utf-8")


@dataclass(slots=True)
class TokenizedText:
    """Tokens of one text: `tokens[i]` is `text[starts[i]:ends[i]]` except for the possessive
    rewrite (`'s` tokenizes as `s`); `sentence[i]` numbers the sentence of token i."""

    text: str
    tokens: list[str]
    starts: np.ndarray
    ends: np.ndarray
    sentence: np.ndarray

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def sentence_count(self) -> int:
        return int(self.sentence[-1]) + 1 if len(self.tokens) else 0


class Tokenizer:
    """Spotlight's English tokenizer, Snowball stemmer and stop words, with a stem cache.

    `stop_words=None` uses `default_stop_words()`; a model folder carries its own list.
    """

    def __init__(self, stop_words: Iterable[str] | None = None):
        self.stop_words = frozenset(default_stop_words() if stop_words is None else stop_words)
        self._stemmer = snowballstemmer.stemmer("english")
        self._stems: dict[str, str] = {}
        self._stop_stems: frozenset[str] | None = None

    def tokenize(self, text: str) -> TokenizedText:
        normalized = _POSSESSIVE.sub(" s", text) if "s" in text else text
        pieces = TOKEN_SPLIT.split(normalized)
        tokens = pieces[1::2]
        bounds = np.cumsum(np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)))
        starts = bounds[0:-1:2]
        ends = bounds[1::2]
        return TokenizedText(text, tokens, starts, ends,
                             _sentences(normalized, tokens, starts, ends))

    def stem(self, token: str) -> str:
        """Lowercase, then Snowball English (Porter2), as Spotlight's `SnowballStemmer` does."""
        stem = self._stems.get(token)
        if stem is None:
            if len(self._stems) >= _CACHE_LIMIT:
                self._stems.clear()
            stem = self._stemmer.stemWord(token.lower())
            self._stems[token] = stem
        return stem

    def is_stop_word(self, token: str) -> bool:
        """Case-sensitive, as Spotlight's tokenizer checks (`The` is not a stop word, `the` is)."""
        return token in self.stop_words

    @staticmethod
    def split(text: str) -> list[str]:
        """Just the tokens of a text, without offsets or sentences."""
        return TOKEN_SPLIT.findall(_POSSESSIVE.sub(" s", text) if "s" in text else text)

    def surface_form_stems(self, surface_form: str) -> list[str]:
        """Stems of every token of a surface form, stop words included (how the FSA is built)."""
        return [self.stem(t) for t in self.split(surface_form)]

    def context_stems(self, text: str) -> list[str]:
        """The stems that go into `tokenCounts`: every token's stem except stems of stop words
        (how the wikistats extractor filters, so `The` is dropped too)."""
        if self._stop_stems is None:
            self._stop_stems = frozenset(self.stem(w) for w in self.stop_words)
        stop = self._stop_stems
        return [s for s in map(self.stem, self.split(text)) if s not in stop]

    def count_context_stems(self, text: str) -> Counter[str]:
        return Counter(self.context_stems(text))


def _sentences(text: str, tokens: list[str], starts: np.ndarray,
               ends: np.ndarray) -> np.ndarray:
    """Sentence number of each token (rules in the module docstring)."""
    n = len(tokens)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    glued = np.append(ends[:-1] == starts[1:], False)  # no space between token i and i + 1
    ends_sentence = np.zeros(n, dtype=bool)
    breaks = np.array([m.start() for m in _LINE_BREAK.finditer(text)], dtype=np.int64)
    if len(breaks):
        before = np.searchsorted(starts, breaks) - 1
        ends_sentence[before[before >= 0]] = True
    marks = np.array([m.start() for m in _TERMINATOR.finditer(text)], dtype=np.int64)
    if len(marks):
        at = np.minimum(np.searchsorted(starts, marks), n - 1)
        at = at[(starts[at] == marks) & (ends[at] == marks + 1)]
        for i in at.tolist():
            j = i
            while j + 1 < n and glued[j] and tokens[j + 1] in _CLOSERS:
                j += 1
            if j + 1 >= n or glued[j]:
                continue
            if tokens[i] == "." and tokens[j + 1][:1].islower():
                continue
            ends_sentence[j] = True
    sentence = np.zeros(n, dtype=np.int32)
    np.cumsum(ends_sentence[:-1], out=sentence[1:])
    return sentence


def normalize_surface_form(name: str) -> str:
    """Spotlight's `SurfaceForm` name: `’` becomes `'`, whitespace runs collapse, ends trimmed."""
    if "’" in name:
        name = name.replace("’", "'")
    if "  " in name or not name.isprintable() or name[:1].isspace() or name[-1:].isspace():
        name = " ".join(name.split())
    return name
