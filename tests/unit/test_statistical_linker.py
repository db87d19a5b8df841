"""The embedded statistical linker on small wikistats written here, each test showing one rule.

Expected numbers are worked out by hand from Spotlight's formulas (see the module docstrings of
`spotting` and `disambiguation`): spot score = annotation probability + 0.1 (+0.2 for short
all-caps forms), candidate score = ln P(e|s) + ln P(c|e) + ln P(e), NIL = ln(1 / total linked).
"""

from __future__ import annotations

import bz2
import math
import warnings
from pathlib import Path

import pytest

from longtail.errors import UsageError
from longtail.linking.annotation import Linker
from longtail.linking.statistical import (
    StatisticalLinker,
    StatisticalModel,
    import_wikistats,
    stable_hash,
)
from tests.conftest import shared_path

DBR = "http://dbpedia.org/resource/"
STOP = {"the", "of", "is", "a", "and", "in", "to", "with", "at", "her", "i"}


def build(tmp_path: Path, sf: list[tuple], pairs: list[tuple], uris: list[tuple],
          tokens: list[tuple] | None = None, types: str | None = None, name: str = "model",
          **settings) -> StatisticalLinker:
    src = tmp_path / f"{name}-wikistats"
    src.mkdir()

    def write(file: str, rows: list[tuple]) -> None:
        (src / file).write_text("".join("\t".join(map(str, r)) + "\n" for r in rows),
                                encoding="utf-8")

    write("sfAndTotalCounts", sf)
    write("pairCounts", pairs)
    write("uriCounts", uris)
    if tokens is not None:
        write("tokenCounts", [(uri, "{" + ",".join(f"({t},{c})" for t, c in vector) + "}")
                              for uri, vector in tokens])
    type_file = None
    if types is not None:
        type_file = tmp_path / f"{name}-types.tsv"
        type_file.write_text(types, encoding="utf-8")
    import_wikistats(src, tmp_path / name, instance_types=type_file, stop_words=STOP)
    return StatisticalLinker.load(tmp_path / name, **settings)


def linked(linker: StatisticalLinker, text: str, **kw) -> list[tuple[str, str, int]]:
    return [(a.uri[len(DBR):], a.surface_form, a.offset) for a in linker.annotate(text, **kw)]


def test_support_must_be_strictly_greater(tmp_path):
    linker = build(tmp_path, sf=[("Alpha", 10, 10), ("Beta", 10, 10)],
                   pairs=[("Alpha", "Alpha", 10), ("Beta", "Beta", 10)],
                   uris=[("Alpha", 50), ("Beta", 51)], support=50)
    assert isinstance(linker, Linker)
    assert linked(linker, "Alpha and Beta") == [("Beta", "Beta", 10)]
    assert linked(linker, "Alpha and Beta", support=49) == [("Alpha", "Alpha", 0),
                                                           ("Beta", "Beta", 10)]


def test_spot_score_filter_is_annotation_probability_plus_bias(tmp_path):
    # Gamma: 39/100 + 0.1 = 0.49 < 0.5; Delta: 41/100 + 0.1 = 0.51 >= 0.5
    linker = build(tmp_path, sf=[("Gamma", 39, 100), ("Delta", 41, 100)],
                   pairs=[("Gamma", "Gamma", 39), ("Delta", "Delta", 41)],
                   uris=[("Gamma", 100), ("Delta", 100)])
    assert [(s.surface_form, round(s.score, 6)) for s in linker.spots("Gamma or Delta")] == \
        [("Delta", 0.51)]
    assert linked(linker, "Gamma or Delta") == [("Delta", "Delta", 9)]
    assert linked(linker, "Gamma or Delta", confidence=0.45) == [("Gamma", "Gamma", 0),
                                                                ("Delta", "Delta", 9)]


def mercury(tmp_path: Path) -> StatisticalLinker:
    # P(e|s): 0.6 / 0.4, P(e): 600/1000, 400/1000, NIL: 1/100 (one linked form, 100 links)
    return build(tmp_path, sf=[("Mercury", 100, 150)],
                 pairs=[("Mercury", "Mercury_(planet)", 60), ("Mercury", "Mercury_(element)", 40)],
                 uris=[("Mercury_(planet)", 600), ("Mercury_(element)", 400)])


