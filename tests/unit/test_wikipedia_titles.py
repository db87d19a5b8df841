from __future__ import annotations

import pytest

from longtail.wikipedia.titles import ENGLISH, canonical_title, parse_link_target


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("anarchism", "Anarchism"),
        ("New York City", "New_York_City"),
        ("New_York  City", "New_York_City"),
        ("  Paris ", "Paris"),
        ("Paris#History", "Paris"),
        (":Paris", "Paris"),
        ("AT&amp;T", "AT&T"),
        ("Caf%C3%A9", "Café"),
        ("Star Trek: Voyager", "Star_Trek:_Voyager"),
        ("iPod", "IPod"),
        ("éclair", "Éclair"),
        ("Paris\u00a0(band)", "Paris_(band)"),
    ],
)
def test_main_namespace_targets_are_normalised_as_mediawiki_does(raw: str, title: str) -> None:
    target = parse_link_target(raw)
    assert target.title == title
    assert target.shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Category:Anarchism", False),
        ("category:Anarchism", False),
        ("File:Flag.svg", False),
        ("Image:Flag.svg", False),
        (":Category:Anarchism", True),
        (":File:Flag.svg", True),
        ("Help:Contents", True),
        ("Wikipedia:Manual of Style", True),
        ("WP:NPOV", True),
        ("User talk:Someone", True),
        ("Template:Infobox", True),
        ("fr:Paris", False),
        (":fr:Paris", True),
        ("zh-yue:香港", False),
        ("wikt:anarchy", True),
        ("s:Author:Plato", True),
        ("#History", True),
        ("", True),
        ("A[b]", True),
        ("{{PAGENAME}}", True),
    ],
)
def test_targets_outside_the_main_namespace_have_no_title(raw: str, shown: bool) -> None:
    target = parse_link_target(raw)
    assert target.title is None
    assert target.shown is shown


def test_dump_namespaces_are_added_to_the_english_ones() -> None:
    assert parse_link_target("Portail:Paris").title == "Portail:Paris"
    french = ENGLISH.with_names(["Portail", "Discussion utilisateur"])
    assert parse_link_target("Portail:Paris", french).title is None
    assert parse_link_target("discussion_utilisateur:X", french).title is None


def test_canonical_title_of_page_titles() -> None:
    assert canonical_title("Abraham Lincoln") == "Abraham_Lincoln"
    assert canonical_title("ß-Klasse") == "ß-Klasse"
    assert canonical_title("Wikipedia:Nupedia") == "Wikipedia:Nupedia"
