from __future__ import annotations

import bz2
import gzip
import re
from pathlib import Path

import pytest

from longtail.wikipedia.dump import (
    DumpError,
    DumpSplit,
    plan_splits,
    read_namespaces,
    read_pages,
)
from longtail.wikipedia.titles import parse_link_target
from tests.conftest import shared_path

HEAD = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">\n'
    "  <siteinfo>\n    <namespaces>\n"
    '      <namespace key="0" case="first-letter" />\n'
    '      <namespace key="100" case="first-letter">Portail</namespace>\n'
    "    </namespaces>\n  </siteinfo>\n"
)


def page(title: str, ns: int, page_id: int, text: str, redirect: str | None = None) -> str:
    redirect_tag = f'    <redirect title="{redirect}" />\n' if redirect else ""
    return (
        f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n"
        f"{redirect_tag}    <revision>\n      <id>{page_id * 10}</id>\n"
        f'      <text xml:space="preserve">{text}</text>\n    </revision>\n  </page>\n'
    )


DUMP = (
    HEAD
    + page("Paris", 0, 1, "'''Paris''' is in [[France]] &amp; &lt;b&gt;")
    + page("Lutetia", 0, 2, "#REDIRECT [[Paris]]", redirect="Paris")
    + page("Portail:Paris", 100, 3, "portal")
    + page("Lyon", 0, 4, "")
    + "</mediawiki>\n"
)


@pytest.mark.parametrize("suffix", [".xml", ".xml.bz2", ".xml.gz"])
def test_pages_are_read_from_plain_and_compressed_dumps(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"dump{suffix}"
    opener = {".xml": open, ".xml.bz2": bz2.open, ".xml.gz": gzip.open}[suffix]
    with opener(path, "wb") as handle:
        handle.write(DUMP.encode())
    pages = list(read_pages(path))
    assert [(p.title, p.ns, p.page_id, p.redirect) for p in pages] == [
        ("Paris", 0, 1, None),
        ("Lutetia", 0, 2, "Paris"),
        ("Portail:Paris", 100, 3, None),
        ("Lyon", 0, 4, None),
    ]
    assert pages[0].text == "'''Paris''' is in [[France]] & <b>"
    assert pages[3].text == ""


def test_the_latest_revision_gives_the_text(tmp_path: Path) -> None:
    history = (
        HEAD + "  <page>\n    <title>Nice</title>\n    <ns>0</ns>\n    <id>7</id>\n"
        "    <revision><id>1</id><text>old</text></revision>\n"
        "    <revision><id>2</id><text>new</text></revision>\n  </page>\n</mediawiki>"
    )
    path = tmp_path / "history.xml"
    path.write_text(history)
    assert [p.text for p in read_pages(path)] == ["new"]


def test_namespaces_come_from_the_siteinfo(tmp_path: Path) -> None:
    path = tmp_path / "dump.xml"
    path.write_text(DUMP)
    namespaces = read_namespaces(path)
    assert "portail" in namespaces.names
    assert parse_link_target("Portail:Paris", namespaces).title is None


def test_a_truncated_dump_yields_its_pages_then_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "truncated.xml"
    path.write_text(DUMP[: DUMP.index("<title>Portail")])
    pages = []
    with pytest.raises(DumpError) as caught:
        for p in read_pages(path):
            pages.append(p.title)
    assert pages == ["Paris", "Lutetia"]
    assert caught.value.path == str(path)
    assert "malformed XML" in caught.value.detail


def test_a_missing_dump_is_a_dump_error(tmp_path: Path) -> None:
    with pytest.raises(DumpError, match="cannot open"):
        list(read_pages(tmp_path / "absent.xml"))


@pytest.mark.parametrize("split_bytes", [1, 50, 333, 100_000])
def test_byte_range_splits_read_every_page_once(tmp_path: Path, split_bytes: int) -> None:
    path = tmp_path / "dump.xml"
    path.write_text(DUMP)
    splits = plan_splits([str(path)], split_bytes)
    titles = [p.title for split in splits for p in read_pages(split)]
    assert titles == ["Paris", "Lutetia", "Portail:Paris", "Lyon"]


def test_byte_range_splits_of_a_real_dump_match_a_whole_read(tmp_path: Path) -> None:
    sample = shared_path("wikipedia", "enwiki-sample-206pages.xml.bz2")
    plain = tmp_path / "sample.xml"
    plain.write_bytes(bz2.decompress(sample.read_bytes()))
    whole = [(p.title, p.page_id, p.text) for p in read_pages(sample)]
    raw = plain.read_text(encoding="utf-8")
    assert len(whole) == raw.count("<page>") == 206
    assert [t for t, _, _ in whole] == re.findall(r"<title>([^<]*)</title>", raw)
    splits = plan_splits([str(plain)], 200_000)
    assert len(splits) > 5
    pieces = [(p.title, p.page_id, p.text) for split in splits for p in read_pages(split)]
    assert pieces == whole


def test_compressed_dumps_are_one_split_each(tmp_path: Path) -> None:
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(DUMP.encode()))
    assert plan_splits([str(path)], 10) == [DumpSplit(str(path))]
    with pytest.raises(DumpError, match="plain XML"):
        list(read_pages(DumpSplit(str(path), 0, 10)))


@pytest.mark.parametrize("split_bytes", [1, 37, 333])
def test_tags_straddling_read_chunks_are_found(tmp_path: Path, monkeypatch, split_bytes) -> None:
    from longtail.wikipedia import dump

    monkeypatch.setattr(dump, "_CHUNK", 7)
    path = tmp_path / "dump.xml"
    path.write_text(DUMP)
    splits = plan_splits([str(path)], split_bytes)
    titles = [p.title for split in splits for p in read_pages(split)]
    assert titles == ["Paris", "Lutetia", "Portail:Paris", "Lyon"]