def test_similarity_filter(tmp_path):
    linker = mercury(tmp_path)
    # similarity = 0.36 / (0.36 + 0.16 + 0.01); second rank = 0.16 / 0.36; spot 100/150 + 0.1
    annotation, = linker.annotate("Mercury", confidence=0.65)
    assert annotation.uri == DBR + "Mercury_(planet)"
    assert annotation.similarity == pytest.approx(0.36 / 0.53)
    assert annotation.second_rank == pytest.approx(0.16 / 0.36)
    # at 0.7 the spot (0.767) and the second rank (0.444 <= 0.51) pass, the similarity does not
    assert linker.annotate("Mercury", confidence=0.7) == []


def test_percentage_of_second_rank_filter(tmp_path):
    # scores 0.5*0.5 and 0.4*0.5, NIL 0.01: similarity 0.25/0.46 = 0.54, second rank 0.8
    linker = build(tmp_path, sf=[("Sigma", 100, 100)],
                   pairs=[("Sigma", "Sigma_(letter)", 50), ("Sigma", "Sigma_(band)", 40)],
                   uris=[("Sigma_(letter)", 500), ("Sigma_(band)", 500)])
    # at 0.5: similarity 0.54 >= 0.5 but second rank 0.8 > 1 - 0.25
    assert linker.annotate("Sigma", confidence=0.5) == []
    annotation, = linker.annotate("Sigma", confidence=0.4)  # 0.8 <= 1 - 0.16
    assert annotation.similarity == pytest.approx(0.25 / 0.46)
    assert annotation.second_rank == pytest.approx(0.8)


def test_candidate_ties_are_ordered_by_uri(tmp_path):
    uris = [(f"Tie_{i:02d}", 10_000) for i in range(1, 13)]  # every candidate beats NIL
    pairs = [("Tie", "Tie_01", 20)] + [("Tie", f"Tie_{i:02d}", 10) for i in range(12, 1, -1)]
    pairs += [("Springfield", "Springfield,_Massachusetts", 50),
              ("Springfield", "Springfield,_Illinois", 50)]
    uris += [("Springfield,_Massachusetts", 10_000), ("Springfield,_Illinois", 10_000)]
    linker = build(tmp_path, sf=[("Tie", 130, 130), ("Springfield", 100, 100)], pairs=pairs,
                   uris=uris)
    spot, = linker.candidates("Springfield", confidence=0.0)
    assert [c.uri[len(DBR):] for c in spot.candidates] == ["Springfield,_Illinois",
                                                          "Springfield,_Massachusetts"]
    assert spot.candidates[0].similarity == spot.candidates[1].similarity
    assert spot.candidates[0].second_rank == 1.0
    assert linked(linker, "Springfield", confidence=0.0) == [
        ("Springfield,_Illinois", "Springfield", 0)]
    # ten candidates by prior: Tie_01, then the tied ones in URI order up to Tie_10
    spot, = linker.candidates("Tie", confidence=0.0)
    assert [c.uri[len(DBR):] for c in spot.candidates] == [f"Tie_{i:02d}" for i in range(1, 11)]


def overlap_model(tmp_path: Path, times_linked: int) -> StatisticalLinker:
    return build(tmp_path, name=f"overlap{times_linked}",
                 sf=[("New York", 900, 1000), ("New York Times", times_linked, 100),
                     ("York", 500, 2000)],
                 pairs=[("New York", "New_York", 900), ("New York Times", "The_New_York_Times",
                                                         times_linked), ("York", "York", 500)],
                 uris=[("New_York", 100), ("The_New_York_Times", 100), ("York", 100)],
                 confidence=0.3)


