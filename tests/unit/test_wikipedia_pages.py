from __future__ import annotations

import bz2
import collections
import re

import pyarrow as pa

from longtail.wikipedia.dump import DumpSplit, WikiPage
from longtail.wikipedia.pages import (
    ARTICLE,
    DISAMBIGUATION,
    FAILURE,
    OTHER_NAMESPACE,
    PAGES,
    REDIRECT,
    extract_pages,
    page_row,
    page_rows,
    splits_batch,
)
from longtail.wikipedia.titles import ENGLISH
from tests.conftest import shared_path


def row_of(title: str, text: str, ns: int = 0, redirect: str | None = None) -> dict:
    return page_row(WikiPage(title, ns, 1, redirect, text), "dump.xml", ENGLISH)


def test_an_article_has_text_and_links() -> None:
    row = row_of("Lyon", "'''Lyon''' is a city in [[France]].{{Infobox}}")
    assert row["kind"] == ARTICLE
    assert row["text"] == "Lyon is a city in France."
    assert row["links"] == [{"target": "France", "surface_form": "France", "start": 18,
                             "end": 24}]


def test_redirects_carry_their_canonical_target() -> None:
    row = row_of("Lutetia", "#REDIRECT [[Paris#History]]", redirect="Paris#History")
    assert (row["kind"], row["title"], row["redirect_target"]) == (REDIRECT, "Lutetia", "Paris")
    assert row["text"] is None


def test_old_dumps_without_a_redirect_tag_are_recognised_by_their_text() -> None:
    row = row_of("Old name", "#redirect: [[new name|x]]")
    assert (row["kind"], row["title"], row["redirect_target"]) == (
        REDIRECT, "Old_name", "New_name")


def test_redirects_out_of_the_main_namespace_have_no_target() -> None:
    row = row_of("Help page", "#REDIRECT [[Help:Contents]]", redirect="Help:Contents")
    assert row["kind"] == REDIRECT
    assert row["redirect_target"] is None


def test_disambiguation_pages_are_recognised() -> None:
    listing = "'''Mercury''' may be:\n* [[Mercury (planet)]]\n* [[Mercury (element)]]\n"
    for text, title in [
        (listing + "{{disambiguation}}", "Mercury"),
        (listing + "{{Disambig|geo}}", "Mercury"),
        (listing + "{{dab}}", "Mercury"),
        (listing + "{{hndis|Smith, John}}", "John Smith"),
        (listing + "{{geodis}}", "Springfield"),
        (listing + "{{Place name disambiguation}}", "Springfield"),
        (listing + "__DISAMBIG__", "Mercury"),
        (listing, "Mercury (disambiguation)"),
    ]:
        assert row_of(title, text)["kind"] == DISAMBIGUATION, text


def test_hatnotes_and_cleanup_tags_do_not_make_a_disambiguation_page() -> None:
    for text in [
        "{{Other uses|Mercury (disambiguation)}} '''Mercury''' is a planet.",
        "{{About|the planet||Mercury (disambiguation)}} Mercury is a planet.",
        "Mercury{{disambiguation needed|date=May 2020}} is a planet.",
    ]:
        assert row_of("Mercury", text)["kind"] == ARTICLE, text


def test_other_namespaces_are_only_counted() -> None:
    row = row_of("Wikipedia:About", "text [[Paris]]", ns=4)
    assert row["kind"] == OTHER_NAMESPACE
    assert row["links"] is None


def test_an_unreadable_dump_becomes_a_failure_row(tmp_path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<mediawiki><page><title>A</title><ns>0</ns><id>1</id><revision>"
                    "<text>[[B]]</text></revision></page><page><title>C</tit")
    rows = list(page_rows(DumpSplit(str(path))))
    assert [(r["kind"], r["title"]) for r in rows] == [(ARTICLE, "A"), (FAILURE, None)]
    assert rows[1]["reason"] == "unreadable_dump"
    assert rows[1]["source"] == str(path)


def test_extracted_pages_of_a_real_dump_match_its_xml(tmp_path) -> None:
    sample = shared_path("wikipedia", "enwiki-sample-206pages.xml.bz2")
    raw = bz2.decompress(sample.read_bytes()).decode("utf-8")
    batches = list(extract_pages([splits_batch([DumpSplit(str(sample))])]))
    assert all(b.schema.equals(PAGES) for b in batches)
    rows = pa.Table.from_batches(batches).to_pylist()
    # Counted from the raw XML, page by page.
    xml_pages = re.findall(r"<page>(.*?)</page>", raw, re.S)
    expected = collections.Counter()
    for body in xml_pages:
        ns = re.search(r"<ns>(\d+)</ns>", body).group(1)
        if ns != "0":
            expected["other"] += 1
        elif "<redirect" in body:
            expected["redirect"] += 1
        else:
            expected["content"] += 1
    kinds = collections.Counter(r["kind"] for r in rows)
    assert len(rows) == len(xml_pages) == 206
    assert kinds[OTHER_NAMESPACE] == expected["other"]
    assert kinds[REDIRECT] == expected["redirect"]
    assert kinds[ARTICLE] + kinds[DISAMBIGUATION] == expected["content"]
    assert kinds[FAILURE] == 0
    titled = {r["title"] for r in rows if r["kind"] == DISAMBIGUATION}
    assert "Austin_(disambiguation)" in titled
    assert "Anarchism" not in titled
    for row in rows:
        for link in row["links"] or ():
            assert row["text"][link["start"]:link["end"]] == link["surface_form"]
