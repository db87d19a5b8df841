"""Long texts cut into pieces of at most `SEGMENT_CHARS`, so that linking them takes memory in
proportion to the piece, not to the text.

Spotting never crosses a sentence, and a context window is whole sentences, so a text cut where
a sentence starts (a window starts, when the text is scored in windows) is linked exactly as the
whole. Which of the two the text gets is Spotlight's rule over the whole text: one window when it
has at most `max_context` (200) sentences, else windows of whole sentences of at least 200
tokens. The one window of a long text is its set of distinct known tokens, collected piece by
piece first (`Segmenter.pieces` twice); windows are cut along as they close.

Two rules differ from Spotlight, and only next to a sentence longer than `SEGMENT_CHARS`
(200,000 characters), which Spotlight would hold whole:

- such a sentence is cut at its last whitespace before the limit (at the limit itself, inside
  a token, when it has none), and the cut ends the sentence: no spot, capital sequence or chunk
  crosses it;
- a context window that would reach past the limit, which only such a sentence makes happen
  (windows hold about 200 tokens), is closed at the last sentence start before the limit.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from longtail.linking.statistical.tokenizer import TokenizedText, Tokenizer

SEGMENT_CHARS = 200_000


class Segmenter:
    """Cuts texts longer than `limit` characters into pieces (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer, max_context: int, limit: int = SEGMENT_CHARS):
        self.tokenizer = tokenizer
        self.max_context = max_context
        self.limit = limit
        self.forced_cuts = 0  # cuts made inside a sentence, for tests and benchmarks

    def pieces(self, text: str, windowed: bool) -> Iterator[tuple[int, TokenizedText]]:
        """(offset in `text`, tokens) of each piece, in order; the pieces cover `text`.

        A piece ends where a sentence starts, or with `windowed` where a context window of the
        whole text starts, when the next `limit` characters hold one."""
        begin = 0
        while begin < len(text):
            end = begin + self.limit
            region = self.tokenizer.tokenize(text[begin:end])
            if end >= len(text):
                yield begin, region
                return
            at = self._cut(region, windowed)
            if at is None:
                self.forced_cuts += 1
                at = self._forced_cut(region)
            if at is not None:
                cut = int(region.starts[at])
                yield begin, _head(region, at, cut)
            else:  # inside a token: the piece is tokenized anew
                cut = len(region.text)
                yield begin, self.tokenizer.tokenize(text[begin:begin + cut])
            begin += cut

    def _cut(self, region: TokenizedText, windowed: bool) -> int | None:
        """The token where the piece ends: the last window start (`windowed`), else the last
        sentence start, of `region`; None when it holds no sentence start."""
        sentence = region.sentence
        starts = np.flatnonzero(sentence[1:] != sentence[:-1]) + 1
        if not len(starts):
            return None
        if windowed:
            bound, begin = None, 0
            for start in starts.tolist():  # Disambiguator.windows' rule
                if start - begin >= self.max_context:
                    bound = begin = start
            if bound is not None:
                return bound
        return int(starts[-1])

    @staticmethod
    def _forced_cut(region: TokenizedText) -> int | None:
        """The last token after whitespace in a region of one sentence, if any."""
        starts, ends = region.starts, region.ends
        after_space = np.flatnonzero(starts[1:] > ends[:-1]) + 1
        return int(after_space[-1]) if len(after_space) else None


def _head(region: TokenizedText, tokens: int, cut: int) -> TokenizedText:
    """The first `tokens` tokens of `region` and its text up to `cut`: what tokenizing that
    text gives when `cut` is a sentence start or follows whitespace (the tokenizer looks at
    most one character ahead for a token's end, and one token ahead for a sentence's)."""
    return TokenizedText(region.text[:cut], region.starts[:tokens], region.ends[:tokens],
                         region.sentence[:tokens], region.hashes[:tokens], region.points[:cut])