def test_overlapping_spots_longer_wins_unless_its_score_is_under_half(tmp_path):
    text = "I read the New York Times in York."
    # text counts are corrected first: New York 1000 - 1.25 * 30 = 962, so its score is
    # 900/962 + 0.1 = 1.04; New York Times 0.3 + 0.1 = 0.4 <= 1.04 / 2: the shorter spot stays;
    # York (500 / (2000 - 37 - 1125) + 0.1 = 0.70) inside it is dropped as not twice as good
    assert linked(overlap_model(tmp_path, 30), text) == [("New_York", "New York", 11),
                                                         ("York", "York", 29)]
    # New York Times 0.7 > (900/925 + 0.1) / 2: the longer one wins, and York inside it goes
    assert linked(overlap_model(tmp_path, 60), text) == [
        ("The_New_York_Times", "New York Times", 11), ("York", "York", 29)]
    scores = {s.surface_form: round(s.score, 4)
              for s in overlap_model(tmp_path, 0).spots(text) if s.start == 29}
    assert scores == {"York": round(500 / (2000 - 1125) + 0.1, 4)}


def test_case_variants_go_through_the_lowercase_map_and_punctuation_is_a_boundary(tmp_path):
    linker = build(tmp_path, sf=[("Paris", 1000, 2000), ("paris", -1, 3000)],
                   pairs=[("Paris", "Paris", 1000)], uris=[("Paris", 1000)])
    text = "PARIS, (Paris) and paris. Parisian"
    # PARIS / paris: 0.85 (case only) x 0.5 x 2*2000/(3000+2000) + 0.1 = 0.44
    spots = linker.spots(text, confidence=0.4)
    assert [(s.surface_form, s.start, round(s.score, 6)) for s in spots] == [
        ("PARIS", 0, 0.44), ("Paris", 8, 0.6), ("paris", 19, 0.44)]
    assert linked(linker, text, confidence=0.4) == [("Paris", "PARIS", 0), ("Paris", "Paris", 8),
                                                    ("Paris", "paris", 19)]
    assert linked(linker, text, confidence=0.5) == [("Paris", "Paris", 8)]


def test_non_ascii_forms_and_code_point_offsets_after_emoji(tmp_path):
    linker = build(tmp_path, sf=[("São Paulo", 50, 60), ("Zürich", 50, 60)],
                   pairs=[("São Paulo", "São_Paulo", 50), ("Zürich", "Zürich", 50)],
                   uris=[("São_Paulo", 90), ("Zürich", 90)])
    text = "🙂🙂 Zürich und São Paulo!"
    assert linked(linker, text) == [("Zürich", "Zürich", 3), ("São_Paulo", "São Paulo", 14)]
    assert text[14:23] == "São Paulo"


def test_nil_wins_over_a_rare_candidate(tmp_path):
    # Foo: ln(1/1000) + ln(1/1000001) = -20.7 < NIL ln(1/1010) = -6.9
    linker = build(tmp_path, sf=[("Foo", 1000, 1000), ("Big", 10, 10)],
                   pairs=[("Foo", "Foo_(rare)", 1), ("Big", "Big", 10)],
                   uris=[("Foo_(rare)", 1), ("Big", 1_000_000)])
    text = "Foo met Big"
    assert [s.surface_form for s in linker.spots(text)] == ["Foo", "Big"]
    assert [s.surface_form for s in linker.candidates(text)] == ["Big"]
    assert linked(linker, text) == [("Big", "Big", 8)]


PARIS_CONTEXTS = dict(
    sf=[("Paris", 100, 200)],
    pairs=[("Paris", "Paris", 60), ("Paris", "Paris_(mythology)", 40)],
    uris=[("Paris", 600), ("Paris_(mythology)", 400), ("Filler", 100)],
    tokens=[("http://en.wikipedia.org/wiki/Paris", [("capit", 40), ("franc", 50), ("citi", 30)]),
            ("http://en.wikipedia.org/wiki/Paris_(mythology)",
             [("helen", 40), ("troy", 50), ("trojan", 30), ("greek", 20)]),
            ("Filler", [(f"w{i}", 1000) for i in range(100)])])
CITY = "Paris is the capital of France."
MYTH = "Paris abducted Helen and took her to Troy, starting the Trojan war with the Greeks."


