"""The model build on real Wikipedia dumps, checked against counts made here from the raw XML
with regular expressions, independently of `longtail.wikipedia`."""

from __future__ import annotations

import bz2
import html
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from longtail.errors import UsageError
from longtail.jobs.build_model import REPORT_FILE, WIKISTATS_DIR, BuildOptions, build_model, main
from longtail.linking.statistical import StatisticalLinker
from longtail.linking.statistical.wikistats import (
    read_pair_counts,
    read_sf_and_total_counts,
    read_token_counts,
    read_uri_counts,
)
from tests.conftest import shared_path

pytestmark = pytest.mark.spark

DUMPS = ("enwiki-pages-articles-latest.xml", "enwiki-pages-redirects.xml",
         "enwiki-pages-anarchism.xml")
RESOURCE = "http://dbpedia.org/resource/"

# -- independent reading of the raw XML ------------------------------------------------------

PAGE = re.compile(r"<page>(.*?)</page>", re.S)
LINK = re.compile(r"\[\[([^\[\]|{}<>]*)(?:\|([^\[\]]*))?\]\]([a-z]*)")
NAMESPACED = re.compile(
    r"^\s*:?\s*(file|image|category|wikipedia|wp|help|template|user|user talk|special|wikt|"
    r"wiktionary|s|commons|portal|talk|media|[a-z]{2,3}(-[a-z]+)?)\s*:", re.I)
DISAMBIGUATION = re.compile(r"\{\{\s*(disambig|disambiguation|dab|geodis|hndis)\s*[|}]", re.I)


def raw_pages(xml: str) -> list[dict]:
    pages = []
    for body in PAGE.findall(xml):
        redirect = re.search(r'<redirect title="([^"]*)"', body)
        text = re.search(r"<text[^>]*>(.*?)</text>", body, re.S)
        pages.append({
            "title": html.unescape(re.search(r"<title>(.*?)</title>", body).group(1)),
            "ns": int(re.search(r"<ns>(-?\d+)</ns>", body).group(1)),
            "redirect": html.unescape(redirect.group(1)) if redirect else None,
            "text": html.unescape(text.group(1)) if text else "",
        })
    return pages


def title(text: str) -> str:
    text = " ".join(text.split("#")[0].replace("_", " ").split())
    first = text[:1].upper()
    if len(first) > 1:  # MediaWiki keeps "ß" (whose upper case is "SS") as it is
        first = text[:1]
    return (first + text[1:]).replace(" ", "_")


def prose_lines(text: str) -> list[str]:
    """Lines of plain running text whose every [[link]] is unambiguous."""
    return [line for line in text.split("\n")
            if line[:1].isalnum() and not re.search(r"[{}<>&]|\[http|\[\[[^\]]*\[\[|__", line)
            and not re.search(r"\[\[\s*(file|image|category)\s*:", line, re.I)]


def raw_links(line: str) -> list[tuple[str, str]]:
    """(target title, surface form) of the main-namespace links of one prose line."""
    links = []
    for target, anchor, trail in LINK.findall(line):
        if NAMESPACED.match(target) or not target.split("#")[0].strip():
            continue
        shown = anchor if anchor else target
        links.append((title(target), " ".join(shown.replace("'''", "").replace("''", "")
                                              .split()) + trail))
    return links


def final(target: str, redirects: dict[str, str]) -> str | None:
    seen = set()
    while target in redirects:
        if target in seen:
            return None
        seen.add(target)
        target = redirects[target]
    return target


def counts_of(model: Path) -> dict:
    stats = model / WIKISTATS_DIR
    return {
        "uri": {r.uri[len(RESOURCE):]: r.count for r in read_uri_counts(stats / "uriCounts")},
        "pair": {(r.surface_form, r.uri[len(RESOURCE):]): r.count
                 for r in read_pair_counts(stats / "pairCounts")},
        "sf": {r.surface_form: (r.linked, r.total)
               for r in read_sf_and_total_counts(stats / "sfAndTotalCounts")},
        "tokens": {r.uri[len(RESOURCE):]: dict(r.tokens)
                   for r in read_token_counts(stats / "tokenCounts")},
    }


