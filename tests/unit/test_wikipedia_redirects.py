from __future__ import annotations

from longtail.wikipedia.redirects import resolve_redirects


def test_chains_resolve_to_their_last_page() -> None:
    result = resolve_redirects({"A": "B", "B": "C", "C": "D", "X": "D", "Y": "A"})
    assert result.targets == {"A": "D", "B": "D", "C": "D", "X": "D", "Y": "D"}
    assert result.cycles == []
    assert result.dead_ends == set()


def test_titles_that_are_not_redirects_resolve_to_themselves() -> None:
    result = resolve_redirects({"USA": "United_States"})
    assert result.resolve("USA") == "United_States"
    assert result.resolve("France") == "France"


def test_cycles_are_broken_and_reported_once() -> None:
    result = resolve_redirects(
        {"A": "B", "B": "C", "C": "A", "Self": "Self", "P": "Q", "Q": "P", "Into": "B"}
    )
    assert sorted(result.cycles) == [["A", "B", "C"], ["P", "Q"], ["Self"]]
    assert result.in_cycles == 6
    assert result.dead_ends == {"A", "B", "C", "Self", "P", "Q", "Into"}
    assert result.resolve("Into") is None
    assert result.resolve("A") is None


def test_cycles_are_reported_from_their_smallest_title_whatever_the_start() -> None:
    chain = {"M": "Z", "Z": "K", "K": "M"}
    for first in chain:
        reordered = {first: chain[first]} | chain
        assert resolve_redirects(reordered).cycles == [["K", "M", "Z"]]


def test_redirects_out_of_the_main_namespace_are_dead_ends() -> None:
    result = resolve_redirects({"Help me": None, "Via": "Help me", "Fine": "Page"})
    assert result.dead_ends == {"Help me", "Via"}
    assert result.targets == {"Fine": "Page"}
    assert result.cycles == []


def test_long_chains_do_not_recurse() -> None:
    chain = {f"T{i}": f"T{i + 1}" for i in range(50_000)}
    result = resolve_redirects(chain)
    assert result.resolve("T0") == "T50000"
    assert len(result.targets) == 50_000
