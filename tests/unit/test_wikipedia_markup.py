from __future__ import annotations

from longtail.wikipedia.markup import parse_wikitext, strip_markup


def links_of(wikitext: str) -> list[tuple[str, str]]:
    parsed = parse_wikitext(wikitext)
    for link in parsed.links:
        assert parsed.text[link.start : link.end] == link.surface_form
    return [(link.target, link.surface_form) for link in parsed.links]


def test_nested_templates_leave_nothing_behind() -> None:
    text = strip_markup(
        "{{Infobox person|name=Ada|birth={{birth date|1815|12|10}}|spouse=[[William King]]}}"
        "Ada was a {{lang|fr|vraie}} mathematician.{{citation needed|date={{CURRENTYEAR}}}}"
    )
    assert text == "Ada was a vraie mathematician."


def test_tables_nested_tables_and_their_links_are_dropped() -> None:
    wikitext = (
        "Before.\n"
        '{| class="wikitable"\n|-\n! Year !! Title\n|-\n| 1999 || [[The Matrix]]\n'
        "|-\n|\n{|\n| inner [[Neo]]\n|}\n|}\n"
        "After [[Keanu Reeves]]."
    )
    parsed = parse_wikitext(wikitext)
    assert parsed.text == "Before.\n\nAfter Keanu Reeves."
    assert [link.target for link in parsed.links] == ["Keanu_Reeves"]


def test_references_in_every_form_are_dropped() -> None:
    text = strip_markup(
        'Paris is big.<ref name="size">{{cite web|url=http://x.org|title=[[Paris]]}}</ref> '
        "It is old.<ref name=age/> It is in France.<ref>Plain [[France]] note</ref>"
        "<REF group=n>upper case</REF>"
    )
    assert text == "Paris is big. It is old. It is in France."


def test_comments_headings_and_quotes_do_not_leak() -> None:
    wikitext = (
        "'''Anarchism''' is a ''political'' philosophy.<!-- a [[hidden]] note -->\n"
        "== History ==\n"
        "=== Early ''times'' ===\n"
        "'''''Very''''' old. __NOTOC__\n"
        "<!-- an unclosed comment runs to the end [[Lost]]"
    )
    parsed = parse_wikitext(wikitext)
    assert parsed.text == "Anarchism is a political philosophy.\n\nVery old."
    assert parsed.links == []


def test_file_category_and_interlanguage_links_leave_nothing() -> None:
    parsed = parse_wikitext(
        "A cat.[[File:Cat.jpg|thumb|A [[Felis catus|cat]] sitting]] "
        "[[Image:Dog.png|left]]More.[[Category:Felines]][[category:Pets|Cats]][[fr:Chat]]"
    )
    assert parsed.text == "A cat. More."
    assert parsed.links == []


def test_visible_links_outside_the_main_namespace_keep_their_text_only() -> None:
    parsed = parse_wikitext(
        "See [[wikt:anarchy|anarchy]], [[:Category:Felines]], [[Help:Contents|help]] "
        "and [[:fr:Paris|Paris in French]]."
    )
    assert parsed.text == "See anarchy, Category:Felines, help and Paris in French."
    assert parsed.links == []


def test_pipes_sections_and_plain_links() -> None:
    assert links_of(
        "[[Political philosophy|political]] and [[anarchism]] and "
        "[[New York City#History|the city's past]] and [[#Etymology|see below]]"
    ) == [
        ("Political_philosophy", "political"),
        ("Anarchism", "anarchism"),
        ("New_York_City", "the city's past"),
    ]


def test_link_trails_join_the_surface_form() -> None:
    assert links_of("Two [[bus]]es and a [[train]]'s wheels; [[car]]s, [[Paris]]ian.") == [
        ("Bus", "buses"),
        ("Train", "train"),
        ("Car", "cars"),
        ("Paris", "Parisian"),
    ]


def test_anchor_markup_is_stripped_from_the_surface_form() -> None:
    assert links_of("The [[Apollo 11|''Apollo 11'' mission]] landed.") == [
        ("Apollo_11", "Apollo 11 mission")
    ]
    assert links_of("[[The Beatles|  The\n Beatles ]] played.") == [("The_Beatles", "The Beatles")]


def test_pipe_trick_shows_the_title_without_its_qualifier() -> None:
    assert links_of("[[Paris (band)|]] and [[Paris, Texas|]]") == [
        ("Paris_(band)", "Paris"),
        ("Paris,_Texas", "Paris"),
    ]


def test_link_positions_follow_collapsed_whitespace() -> None:
    parsed = parse_wikitext(
        "{{Infobox}}\n\n\n'''Ada'''   was   born in [[London]].\n\n\n\n[[Paris]]"
    )
    assert parsed.text == "Ada was born in London.\n\nParis"
    assert [(link.start, link.end) for link in parsed.links] == [(16, 22), (25, 30)]


def test_entities_and_external_links() -> None:
    assert strip_markup("AT&amp;T&nbsp;Inc. [http://example.org its site] http://bare.org") == (
        "AT&T Inc. its site"
    )


def test_text_templates_keep_their_links() -> None:
    assert links_of("Born in {{nowrap|[[Lyon]], France}}.") == [("Lyon", "Lyon")]


def test_templates_are_reported_for_disambiguation_detection() -> None:
    parsed = parse_wikitext(
        "'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{Disambiguation|geo}}"
    )
    assert "disambiguation" in parsed.templates
    assert [link.target for link in parsed.links] == ["Mercury_(planet)"]