# -- builds --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prose_dumps(tmp_path_factory) -> dict:
    """The real dumps cut down to their plain prose lines (and disambiguation markers),
    with every redirect page kept as it is."""
    sources = [shared_path("wikipedia", "enwiki-sample-206pages.xml.bz2")]
    sources += [shared_path("wikipedia", name) for name in DUMPS]
    folder = tmp_path_factory.mktemp("prose")
    written, pages = [], []
    for source in sources:
        data = source.read_bytes()
        xml = (bz2.decompress(data) if source.suffix == ".bz2" else data).decode("utf-8")
        parts = ['<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">\n']
        for page in raw_pages(xml):
            if page["ns"] == 0 and page["redirect"] is None:
                lines = prose_lines(page["text"])
                if DISAMBIGUATION.search(page["text"]):
                    lines.append("{{disambiguation}}")
                page["text"] = "\n\n".join(lines)
            pages.append(page)
            redirect = f'<redirect title="{html.escape(page["redirect"])}"/>' \
                if page["redirect"] else ""
            parts.append(f"<page><title>{html.escape(page['title'])}</title>"
                         f"<ns>{page['ns']}</ns><id>{len(pages)}</id>{redirect}<revision>"
                         f"<text>{html.escape(page['text'])}</text></revision></page>\n")
        parts.append("</mediawiki>\n")
        path = folder / f"{source.name.split('.')[0]}-prose.xml"
        path.write_text("".join(parts), encoding="utf-8")
        written.append(str(path))
    return {"paths": written, "pages": pages}


