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

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import snowballstemmer

from longtail.linking.statistical.scanning import TokenizedText, scan
from longtail.linking.statistical.scanning import stable_hash as stable_hash  # re-exported

TOKEN_SPLIT = re.compile(r"(\w+(?:[.'’]\w+)*|[^\w\s])")
_POSSESSIVE = re.compile(r"[’']s")
_CACHE_LIMIT = 1_000_000


def default_stop_words() -> frozenset[str]:
    """spaCy's English stop word list (Spotlight ships its own `stopwords.list` per model)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def read_stop_words(path: str | Path) -> frozenset[str]:
    """One word per line, like Spotlight's `stopwords.list`; blank lines ignored."""
    with open(path, encoding="utf-8") as handle:
        return frozenset(word for line in handle if (word := line.strip()))


def stop_words_text(words: Iterable[str]) -> str:
    """The contents of a `stopwords.list`: one word per line, sorted."""
    return "".join(f"{w}\n" for w in sorted(set(words)))


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
        """Tokens and sentences of a text, found with numpy over its code points; the same
        tokens as `split`."""
        return scan(text)

    def stem(self, token: str) -> str:
        """Lowercase, then Snowball English (Porter2), as Spotlight's `SnowballStemmer` does."""
        stem = self._stems.get(token)
        if stem is None:
            if len(self._stems) >= _CACHE_LIMIT:
                self._stems.clear()
            stem = self._stemmer.stemWord(token.lower())
            self._stems[token] = stem
        return stem

    def stems(self, tokens: list[str]) -> list[str]:
        """`stem` of many tokens in one call of the stemmer, without the cache."""
        return self._stemmer.stemWords([t.lower() for t in tokens])

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


def normalize_surface_form(name: str) -> str:
    """Spotlight's `SurfaceForm` name: `’` becomes `'`, whitespace runs collapse, ends trimmed."""
    if "’" in name:
        name = name.replace("’", "'")
    if "  " in name or not name.isprintable() or name[:1].isspace() or name[-1:].isspace():
        name = " ".join(name.split())
    return name
