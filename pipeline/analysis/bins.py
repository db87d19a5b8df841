"""Log10 bins of relevant-document counts, the x axis of Kandpal et al.'s Figure 1.

A count n >= 1 is in [10^k, 10^(k+1)) with k = digits(n) - 1, labelled "1-9", "10-99", ...;
0 is its own bin "0"; no count at all (None) is "uncounted". Integer arithmetic only, so 1000
is in "1000-9999" however floating point would round log10.
"""

from __future__ import annotations

from dataclasses import dataclass

ZERO = "0"
UNCOUNTED = "uncounted"


@dataclass(frozen=True, slots=True)
class CountBin:
    label: str
    low: int | None  # inclusive
    high: int | None  # exclusive
    order: int  # 0 for "0", k + 1 for [10^k, 10^(k+1)), a large number for "uncounted"


def count_bin(count: int | None) -> CountBin:
    if count is None:
        return CountBin(UNCOUNTED, None, None, 1 << 30)
    if count < 0:
        raise ValueError(f"negative count {count}")
    if count == 0:
        return CountBin(ZERO, 0, 1, 0)
    k = len(str(count)) - 1
    low, high = 10**k, 10 ** (k + 1)
    return CountBin(f"{low}-{high - 1}", low, high, k + 1)
