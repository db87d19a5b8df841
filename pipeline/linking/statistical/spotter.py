"""Find every occurrence of known token sequences in a text, token by token.

This plays the part of Spotlight's `FSASpotter` dictionary: a surface form is a sequence of
token keys; a text matches it where consecutive tokens of one sentence carry the same keys.
Instead of an automaton of token ids, the dictionary is two sorted arrays of 64-bit hashes:
every whole sequence (`accept`) and every proper prefix of one (`prefixes`). Matching walks all
start positions at once with numpy, extending only the positions whose sequence so far is a
prefix, so the cost is a few vectorised binary searches per token.

A sequence hash is `h(k1..kn) = h(k1..kn-1) * MIX + kn (mod 2**64)` over per-token keys that
are `stable_hash` values; key 0 marks a token that can never be part of a match. Distinct
sequences colliding on 64 bits is possible in principle and ignored (about 1e-5 for 13M forms).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from longtail.linking.statistical.scanning import stable_hashes
from longtail.linking.statistical.tokenizer import TokenizedText, Tokenizer, stable_hash

MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_MIX_U64 = np.uint64(MIX)
ACCEPT = 1
PREFIX = 2
_WORD_CACHE_LIMIT = 1_000_000


def sequence_hash(keys: Iterable[int]) -> int:
    """The hash of a whole key sequence, as `Spotter` extends it token by token."""
    value = 0
    for key in keys:
        value = (value * MIX + key) & _MASK
    return value


def prefix_hashes(keys: Sequence[int]) -> list[int]:
    """Hashes of the proper prefixes (lengths 1 .. n-1) of a key sequence."""
    out, value = [], 0
    for key in keys[:-1]:
        value = (value * MIX + key) & _MASK
        out.append(value)
    return out


def contains_sorted(table: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, position) of each value in a sorted uint64 table."""
    if len(table) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=np.int64)
    pos = np.searchsorted(table, values)
    np.minimum(pos, len(table) - 1, out=pos)
    return table[pos] == values, pos


def append(column: np.ndarray, values: np.ndarray, used: int) -> np.ndarray:
    """`values` written after the first `used` entries of a column that grows by doubling
    (so that appending n values in batches costs O(n), not O(n) per batch)."""
    end = used + len(values)
    if end > len(column):
        grown = np.empty(max(end, 2 * len(column), 1024), dtype=column.dtype)
        grown[:used] = column[:used]
        column = grown
    column[used:end] = values
    return column


