"""Readers and writers of Spotlight's wikistats files, on hand-written and real files."""

from __future__ import annotations

import bz2

import pytest

from longtail.linking.statistical.wikistats import (
    ReadStats,
    find_wikistats_file,
    parse_context_vector,
    read_pair_counts,
    read_sf_and_total_counts,
    read_token_counts,
    read_uri_counts,
    write_pair_counts,
    write_sf_and_total_counts,
    write_token_counts,
    write_uri_counts,
)
from tests.conftest import shared_path

DBR = "http://dbpedia.org/resource/"


def test_uri_counts_accept_every_uri_form(tmp_path):
    path = tmp_path / "uriCounts"
    path.write_text("Paris\t10\nhttp://en.wikipedia.org/wiki/New_York_City\t7\n"
                    "http://dbpedia.org/resource/Texas\t3\nhttp://nl.dbpedia.org/resource/Apen\t2\n",
                    encoding="utf-8")
    rows = list(read_uri_counts(path))
    assert rows == [(DBR + "Paris", 10), (DBR + "New_York_City", 7), (DBR + "Texas", 3),
                    ("http://nl.dbpedia.org/resource/Apen", 2)]


def test_malformed_lines_are_counted_with_reasons_and_skipped(tmp_path):
    path = tmp_path / "pairCounts"
    path.write_bytes(b"Paris\tParis\t5\n"
                     b"only two\tfields\n"
                     b"Paris\tParis\tmany\n"
                     b"\n"
                     b"\tParis\t3\n"
                     b"Caf\xe9\tCafe\t2\n"  # Latin-1, not UTF-8
                     b"Nice\tNice\t4\n")
    stats = ReadStats()
    rows = list(read_pair_counts(path, stats))
    assert rows == [("Paris", DBR + "Paris", 5), ("Nice", DBR + "Nice", 4)]
    assert stats.lines == 7
    assert stats.skipped == 5
    assert dict(stats.reasons) == {"wrong_field_count": 1, "bad_count": 1, "empty_line": 1,
                                   "empty_surface_form": 1, "not_utf8": 1}
    assert stats.examples[0][:2] == (2, "wrong_field_count")


def test_sf_and_total_counts_unknown_total_and_lowercase_lines(tmp_path):
    path = tmp_path / "sfAndTotalCounts"
    path.write_text("Paris\t147526\t314350\nLong Name Here\t12\nparis\t-1\t9000\n"
                    "Bad\t-5\t3\n", encoding="utf-8")
    stats = ReadStats()
    rows = list(read_sf_and_total_counts(path, stats))
    assert rows == [("Paris", 147526, 314350), ("Long Name Here", 12, -1), ("paris", -1, 9000)]
    assert dict(stats.reasons) == {"negative_count": 1}


def test_context_vector_parsing_follows_spotlight():
    assert parse_context_vector("{(capit,40),(franc,50)}") == [("capit", 40), ("franc", 50)]
    # the count follows the token's last comma, as Spotlight's parser reads it
    assert parse_context_vector("{(1,000,3)}") == [("1,000", 3)]
    assert parse_context_vector("{}") == []
    assert parse_context_vector("197148") is None
    assert parse_context_vector("{(a,1),(b)}") is None


def test_token_counts_reader_skips_summary_lines(tmp_path):
    path = tmp_path / "tokenCounts"
    path.write_text("http://en.wikipedia.org/wiki/Paris\t{(capit,40),(franc,50)}\n"
                    "Paris  100575\n", encoding="utf-8")
    stats = ReadStats()
    rows = list(read_token_counts(path, stats))
    assert rows == [(DBR + "Paris", [("capit", 40), ("franc", 50)])]
    assert dict(stats.reasons) == {"wrong_field_count": 1}


@pytest.mark.parametrize("suffix", ["", ".bz2", ".gz"])
def test_writers_round_trip_in_spotlight_format(tmp_path, suffix):
    uri = tmp_path / f"uriCounts{suffix}"
    pairs = tmp_path / f"pairCounts{suffix}"
    sfs = tmp_path / f"sfAndTotalCounts{suffix}"
    tokens = tmp_path / f"tokenCounts{suffix}"
    assert write_uri_counts(uri, [(DBR + "São_Paulo", 3), ("Texas", 2)]) == 2
    assert write_pair_counts(pairs, [("São Paulo", DBR + "São_Paulo", 3)]) == 1
    assert write_sf_and_total_counts(sfs, [("São Paulo", 3, 10), ("são paulo", -1, 4)]) == 2
    assert write_token_counts(tokens, [(DBR + "São_Paulo", [("citi", 4), ("brazil", 3)])]) == 1
    assert find_wikistats_file(tmp_path, "uriCounts") == uri
    assert list(read_uri_counts(uri)) == [(DBR + "São_Paulo", 3), (DBR + "Texas", 2)]
    assert list(read_pair_counts(pairs)) == [("São Paulo", DBR + "São_Paulo", 3)]
    assert list(read_sf_and_total_counts(sfs)) == [("São Paulo", 3, 10), ("são paulo", -1, 4)]
    assert list(read_token_counts(tokens)) == [(DBR + "São_Paulo", [("citi", 4), ("brazil", 3)])]