@pytest.fixture(scope="module")
def prose_model(spark, prose_dumps, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models") / "prose"
    report = build_model(spark, prose_dumps["paths"], out, BuildOptions(split_bytes=1 << 20))
    return out, report


# -- exact counts ------------------------------------------------------------------------------


def expected_counts(pages: list[dict]) -> dict:
    """uriCounts and pairCounts by Spotlight's English rules: surface forms of at least two
    characters; pairs of surface forms linked at least twice."""
    redirects = {title(p["title"]): title(p["redirect"])
                 for p in pages if p["ns"] == 0 and p["redirect"]}
    disambiguation = {title(p["title"]) for p in pages if p["ns"] == 0 and not p["redirect"]
                      and ("{{disambiguation}}" in p["text"]
                           or p["title"].endswith("(disambiguation)"))}
    uris, pairs = Counter(), Counter()
    for page in pages:
        if page["ns"] != 0 or page["redirect"] or title(page["title"]) in disambiguation:
            continue
        for line in page["text"].split("\n"):
            for target, surface_form in raw_links(line):
                uri = final(target, redirects)
                if uri is None or uri in disambiguation or len(surface_form) < 2:
                    continue
                uris[uri] += 1
                pairs[(surface_form, uri)] += 1
    linked = Counter()
    for (surface_form, _), count in pairs.items():
        linked[surface_form] += count
    pairs = Counter({pair: n for pair, n in pairs.items() if linked[pair[0]] >= 2})
    return {"uri": uris, "pair": pairs, "redirects": redirects}


def test_uri_counts_match_links_counted_in_the_raw_xml(prose_dumps, prose_model) -> None:
    model, _ = prose_model
    expected = expected_counts(prose_dumps["pages"])
    got = counts_of(model)
    assert sum(expected["uri"].values()) > 3_000
    assert got["uri"] == dict(expected["uri"])


def test_pair_counts_match_anchors_counted_in_the_raw_xml(prose_dumps, prose_model) -> None:
    model, _ = prose_model
    expected = expected_counts(prose_dumps["pages"])
    got = counts_of(model)
    assert got["pair"] == dict(expected["pair"])
    with_trail = sum(len(re.findall(r"\]\][a-z]", page["text"])) for page in prose_dumps["pages"])
    assert with_trail > 0, "the sample has no link trail to check"


def test_linked_and_total_surface_form_counts(prose_dumps, prose_model) -> None:
    model, _ = prose_model
    got = counts_of(model)
    linked = Counter()
    for (surface_form, _), count in got["pair"].items():
        linked[surface_form] += count
    text = "\n".join(
        LINK.sub(lambda m: (m.group(2) or m.group(1)) + m.group(3), line).replace("''", "")
        for page in prose_dumps["pages"] if page["ns"] == 0 and not page["redirect"]
        and "{{disambiguation}}" not in page["text"]
        for line in page["text"].split("\n"))
    for surface_form, count in linked.most_common(25):
        assert got["sf"][surface_form][0] == count
        # At token boundaries: not inside a word, nor joined to one by . ' or ’ (but 's is
        # the possessive, which the tokenizer splits off).
        pattern = rf"(?<!\w)(?<!\w[.'’]){re.escape(surface_form)}(?!\w)(?![.'’](?!s\b)\w)"
        occurrences = len(re.findall(pattern, text))
        assert got["sf"][surface_form][1] == max(occurrences, count), surface_form


def test_redirects_are_counted_and_resolved(prose_dumps, prose_model) -> None:
    model, report = prose_model
    redirects = expected_counts(prose_dumps["pages"])["redirects"]
    assert report["redirects"]["total"] == len(redirects)
    assert report["redirects"]["in_or_into_cycles"] == 0
    # The redirects dump chains AccessibleComputing -> Accessible_Compute -> Computer accessibility.
    assert redirects["Accessible_Compute"] == "Computer_accessibility"
    via = sum(1 for page in prose_dumps["pages"] if page["ns"] == 0 and not page["redirect"]
              for line in page["text"].split("\n")
              for target, _ in raw_links(line) if target in redirects)
    assert report["links"]["via_redirect"] == via


def test_the_report_counts_pages_as_the_xml_has_them(prose_dumps, prose_model) -> None:
    model, report = prose_model
    pages = prose_dumps["pages"]
    assert report["pages"] == len(pages)
    assert report["other_namespace_pages"] == sum(1 for p in pages if p["ns"] != 0)
    assert report["articles"] + report["disambiguation_pages"] == sum(
        1 for p in pages if p["ns"] == 0 and not p["redirect"])
    assert report["entities"] == len(counts_of(model)["uri"])
    saved = json.loads((model / REPORT_FILE).read_text())
    assert saved["pages"] == report["pages"]
    assert set(saved["seconds"]) >= {"extract", "redirects", "links", "token_counts", "import"}


def test_minimum_counts_and_the_linker_loads_the_model(prose_model) -> None:
    model, report = prose_model
    got = counts_of(model)
    assert min(linked for linked, _ in got["sf"].values() if linked != -1) >= 2
    assert any(linked == -1 for linked, _ in got["sf"].values())  # lowercase lines
    assert min(c for tokens in got["tokens"].values() for c in tokens.values()) >= 3
    assert set(got["tokens"]) <= set(got["uri"])
    assert report["import"]["surface_forms"] == report["surface_forms"]["kept"]
    assert report["failures"]["count"] == 0
    linker = StatisticalLinker.load(model, confidence=0.0, support=0)
    best = max(got["pair"], key=got["pair"].get)
    found = {(a.surface_form, a.uri) for a in linker.annotate(f"It was about {best[0]} then.")}
    assert (best[0], RESOURCE + best[1]) in found


def test_disambiguation_pages_are_no_entities(prose_model) -> None:
    model, report = prose_model
    got = counts_of(model)
    assert report["disambiguation_pages"] >= 5
    for name in ("Austin_(disambiguation)", "Aberdeen_(disambiguation)"):
        assert name not in got["uri"]
        assert name not in got["tokens"]


# -- a hand-written dump: chains, cycles, namespaces, the command line -----------------------


def write_dump(path: Path, pages: list[tuple[str, str | None, str]]) -> str:
    parts = ["<mediawiki>"]
    for i, (name, redirect, text) in enumerate(pages):
        tag = f'<redirect title="{redirect}"/>' if redirect else ""
        parts.append(f"<page><title>{name}</title><ns>0</ns><id>{i + 1}</id>{tag}"
                     f"<revision><text>{html.escape(text)}</text></revision></page>")
    path.write_text("".join(parts) + "</mediawiki>")
    return str(path)


def test_chains_cycles_and_the_command_line(tmp_path) -> None:
    dump = write_dump(tmp_path / "small.xml", [
        ("Rome", None, "[[A|Eternal City]] and [[Eternal City]] and [[X|loop]] and [[Y|loop]]. "
                       "[[Rome (disambiguation)|Rome]] [[Help:Rome|help]] [[fr:Rome]]"),
        ("Milan", None, "Milan is near [[D|Eternal City]]. [[Eternal City]]s."),
        ("A", "B", ""), ("B", "C", ""), ("C", "D", ""), ("Eternal City", "A", ""),
        ("X", "Y", ""), ("Y", "X", ""),
        ("Rome (disambiguation)", None, "* [[Rome]]\n* [[Rome, Georgia]]"),
        ("D", None, "The city of D."),
    ])
    out = tmp_path / "model"
    code = main(["--wikipedia", dump, "--out", str(out), "--min-sf-count", "1",
                 "--min-token-count", "1"])
    assert code == 0
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["redirects"]["total"] == 6
    assert report["redirects"]["in_or_into_cycles"] == 2
    assert report["redirects"]["cycles"] == [["X", "Y"]]
    assert report["links"]["to_dead_redirects"] == 2
    assert report["links"]["to_disambiguation_pages"] == 1
    got = counts_of(out)
    assert got["uri"] == {"D": 4}
    assert got["pair"] == {("Eternal City", "D"): 3, ("Eternal Citys", "D"): 1}
    assert "X" not in got["tokens"] and "D" in got["tokens"]
    assert main(["--wikipedia", dump, "--out", str(out)]) == 2  # not empty, no --overwrite


def test_wrong_usage_is_a_usage_error(spark, tmp_path) -> None:
    with pytest.raises(UsageError, match="not found"):
        build_model(spark, [str(tmp_path / "absent.xml.bz2")], tmp_path / "m")
    with pytest.raises(UsageError, match="no Wikipedia dump"):
        build_model(spark, [], tmp_path / "m")
    dump = write_dump(tmp_path / "one.xml", [("Rome", None, "[[Italy]]")])
    with pytest.raises(UsageError, match="min token count must be at least 1"):
        build_model(spark, [dump], tmp_path / "m", {"min_token_count": 0})
    with pytest.raises(UsageError, match="unknown build options: colour"):
        build_model(spark, [dump], tmp_path / "m", {"colour": "blue"})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        build_model(spark, [dump], tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


def test_building_the_sample_gives_the_wikistats_the_demo_imports(sample_model) -> None:
    """`longtail demo` imports the sample's wikistats instead of building them (seconds, not a
    Spark build): they must be exactly what `model build` writes for the sample wiki."""
    from longtail.sample import SAMPLE_WIKISTATS

    for name in ("uriCounts", "pairCounts", "sfAndTotalCounts", "tokenCounts"):
        built = (Path(sample_model) / "wikistats" / name).read_text(encoding="utf-8")
        packaged = bz2.decompress((SAMPLE_WIKISTATS / f"{name}.bz2").read_bytes()).decode()
        assert sorted(built.splitlines()) == sorted(packaged.splitlines()), name
