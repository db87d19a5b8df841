"""The tokenizer's rules (see `tokenizer`) run with numpy over a text's code points.

`TOKEN_SPLIT` in `tokenizer` states the token rule as a regular expression; `scan` finds the
same tokens without making a Python string per token: characters are classed with tables of
Python's own `\\w` and `\\s` over every code point (built once per process), token bounds are
where the classes change, sentence ends follow the terminator rules, and each token gets a
64-bit hash of its characters (`token_hashes`) that stands for its string in caches.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

_UNICODE = 0x110000
_FULL_STOP, _APOSTROPHE, _RIGHT_QUOTE, _SMALL_S = ord("."), ord("'"), ord("’"), ord("s")
_BREAK, _TERMINATOR, _CLOSER, STOP = 1, 2, 4, 8  # character classes, see `classes`
_CLASSES = {_BREAK: "\r\n", _TERMINATOR: ".!?", _CLOSER: "\"'’”»)]}", STOP: " ,!?.:;"}
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)
_SPREAD = np.uint64(0x9E3779B97F4A7C15)
_SHORT_TOKEN = 24  # longer tokens are hashed one by one with blake2b
_tables: dict[str, np.ndarray] = {}


def stable_hash(text: str) -> int:
    """A 64-bit hash of a string that is the same in every process and run (never 0)."""
    value = int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                           digest_size=8).digest(), "little")
    return value or 1


def stable_hashes(texts: list[str]) -> np.ndarray:
    """`stable_hash` of many strings, as uint64."""
    blake = hashlib.blake2b
    values = np.frombuffer(b"".join([blake(t.encode("utf-8", "surrogatepass"), digest_size=8)
                                     .digest() for t in texts]), dtype="<u8").astype(np.uint64)
    values[values == 0] = 1
    return values


class TokenizedText:
    """Tokens of one text as arrays: token i is `text[starts[i]:ends[i]]` (the possessive
    `'s` tokenizes as `s`); `sentence[i]` numbers its sentence; `hashes[i]` identifies its
    string (see `token_hashes`); `points` are the text's code points."""

    __slots__ = ("text", "starts", "ends", "sentence", "hashes", "points", "_tokens")

    def __init__(self, text: str, starts: np.ndarray, ends: np.ndarray, sentence: np.ndarray,
                 hashes: np.ndarray, points: np.ndarray):
        self.text, self.starts, self.ends, self.sentence = text, starts, ends, sentence
        self.hashes, self.points = hashes, points
        self._tokens: list[str] | None = None

    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            text = self.text
            self._tokens = [text[a:b] for a, b in zip(self.starts.tolist(), self.ends.tolist(),
                                                      strict=True)]
        return self._tokens

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def sentence_count(self) -> int:
        return int(self.sentence[-1]) + 1 if len(self.starts) else 0