class KeyTable:
    """A map from uint64 keys to int64 rows in sorted numpy arrays: 16 bytes an entry, where a
    dict of Python ints takes about 100. Lookups are vectorised binary searches in three
    sorted levels; new keys go into the smallest, and a level is merged into the next when it
    outgrows its share (2,048 entries; 65,536 or an eighth of the largest), so that adding a
    few keys copies little and each key is copied a few times in all."""

    _TINY, _MIDDLE = 1 << 11, 1 << 16

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        none = (np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))
        self._levels = [none, none, none]  # largest first

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._levels)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where it is not in the table."""
        rows = np.full(len(keys), -1, dtype=np.int64)
        asked = np.arange(len(keys))  # the keys not found yet: most are in the largest level
        for table, values in self._levels:
            if len(table) and len(asked):
                found, pos = contains_sorted(table, keys[asked])
                rows[asked[found]] = values[pos[found]]
                asked = asked[~found]
        return rows

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add keys that are not in the table yet (distinct), with their rows."""
        order = np.argsort(keys, kind="stable")
        large, middle, tiny = self._levels
        tiny = _merge(tiny, (keys[order], rows[order]))
        if len(tiny[0]) > self._TINY:
            middle, tiny = _merge(middle, tiny), (tiny[0][:0], tiny[1][:0])
            if len(middle[0]) > max(self._MIDDLE, len(large[0]) // 8):
                large, middle = _merge(large, middle), (middle[0][:0], middle[1][:0])
        self._levels = [large, middle, tiny]


def _merge(into: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]
           ) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted (keys, rows) levels as one."""
    at = np.searchsorted(into[0], new[0])
    return np.insert(into[0], at, new[0]), np.insert(into[1], at, new[1])


class WordFeatures:
    """Per distinct token, cached in growing arrays: its key (0 where it can never be part of
    a match), ACCEPT/PREFIX flags of the one-token sequence and its row in a sorted
    `vocabulary` of hashes (-1 if absent or a stop word; the linker's token ids). Tokens are
    looked up by their `TokenizedText.hashes`, once per distinct token of a text."""

    def __init__(self, spotter: Spotter, vocabulary: np.ndarray | None = None):
        self.spotter = spotter
        self.vocabulary = vocabulary
        self._reset()

    def _reset(self) -> None:
        self.index = KeyTable()
        self.keys = np.zeros(0, dtype=np.uint64)
        self.flags = np.zeros(0, dtype=np.uint8)
        self.vocab = np.zeros(0, dtype=np.int64)

    def rows(self, tokenized: TokenizedText) -> np.ndarray:
        """The cache row of each token, computing the missing ones in one batch."""
        distinct, first, inverse = np.unique(tokenized.hashes, return_index=True,
                                             return_inverse=True)
        rows = self.index.get(distinct)
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            if len(self.index) + len(missing) > _WORD_CACHE_LIMIT:
                self._reset()
                missing = np.arange(len(distinct))
            text, starts, ends = tokenized.text, tokenized.starts, tokenized.ends
            at = first[missing]
            rows[missing] = self._add(distinct[missing], [
                text[a:b] for a, b in zip(starts[at].tolist(), ends[at].tolist(), strict=True)])
        return rows[inverse.ravel()]

    def _add(self, hashes: np.ndarray, words: list[str]) -> np.ndarray:
        spotter = self.spotter
        keys = spotter.word_keys(words)
        usable = keys != 0
        if self.vocabulary is not None:
            known, pos = contains_sorted(self.vocabulary, keys)
            usable &= known
            vocab = np.where(usable, pos, -1)
        else:
            vocab = np.full(len(words), -1, dtype=np.int64)
        accept, _ = contains_sorted(spotter.accept, keys)
        prefix, _ = contains_sorted(spotter.prefixes, keys)
        flags = ((accept & usable) * ACCEPT | (prefix & usable) * PREFIX).astype(np.uint8)
        first = len(self.index)
        end = first + len(words)
        self.index.add(hashes, np.arange(first, end))
        self.keys, self.flags, self.vocab = (
            append(column, values, first) for column, values in
            ((self.keys, keys), (self.flags, flags), (self.vocab, vocab)))
        return np.arange(first, end)


class Spotter:
    """Every (start, end) of known key sequences, overlapping matches included.

    `build()` makes the exact, case-sensitive spotter a Wikipedia model builder needs to count
    how often each surface form occurs in article text; the linker uses the same class over
    stemmed, lowercased keys in which stop words break sequences (Spotlight's FSA dictionary).
    """

    def __init__(self, accept: np.ndarray, prefixes: np.ndarray, accept_ids: np.ndarray | None,
                 tokenizer: Tokenizer, *, stemmed: bool = False,
                 break_on_stop_words: bool = False):
        self.accept = accept
        self.prefixes = prefixes
        self.accept_ids = accept_ids
        self.tokenizer = tokenizer
        self.stemmed = stemmed
        self.break_on_stop_words = break_on_stop_words
        self.words = WordFeatures(self)

    @classmethod
    def build(cls, surface_forms: Iterable[str], *, tokenizer: Tokenizer | None = None,
              stemmed: bool = False, break_on_stop_words: bool = False) -> Spotter:
        """A spotter for these surface forms; `find_all` reports their index in this order.

        A form listed twice reports its first index; a form without tokens never matches.
        """
        tokenizer = tokenizer or Tokenizer(stop_words=())
        spotter = cls(np.zeros(0, np.uint64), np.zeros(0, np.uint64), None, tokenizer,
                      stemmed=stemmed, break_on_stop_words=break_on_stop_words)
        keys_of: dict[str, int] = {}
        accept, accept_ids, prefixes = array("Q"), array("q"), array("Q")
        for index, form in enumerate(surface_forms):
            keys = []
            for token in tokenizer.split(form):
                key = keys_of.get(token)
                if key is None:
                    if len(keys_of) >= _WORD_CACHE_LIMIT:
                        keys_of.clear()
                    key = keys_of[token] = spotter.word_key(token)
                keys.append(key)
            if keys:
                accept.append(sequence_hash(keys))
                accept_ids.append(index)
                prefixes.extend(prefix_hashes(keys))
        hashes = np.array(accept, dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        first = np.concatenate(([True], hashes[1:] != hashes[:-1])) if len(hashes) else []
        spotter.accept = hashes[first]
        spotter.accept_ids = np.array(accept_ids, dtype=np.int64)[order][first]
        spotter.prefixes = np.unique(np.array(prefixes, dtype=np.uint64))
        spotter.words = WordFeatures(spotter)
        return spotter

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "accept.npy", self.accept)
        np.save(folder / "prefixes.npy", self.prefixes)
        if self.accept_ids is not None:
            np.save(folder / "accept_ids.npy", self.accept_ids)

    @classmethod
    def load(cls, folder: str | Path, *, tokenizer: Tokenizer | None = None,
             stemmed: bool = False, break_on_stop_words: bool = False) -> Spotter:
        folder = Path(folder)
        ids = folder / "accept_ids.npy"
        return cls(np.load(folder / "accept.npy", mmap_mode="r"),
                   np.load(folder / "prefixes.npy", mmap_mode="r"),
                   np.load(ids, mmap_mode="r") if ids.exists() else None,
                   tokenizer or Tokenizer(stop_words=()), stemmed=stemmed,
                   break_on_stop_words=break_on_stop_words)

    def word_key(self, token: str) -> int:
        """A token's key: the hash of its stem (stemmed) or of itself; 0 for a stop word when
        stop words break sequences."""
        if self.break_on_stop_words and self.tokenizer.is_stop_word(token):
            return 0
        return stable_hash(self.tokenizer.stem(token) if self.stemmed else token)

    def word_keys(self, tokens: list[str]) -> np.ndarray:
        """`word_key` of many tokens, as uint64."""
        keys = stable_hashes(self.tokenizer.stems(tokens) if self.stemmed else tokens)
        if self.break_on_stop_words:
            stop = self.tokenizer.stop_words
            keys[[i for i, t in enumerate(tokens) if t in stop]] = 0
        return keys

    def match(self, keys: np.ndarray, flags: np.ndarray, sentence: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(first token, end token exclusive, sequence hash) of every match, by length then start.

        `keys`, `flags` and `sentence` are per-token arrays (see `WordFeatures`); matches never
        cross a sentence boundary.
        """
        n = len(keys)
        found_start, found_end, found_hash = [], [], []
        single = np.flatnonzero(flags & ACCEPT)
        if len(single):
            found_start.append(single)
            found_end.append(single + 1)
            found_hash.append(keys[single])
        alive = np.flatnonzero(flags & PREFIX)
        hashes = keys[alive]
        length = 1
        while len(alive):
            nxt = alive + length
            ok = nxt < n
            alive, hashes, nxt = alive[ok], hashes[ok], nxt[ok]
            ok = (sentence[nxt] == sentence[alive]) & (keys[nxt] != 0)
            alive, hashes, nxt = alive[ok], hashes[ok], nxt[ok]
            hashes = hashes * _MIX_U64 + keys[nxt]
            length += 1
            hit, _ = contains_sorted(self.accept, hashes)
            if hit.any():
                found_start.append(alive[hit])
                found_end.append(alive[hit] + length)
                found_hash.append(hashes[hit])
            more, _ = contains_sorted(self.prefixes, hashes)
            alive, hashes = alive[more], hashes[more]
        if not found_start:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.uint64)
        return (np.concatenate(found_start), np.concatenate(found_end),
                np.concatenate(found_hash))

    def find_all(self, text: str) -> Iterator[tuple[int, int, int]]:
        """(start, end, surface form index) of every occurrence, in code points, by start."""
        tokenized = self.tokenizer.tokenize(text)
        rows = self.words.rows(tokenized)
        first, end, hashes = self.match(self.words.keys[rows], self.words.flags[rows],
                                        tokenized.sentence)
        if self.accept_ids is not None:
            _, pos = contains_sorted(self.accept, hashes)
            ids = self.accept_ids[pos]
        else:
            ids = np.full(len(first), -1, dtype=np.int64)
        starts = tokenized.starts[first]
        ends = tokenized.ends[end - 1]
        for i in np.lexsort((ends, starts)):
            yield int(starts[i]), int(ends[i]), int(ids[i])
