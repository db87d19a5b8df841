from __future__ import annotations

import pyarrow as pa

from longtail.linking.statistical.tokenizer import Tokenizer
from longtail.wikipedia.counts import (
    article_links,
    context_token_counts,
    surface_form_occurrences,
)
from longtail.wikipedia.dump import WikiPage
from longtail.wikipedia.pages import PAGES, page_row
from longtail.wikipedia.titles import ENGLISH


def batch_of(*pages: tuple[str, str]) -> pa.RecordBatch:
    rows = [page_row(WikiPage(title, 0, i, None, text), "dump.xml", ENGLISH)
            for i, (title, text) in enumerate(pages)]
    return pa.RecordBatch.from_pylist(rows, schema=PAGES)


def test_article_links_name_surface_forms_as_spotlight_does() -> None:
    batch = batch_of(
        ("Lyon", "In [[France|Fran\u00e7e]] and [[O'Brien|O\u2019Brien]], [[X]] and [[Y|yy]]."),
        ("Mercury", "* [[Mercury (planet)]]\n{{disambiguation}}"),
    )
    rows = pa.Table.from_batches(list(article_links([batch], min_surface_form_length=2)))
    assert rows.to_pylist() == [
        {"source": "Lyon", "surface_form": "Fran\u00e7e", "target": "France"},
        {"source": "Lyon", "surface_form": "O'Brien", "target": "O'Brien"},
        {"source": "Lyon", "surface_form": "yy", "target": "Y"},
    ]


def test_surface_forms_are_counted_linked_or_not_at_word_boundaries() -> None:
    batch = batch_of(
        ("A", "[[Paris]] is big. Paris, Parisian, Paris Hilton. New York and York."),
        ("B", "York is old; pre[[York]] is a link inside a word. [[New York]]er."),
    )
    forms = ["Paris", "York", "New York", "Berlin"]
    rows = pa.Table.from_batches(list(surface_form_occurrences([batch], forms))).to_pylist()
    counts = {r["surface_form"]: r["occurrences"] for r in rows}
    # "Parisian" and "New Yorker" are no occurrence; "pre[[York]]" is one because it is a link.
    assert counts == {"Paris": 3, "York": 4, "New York": 1}


def test_context_tokens_are_stemmed_windowed_and_stay_in_the_paragraph() -> None:
    batch = batch_of(
        ("A", "Cats were sleeping near the [[river]] banks quietly.\n\nDogs barked loudly."),
    )
    rows = pa.Table.from_batches(list(context_token_counts([batch], Tokenizer(), window=2)))
    got = {(r["target"], r["token"]): r["count"] for r in rows.to_pylist()}
    # Two tokens each side: "near the" | "river" | "banks quietly"; "the" is a stop word.
    assert got == {("River", "near"): 1, ("River", "river"): 1, ("River", "bank"): 1,
                   ("River", "quiet"): 1}


def test_context_tokens_add_up_over_links_to_one_target() -> None:
    batch = batch_of(
        ("A", "Rivers flow. [[River|Water]] flows."),
        ("B", "Water [[river|runs]]."),
    )
    rows = pa.Table.from_batches(list(context_token_counts([batch], Tokenizer(), window=5)))
    got = {(r["target"], r["token"]): r["count"] for r in rows.to_pylist()}
    assert got[("River", "water")] == 2
    assert got[("River", "flow")] == 2
    assert got[("River", "run")] == 1
    assert all(token.isalnum() for _, token in got)