def classes(points: np.ndarray) -> np.ndarray:
    """Per code point, the bits of the small character classes it belongs to."""
    table = _tables.get("classes")
    if table is None:
        table = np.zeros(0x2020, dtype=np.uint8)
        for bit, characters in _CLASSES.items():
            for c in characters:
                table[ord(c)] |= bit
        _tables["classes"] = table
    return table[np.minimum(points, len(table) - 1)]


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _table(name: str) -> np.ndarray:
    """Per code point: matches Python's `\\w` (name "w") or `\\s` ("s")."""
    table = _tables.get(name)
    if table is None:
        every = np.arange(_UNICODE, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
        table = np.zeros(_UNICODE, dtype=bool)
        for match in re.finditer(rf"\{name}+", every):
            table[match.start():match.end()] = True
        _tables[name] = table
    return table


def scan(text: str) -> TokenizedText:
    """Tokens, sentences and token hashes of a text (the rules of `tokenizer`)."""
    points = code_points(text)
    n = len(points)
    if n == 0:
        none = np.zeros(0, dtype=np.int64)
        return TokenizedText(text, none, none, np.zeros(0, dtype=np.int32),
                             np.zeros(0, dtype=np.uint64), points)
    normal = points
    quote = np.flatnonzero(((points[:-1] == _APOSTROPHE) | (points[:-1] == _RIGHT_QUOTE))
                           & (points[1:] == _SMALL_S))
    if len(quote):  # the possessive 's reads as " s"
        normal = points.copy()
        normal[quote] = ord(" ")
    word = _table("w")[normal]
    space = _table("s")[normal]
    joiner = np.zeros(n, dtype=bool)  # . ' ’ between two word characters joins them
    joiner[1:-1] = (((normal[1:-1] == _FULL_STOP) | (normal[1:-1] == _APOSTROPHE)
                     | (normal[1:-1] == _RIGHT_QUOTE)) & word[:-2] & word[2:])
    wordlike = word | joiner
    single = ~wordlike & ~space
    begins = wordlike.copy()
    begins[1:] &= ~wordlike[:-1]
    finishes = wordlike.copy()
    finishes[:-1] &= ~wordlike[1:]
    starts = np.flatnonzero(begins | single)
    ends = np.flatnonzero(finishes | single) + 1
    sentence = _sentences(text, normal, starts, ends)
    return TokenizedText(text, starts, ends, sentence, token_hashes(text, normal, starts, ends),
                         points)


def token_hashes(text: str, points: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each token's characters: FNV-1a over spread code points for tokens
    up to 24 characters (all at once, one character position at a time), the leading 8 bytes of
    blake2b beyond. Equal strings get equal hashes; distinct ones collide with a chance of
    about 2**-64."""
    lengths = ends - starts
    hashes = np.full(len(starts), _FNV_OFFSET, dtype=np.uint64)
    alive = np.flatnonzero(lengths <= _SHORT_TOKEN)
    at = starts[alive]
    for k in range(_SHORT_TOKEN):
        if k:
            more = lengths[alive] > k
            alive, at = alive[more], at[more] + 1
        if not len(alive):
            break
        hashes[alive] = (hashes[alive] ^ (points[at].astype(np.uint64) * _SPREAD)) * _FNV_PRIME
    long = np.flatnonzero(lengths > _SHORT_TOKEN)
    if len(long):
        hashes[long] = stable_hashes([text[a:b] for a, b in zip(
            starts[long].tolist(), ends[long].tolist(), strict=True)])
    return hashes


def _sentences(text: str, points: np.ndarray, starts: np.ndarray,
               ends: np.ndarray) -> np.ndarray:
    """Sentence number of each token: a line break ends one; so does a `.`, `!` or `?`
    token followed by a space (after any closing quotes or brackets glued to it), except a
    `.` whose next token starts with a lowercase letter."""
    n = len(starts)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    glued = np.append(ends[:-1] == starts[1:], False)  # no space between token i and i + 1
    ends_sentence = np.zeros(n, dtype=bool)
    kind = classes(points)
    breaks = np.flatnonzero(kind & _BREAK)
    if len(breaks):
        before = np.searchsorted(starts, breaks) - 1
        ends_sentence[before[before >= 0]] = True
    first = points[starts]
    first_kind = kind[starts]
    one = ends - starts == 1
    at = np.flatnonzero(one & (first_kind & _TERMINATOR > 0))
    if len(at):
        closer = one & (first_kind & _CLOSER > 0)
        extends = glued & np.append(closer[1:], False)  # token j + 1 is a glued closer
        stops = np.flatnonzero(~extends)
        j = stops[np.searchsorted(stops, at)]
        ok = j + 1 < n
        at, j = at[ok], j[ok]
        ok = ~glued[j]
        at, j = at[ok], j[ok]
        period = np.flatnonzero(first[at] == _FULL_STOP)
        if len(period):
            following = first[j[period] + 1]
            lower = (following >= ord("a")) & (following <= ord("z"))
            other = np.flatnonzero(following >= 128)
            lower[other] = [chr(c).islower() for c in following[other].tolist()]
            keep = np.ones(len(at), dtype=bool)
            keep[period[lower]] = False
            j = j[keep]
        ends_sentence[j] = True
    sentence = np.zeros(n, dtype=np.int32)
    np.cumsum(ends_sentence[:-1], out=sentence[1:])
    return sentence