def test_written_lines_are_exactly_spotlights(tmp_path):
    write_uri_counts(tmp_path / "u", [(DBR + "Paris", 5)])
    write_pair_counts(tmp_path / "p.bz2", [("Paris", DBR + "Paris", 5)])
    write_token_counts(tmp_path / "t", [(DBR + "Paris", [("capit", 40)])])
    assert (tmp_path / "u").read_text(encoding="utf-8") == "Paris\t5\n"
    with bz2.open(tmp_path / "p.bz2", "rt") as handle:
        assert handle.read() == "Paris\tParis\t5\n"
    assert (tmp_path / "t").read_text(encoding="utf-8") == \
        "http://en.wikipedia.org/wiki/Paris\t{(capit,40)}\n"


def test_writers_refuse_fields_that_would_break_the_format(tmp_path):
    with pytest.raises(ValueError, match="surface form"):
        write_pair_counts(tmp_path / "p", [("a\tb", "X", 1)])
    with pytest.raises(ValueError, match="context token"):
        write_token_counts(tmp_path / "t", [("X", [("a(b", 1)])])


def test_real_2021_heads_read_completely():
    folder = shared_path("wikistats-2021-top50")
    for name, reader in (("uriCounts", read_uri_counts), ("pairCounts", read_pair_counts),
                         ("sfAndTotalCounts", read_sf_and_total_counts)):
        stats = ReadStats()
        rows = list(reader(folder / name, stats))
        assert len(rows) == 50 and stats.skipped == 0, name
    first = next(read_pair_counts(folder / "pairCounts"))
    assert first == ("United States", DBR + "United_States", 357275)
    stats = ReadStats()
    assert list(read_token_counts(folder / "tokenCounts", stats)) == []
    assert stats.skipped == 50


def test_negative_and_absurd_counts_are_reported_and_skipped(tmp_path):
    (tmp_path / "uriCounts").write_text("Paris\t10\nLyon\t-3\nNice\t99999999999999\n",
                                        encoding="utf-8")
    (tmp_path / "pairCounts").write_text("Paris\tParis\t-5\nParis\tParis\t5\n"
                                         "Lyon\tLyon\t10000000000001\n", encoding="utf-8")
    (tmp_path / "sfAndTotalCounts").write_text("Paris\t5\t-2\nLyon\t-7\t3\nNice\t3\t-1\n"
                                               "Nizza\t-1\t2000000000000\n", encoding="utf-8")
    (tmp_path / "tokenCounts").write_text(
        "Paris\t{(capit,4),(-,-2)}\nLyon\t{(rhone,1234567890123456)}\n"
        "Nice\t{(-,3),(mer,2)}\n", encoding="utf-8")
    readers = {"uriCounts": read_uri_counts, "pairCounts": read_pair_counts,
               "sfAndTotalCounts": read_sf_and_total_counts, "tokenCounts": read_token_counts}
    kept, reasons = {}, {}
    for name, reader in readers.items():
        stats = ReadStats()
        kept[name] = list(reader(tmp_path / name, stats))
        reasons[name] = dict(stats.reasons)
    assert kept == {"uriCounts": [(DBR + "Paris", 10)],
                    "pairCounts": [("Paris", DBR + "Paris", 5)],
                    "sfAndTotalCounts": [("Nice", 3, -1)],
                    "tokenCounts": [(DBR + "Nice", [("-", 3), ("mer", 2)])]}
    assert reasons == {"uriCounts": {"negative_count": 1, "absurd_count": 1},
                       "pairCounts": {"negative_count": 1, "absurd_count": 1},
                       "sfAndTotalCounts": {"negative_count": 2, "absurd_count": 1},
                       "tokenCounts": {"negative_count": 1, "absurd_count": 1}}


def test_names_with_tabs_are_read_from_the_right(tmp_path):
    (tmp_path / "pairCounts").write_text("Tab\tName\tTab_Name\t4\n", encoding="utf-8")
    (tmp_path / "sfAndTotalCounts").write_text("Tab\tName\t4\t9\nTab\tOnly\t4\n",
                                               encoding="utf-8")
    (tmp_path / "uriCounts").write_text("Odd\tTitle\t7\n", encoding="utf-8")
    assert list(read_pair_counts(tmp_path / "pairCounts")) == [
        ("Tab\tName", DBR + "Tab_Name", 4)]
    assert list(read_sf_and_total_counts(tmp_path / "sfAndTotalCounts")) == [
        ("Tab\tName", 4, 9), ("Tab\tOnly", 4, -1)]
    assert [count for _, count in read_uri_counts(tmp_path / "uriCounts")] == [7]