def test_context_changes_the_winner(tmp_path):
    linker = build(tmp_path, **PARIS_CONTEXTS)
    assert linked(linker, CITY) == [("Paris", "Paris", 0)]
    assert linked(linker, MYTH) == [("Paris_(mythology)", "Paris", 0)]
    city, = linker.candidates(CITY)
    assert city.candidates[0].contextual_score > 0.99
    myth, = linker.candidates(MYTH)
    assert [c.uri[len(DBR):] for c in myth.candidates] == ["Paris_(mythology)", "Paris"]


def test_long_texts_are_scored_in_windows_of_200_tokens(tmp_path):
    linker = build(tmp_path, **PARIS_CONTEXTS)
    text = " ".join([MYTH] + ["Nothing happened."] * 250 + [CITY])
    result = linked(linker, text)
    assert [uri for uri, _, _ in result] == ["Paris_(mythology)", "Paris"]
    assert result[1][2] == text.rindex("Paris")


def test_batched_linking_gives_the_same_annotations_as_one_text_at_a_time(tmp_path):
    linker = build(tmp_path, **PARIS_CONTEXTS)
    long_text = " ".join([MYTH] + ["Nothing happened."] * 250 + [CITY])
    texts = [CITY, "", MYTH, "ends with a dot.", "paris in lowercase, then Paris.",
             "Line one about Paris\nand Troy", long_text, "🙂 Paris"]
    one_by_one = [linker.annotate(t) for t in texts]
    batched = [r.annotations for r in linker.annotate_many(enumerate(texts))]
    assert batched == one_by_one
    assert sum(map(len, batched)) == 7


def test_sub_ngram_text_counts_are_corrected_by_longer_forms(tmp_path):
    # York's text count 200 includes New York: 200 - 1.25 * 100 = 75, so 30/75 + 0.1 = 0.5
    linker = build(tmp_path, sf=[("New York", 100, 200), ("York", 30, 200)],
                   pairs=[("New York", "New_York", 100), ("York", "York", 30)],
                   uris=[("New_York", 100), ("York", 30)])
    assert [(s.surface_form, round(s.score, 6)) for s in linker.spots("I live in York.")] == \
        [("York", 0.5)]


def test_stop_words_inside_a_form_block_dictionary_matches(tmp_path):
    linker = build(tmp_path, sf=[("Bank of America", 100, 100)],
                   pairs=[("Bank of America", "Bank_of_America", 100)],
                   uris=[("Bank_of_America", 100)])
    # as in Spotlight: "of" is a stop word token at run time, so the FSA path is broken and the
    # capitalised runs are "Bank" and "America", which are not forms
    assert linker.annotate("I bank at Bank of America.") == []


def test_types_come_from_the_instance_types_file(tmp_path):
    linker = build(tmp_path, sf=[("Paris", 100, 100)], pairs=[("Paris", "Paris", 100)],
                   uris=[("Paris", 100)],
                   types="Paris\thttp://dbpedia.org/ontology/City,http://schema.org/Place\n"
                         "http://dbpedia.org/resource/Paris\tDBpedia:Place\nNowhere\tX\n")
    annotation, = linker.annotate("Paris")
    assert annotation.types == ("DBpedia:City", "Schema:Place", "DBpedia:Place")


def test_annotate_many_keeps_order_and_reports_bad_input(tmp_path):
    linker = build(tmp_path, sf=[("Alpha", 10, 10)], pairs=[("Alpha", "Alpha", 10)],
                   uris=[("Alpha", 50)])
    results = list(linker.annotate_many([("a", "Alpha"), ("b", None), ("c", ""), ("d", "x")]))
    assert [r.key for r in results] == ["a", "b", "c", "d"]
    assert [len(r.annotations) for r in results] == [1, 0, 0, 0]
    assert results[1].error.reason == "not_text"
    assert [r.ok for r in results] == [True, False, True, True]


def test_import_reports_malformed_lines_and_keeps_the_rest(tmp_path):
    src = tmp_path / "stats"
    src.mkdir()
    (src / "sfAndTotalCounts").write_text("Alpha\t10\t10\nbroken line\nBeta\t1\t5\n",
                                          encoding="utf-8")
    (src / "pairCounts").write_text("Alpha\tAlpha\t10\nAlpha\tGhost\t3\nGamma\tAlpha\t2\n",
                                    encoding="utf-8")
    (src / "uriCounts").write_text("Alpha\t50\nAlpha\tx\n", encoding="utf-8")
    report = import_wikistats(src, tmp_path / "m", stop_words=STOP)
    assert (report["surface_forms"], report["pairs"], report["entities"]) == (1, 1, 1)
    assert report["skipped_lines"] == 2
    assert report["surface_forms_below_min_count"] == 1  # Beta: linked once
    assert report["pairs_dropped_unknown_entity"] == 1
    assert report["pairs_dropped_unknown_surface_form"] == 1
    assert report["context_vectors"] == 0


def test_import_reads_bz2_and_prunes_rare_context_tokens(tmp_path):
    src = tmp_path / "stats"
    src.mkdir()
    files = {"sfAndTotalCounts": "Paris\t10\t20\n", "pairCounts": "Paris\tParis\t10\n",
             "uriCounts": "Paris\t50\nLyon\t5\n",
             "tokenCounts": "http://en.wikipedia.org/wiki/Paris\t{(capit,40),(seine,2),(pari,3)}\n"
                            "Lyon\t{(rhone,7)}\nGhost\t{(boo,9)}\n"}
    for name, text in files.items():
        with bz2.open(src / f"{name}.bz2", "wt", encoding="utf-8") as handle:
            handle.write(text)
    report = import_wikistats(src, tmp_path / "m", stop_words=STOP)
    assert (report["context_vectors"], report["context_vectors_dropped_unknown_entity"]) == (2, 1)
    model = StatisticalModel.load(tmp_path / "m")
    vocabulary = {int(h): int(c) for h, c in zip(model.vocab_hash, model.vocab_count,
                                                 strict=True)}
    # counts >= 3 only; "pari" also once from the surface form's own stem; Ghost still counts
    assert vocabulary == {stable_hash("capit"): 40, stable_hash("pari"): 4,
                          stable_hash("rhone"): 7, stable_hash("boo"): 9}
    # entities are numbered in URI order: Lyon, Paris
    assert [model.entity_uris[i] for i in range(2)] == [DBR + "Lyon", DBR + "Paris"]
    begin, end = (int(x) for x in model.entity_context_offsets[1:3])
    assert sorted(int(c) for c in model.context_count[begin:end]) == [3, 40]
    assert int(model.entity_context_total[1]) == 43


def test_negative_counts_are_skipped_so_the_form_still_links(tmp_path):
    linker = build(tmp_path, sf=[("Alpha", 10, 10)],
                   pairs=[("Alpha", "Alpha", 10), ("Alpha", "Alpha", -30)],
                   uris=[("Alpha", 50), ("Alpha", -80)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a negative prior would warn in numpy's log
        annotation, = linker.annotate("Alpha")
    assert (annotation.uri, annotation.support) == (DBR + "Alpha", 50)


def test_import_reads_escaped_uris_tabs_in_names_and_very_long_lines(tmp_path):
    src = tmp_path / "stats"
    src.mkdir()
    long_vector = ",".join(f"(t{i},3)" for i in range(200_000))  # a 2.6 MB line
    files = {"sfAndTotalCounts": "AT&T\t10\t20\nAT\t&T\t4\t9\n",
             "pairCounts": "AT&T\tAT&T\t10\nAT\t&T\tAT&T\t4\n",
             "uriCounts": "AT&T\t50\n",
             "tokenCounts": f"http://en.wikipedia.org/wiki/AT%26T\t{{{long_vector}}}\n"}
    for name, text in files.items():
        (src / name).write_text(text, encoding="utf-8")
    report = import_wikistats(src, tmp_path / "m", stop_words=STOP)
    assert (report["surface_forms"], report["pairs"], report["skipped_lines"]) == (2, 2, 0)
    model = StatisticalModel.load(tmp_path / "m")
    assert model.entity_uris[0] == DBR + "AT&T"
    assert int(model.entity_context_offsets[1]) == 200_000  # the long vector, whole
    # "AT\t&T" is stored as "AT &T": whitespace in names collapses to one space
    assert linked(StatisticalLinker.load(tmp_path / "m"), "AT &T and AT&T") == [
        ("AT&T", "AT &T", 0), ("AT&T", "AT&T", 10)]


def test_an_empty_model_is_a_usage_error(tmp_path, capsys):
    src = tmp_path / "empty"
    src.mkdir()
    for name in ("sfAndTotalCounts", "pairCounts", "uriCounts"):
        (src / name).write_text("", encoding="utf-8")
    with pytest.raises(UsageError, match="model would be empty: no surface form"):
        import_wikistats(src, tmp_path / "m1")
    (src / "sfAndTotalCounts").write_text("Alpha\t10\t10\n", encoding="utf-8")
    (src / "uriCounts").write_text("Beta\t5\n", encoding="utf-8")
    (src / "pairCounts").write_text("Alpha\tGamma\t10\n", encoding="utf-8")
    with pytest.raises(UsageError, match="no pair of a kept surface form and a known entity"):
        import_wikistats(src, tmp_path / "m2")
    assert not (tmp_path / "m2").exists()
    from longtail.jobs.cli import main

    assert main(["model", "import", "--wikistats", str(src), "--out",
                 str(tmp_path / "m3")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("longtail: error: the model would be empty: no pair")


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="model folder not found"):
        StatisticalLinker.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="not a statistical linker model"):
        StatisticalLinker.load(tmp_path / "empty")
    with pytest.raises(UsageError, match="lacks wikistats files: uriCounts, pairCounts"):
        import_wikistats(tmp_path / "empty", tmp_path / "out")
    linker = build(tmp_path, sf=[("Alpha", 10, 10)], pairs=[("Alpha", "Alpha", 10)],
                   uris=[("Alpha", 50)])
    with pytest.raises(UsageError, match="confidence"):
        StatisticalLinker.load(tmp_path / "model", confidence=1.5)
    with pytest.raises(UsageError, match="support"):
        linker.annotate("Alpha", support=-1)
    with pytest.raises(UsageError, match="not empty"):
        import_wikistats(tmp_path / "model-wikistats", tmp_path / "model")
    (tmp_path / "model" / "pair_count.bin").write_bytes(b"\0" * 3)
    with pytest.raises(UsageError, match="damaged: pair_count.bin"):
        StatisticalLinker.load(tmp_path / "model")


def test_real_2021_heads_import_with_counts_matching_the_rows(tmp_path):
    folder = shared_path("wikistats-2021-top50")
    rows = {name: [line.rstrip("\n").split("\t") for line in
                   (folder / name).read_text(encoding="utf-8").splitlines()]
            for name in ("sfAndTotalCounts", "pairCounts", "uriCounts")}
    forms = {r[0] for r in rows["sfAndTotalCounts"] if int(r[1]) >= 2}
    titles = {r[0] for r in rows["uriCounts"]}
    expected_pairs = sum(1 for r in rows["pairCounts"] if r[0] in forms and r[1] in titles)
    report = import_wikistats(folder, tmp_path / "model")
    assert report["surface_forms"] == len(forms) == 50
    assert report["entities"] == len(titles) == 50
    assert report["pairs"] == expected_pairs
    assert report["context_vectors"] == 0 and report["skipped_tokenCounts"] == 50
    # Paris: 147526/314350 + 0.1 = 0.57 and France: 237235/556255 + 0.1 = 0.53 pass 0.5
    linker = StatisticalLinker.load(tmp_path / "model")
    assert linked(linker, "Paris is the capital of France.") == [("Paris", "Paris", 0),
                                                                 ("France", "France", 24)]
    assert math.isclose(linker.spots("Paris")[0].score, 147526 / 314350 + 0.1)
