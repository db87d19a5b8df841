"""Spotlight's wire formats: real responses parse, renderers write what Spotlight writes."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET

import pytest

from longtail.linking.annotation import Annotation, LinkError
from longtail.linking.spotlight.wire import (
    Candidate,
    CandidateSpot,
    Utf16Offsets,
    java_double,
    parse_annotate,
    parse_annotate_json,
    parse_annotate_xml,
    parse_candidates_json,
    parse_candidates_xml,
    render_annotate_json,
    render_annotate_xml,
    render_candidates_json,
    render_candidates_xml,
)
from tests.conftest import shared_path

ANNOTATE_KEYS = ["@text", "@confidence", "@support", "@types", "@sparql", "@policy"]
RESOURCE_KEYS = ["@URI", "@support", "@types", "@surfaceForm", "@offset", "@similarityScore",
                 "@percentageOfSecondRank"]
NUMBER = re.compile(r'(?:Score|Rank|confidence)"?\s*[:=]\s*"([^"]+)"')

EMOJI_TEXT = "😀 Paris 🇫🇷 and 𝔊𝔬𝔱𝔥𝔦𝔠 type in Zürich, 東京 ok"


def _sample_files(folder: str) -> list:
    return sorted(shared_path("spotlight", folder).iterdir())


def _root_attrs(path) -> dict:
    """The echoed request fields of a sample, from its JSON keys or XML root attributes."""
    if path.suffix == ".json":
        return {k: v for k, v in json.loads(path.read_bytes()).items() if k != "Resources"}
    return {"@" + k: v for k, v in ET.fromstring(path.read_bytes()).attrib.items()}


def _emoji_annotations() -> list[Annotation]:
    out = []
    for name, uri in [("Paris", "Paris"), ("𝔊𝔬𝔱𝔥𝔦𝔠", "Blackletter"), ("東京", "Tokyo")]:
        out.append(Annotation(
            uri="http://dbpedia.org/resource/" + uri, surface_form=name,
            offset=EMOJI_TEXT.index(name), similarity=0.75, second_rank=1.5e-05,
            support=12, types=("DBpedia:Place", "Schema:Place") if uri != "Blackletter" else (),
        ))
    return out


# ------------------------------------------------------------------ real responses


def test_every_real_annotate_response_parses_with_offsets_on_their_surface_forms():
    checked = 0
    for path in _sample_files("annotate_json") + _sample_files("annotate_xml"):
        annotations = parse_annotate(path.read_bytes())
        assert annotations, path.name
        text = _root_attrs(path).get("@text")
        if text is None:  # the gist's XML kept only the Resources
            continue
        for a in annotations:
            assert text[a.offset : a.offset + len(a.surface_form)] == a.surface_form, path.name
            checked += 1
    assert checked > 30


def test_raw_server_bytes_with_escaped_slashes_and_other_key_order():
    path = shared_path("spotlight", "annotate_json", "topicquests_nfil3_conf0.5_raw.json")
    annotations = parse_annotate_json(path.read_bytes())
    assert [a.surface_form for a in annotations][:3] == ["NFIL3", "transcription factor",
                                                         "protein"]
    assert annotations[0].uri == "http://dbpedia.org/resource/NFIL3"
    assert annotations[0].types == ()
    assert annotations[1].second_rank == pytest.approx(2.330325051954496e-10)
    assert annotations[4].types[:2] == ("Wikidata:Q3455524", "Schema:Place")


def test_same_entity_twice_and_foreign_dbpedia_uris_are_kept():
    path = shared_path("spotlight", "annotate_json", "toporesolve_oklahoma_api2021_conf0.35.json")
    uris = [a.uri for a in parse_annotate_json(path.read_bytes())]
    assert uris.count("http://dbpedia.org/resource/Oklahoma") == 2
    path = shared_path("spotlight", "annotate_json", "wouterbeek_nl_apen_sztaki_conf0.json")
    assert [a.uri for a in parse_annotate_json(path.read_bytes())] == [
        "http://nl.dbpedia.org/resource/Lidwoord", "http://nl.dbpedia.org/resource/Apen"]


def test_spotlight_065_xml_with_minus_one_second_rank():
    path = shared_path("spotlight", "annotate_xml",
                       "jekyllblog_south_asia_lucene0.6.5_conf0_support0.xml")
    annotations = parse_annotate_xml(path.read_bytes())
    assert len(annotations) == 16
    assert annotations[0].second_rank == -1.0
    assert annotations[0].support == 2850
    assert annotations[4].second_rank == pytest.approx(0.20302364934710979)


def test_xml_root_without_attributes_parses_and_takes_the_sent_text():
    path = shared_path("spotlight", "annotate_xml", "go_gist_timberland_resources_only.xml")
    annotations = parse_annotate_xml(path.read_bytes())
    assert len(annotations) == 19
    assert annotations[1].offset == 350 and annotations[1].surface_form == "Timberland"
    # With the sent text, offsets convert from UTF-16: one emoji before shifts them by one.
    text = "😀" + " " * 348 + "Timberland"
    body = path.read_bytes().split(b"<Resource ")[2].split(b"/>")[0]
    xml = b'<Annotation><Resources><Resource ' + body + b"/></Resources></Annotation>"
    [a] = parse_annotate_xml(xml, text=text)
    assert a.offset == 350 - 1 and text[a.offset :] == "Timberland"


def test_candidates_with_a_single_surface_form_object():
    path = shared_path("spotlight", "candidates_json", "pyspotlight_single_surfaceform_delft.json")
    [spot] = parse_candidates_json(path.read_bytes())
    text = json.loads(path.read_bytes())["annotation"]["@text"]
    assert text[spot.offset : spot.offset + len(spot.surface_form)] == spot.surface_form
    assert [c.uri for c in spot.candidates] == [
        "http://dbpedia.org/resource/Technische_Universiteit_Delft",
        "http://dbpedia.org/resource/Delft_University_of_Technology",
    ]
    assert spot.candidates[1].types[:2] == ("DBpedia:Agent", "Schema:Organization")
    assert spot.candidates[0].prior_score == pytest.approx(2.8799662606192636e-08)


def test_every_real_number_string_is_reproduced_by_java_double():
    paths = [p for folder in ("annotate_json", "annotate_xml", "candidates_json")
             for p in _sample_files(folder)]
    numbers = [n for p in paths for n in NUMBER.findall(p.read_text("utf-8"))]
    assert len(numbers) > 100
    assert [java_double(float(n)) for n in numbers] == numbers


# ------------------------------------------------------------------ rendering


def test_rendering_a_real_response_reproduces_every_value():
    for path in _sample_files("annotate_json"):
        original = json.loads(path.read_bytes())
        text = original["@text"]
        rendered = render_annotate_json(
            text, parse_annotate_json(path.read_bytes()),
            confidence=float(original["@confidence"]), support=int(original["@support"]),
            types=original["@types"], sparql=original["@sparql"], policy=original["@policy"],
        )
        assert json.loads(rendered) == original, path.name


def test_rendering_real_xml_reproduces_every_attribute():
    path = shared_path("spotlight", "annotate_xml",
                       "jekyllblog_south_asia_lucene0.6.5_conf0_support0.xml")
    original = ET.fromstring(path.read_bytes())
    rendered = ET.fromstring(render_annotate_xml(
        original.get("text"), parse_annotate_xml(path.read_bytes()), confidence=0.0, support=0,
    ))
    assert rendered.attrib == original.attrib
    assert [r.attrib for r in rendered.iter("Resource")] == [
        r.attrib for r in original.iter("Resource")]


def test_rendered_json_has_spotlights_shape_key_order_and_utf16_offsets():
    annotations = _emoji_annotations()
    rendered = render_annotate_json(EMOJI_TEXT, annotations, confidence=0.4, support=20)
    doc = json.loads(rendered)
    assert list(doc) == ANNOTATE_KEYS + ["Resources"]
    assert doc["@confidence"] == "0.4" and doc["@support"] == "20"
    for resource, a in zip(doc["Resources"], annotations, strict=True):
        assert list(resource) == RESOURCE_KEYS
        assert all(isinstance(v, str) for v in resource.values())
        utf16 = len(EMOJI_TEXT[: a.offset].encode("utf-16-le")) // 2
        assert resource["@offset"] == str(utf16)
        assert resource["@percentageOfSecondRank"] == "1.5E-5"
    assert doc["Resources"][1]["@types"] == ""
    assert doc["Resources"][0]["@types"] == "DBpedia:Place,Schema:Place"
    assert int(doc["Resources"][2]["@offset"]) > annotations[2].offset


def test_no_resources_key_when_nothing_was_found():
    doc = json.loads(render_annotate_json("nothing here", []))
    assert list(doc) == ANNOTATE_KEYS
    assert doc["@confidence"] == "0.5" and doc["@policy"] == "whitelist"
    assert parse_annotate_json(render_annotate_json("nothing here", [])) == []
    assert ET.fromstring(render_annotate_xml("nothing here", [])).find("Resources") is None


def test_json_escapes_html_characters_as_gson_does():
    text = "<b>Paris</b> & 'x'=y\u2028"
    rendered = render_annotate_json(text, [])
    assert "\\u003cb\\u003eParis\\u003c/b\\u003e \\u0026 \\u0027x\\u0027\\u003dy\\u2028" in rendered
    assert json.loads(rendered)["@text"] == text


@pytest.mark.parametrize("render, parse", [
    (render_annotate_json, parse_annotate_json),
    (render_annotate_xml, parse_annotate_xml),
])
def test_round_trip_annotate(render, parse):
    annotations = _emoji_annotations()
    assert parse(render(EMOJI_TEXT, annotations)) == annotations
    assert parse_annotate(render(EMOJI_TEXT, annotations)) == annotations
    awkward = 'He said "yes" & <no>\n\tthen\r\nParis'
    a = Annotation("http://dbpedia.org/resource/Paris", "Paris", awkward.index("Paris"),
                   1.0, 0.0, 5)
    assert parse(render(awkward, [a])) == [a]


@pytest.mark.parametrize("path_folder", ["annotate_json", "annotate_xml"])
def test_round_trip_real_annotations(path_folder):
    for path in _sample_files(path_folder):
        annotations = parse_annotate(path.read_bytes())
        text = _root_attrs(path).get("@text", "")
        for render in (render_annotate_json, render_annotate_xml):
            assert parse_annotate(render(text, annotations), text) == annotations, path.name


def test_round_trip_candidates_and_real_candidates_values():
    path = shared_path("spotlight", "candidates_json", "pyspotlight_single_surfaceform_delft.json")
    original = json.loads(path.read_bytes())
    spots = parse_candidates_json(path.read_bytes())
    text = original["annotation"]["@text"]
    assert json.loads(render_candidates_json(text, spots)) == original
    assert parse_candidates_xml(render_candidates_xml(text, spots)) == spots

    candidate = Candidate("http://dbpedia.org/resource/Tokyo", "Tokyo", 0.5, 0.0, 3, 1e-6, 0.5)
    many = [CandidateSpot(name, EMOJI_TEXT.index(name), (candidate,) * k)
            for k, name in enumerate(["Paris", "𝔊𝔬𝔱𝔥𝔦𝔠", "東京"], start=1)]
    for render, parse in [(render_candidates_json, parse_candidates_json),
                          (render_candidates_xml, parse_candidates_xml)]:
        assert parse(render(EMOJI_TEXT, many)) == many
        assert parse(render(EMOJI_TEXT, [])) == []
    doc = json.loads(render_candidates_json(EMOJI_TEXT, many))["annotation"]
    assert isinstance(doc["surfaceForm"], list)
    assert isinstance(doc["surfaceForm"][0]["resource"], dict)  # one candidate: an object
    assert doc["surfaceForm"][0]["resource"]["@uri"] == "Tokyo"


# ------------------------------------------------------------------ odd shapes and errors


def _resource(**overrides) -> dict:
    item = {"@URI": "http://dbpedia.org/resource/Paris", "@support": "7", "@types": "",
            "@surfaceForm": "Paris", "@offset": "0", "@similarityScore": "1.0",
            "@percentageOfSecondRank": "0.0"}
    item.update(overrides)
    return item


def test_resources_as_a_single_object_or_wrapped_as_old_servers_did():
    single = json.dumps({"@text": "Paris", "Resources": _resource()})
    wrapped = json.dumps({"@text": "Paris", "Resources": {"Resource": [_resource()]}})
    expected = [Annotation("http://dbpedia.org/resource/Paris", "Paris", 0, 1.0, 0.0, 7)]
    assert parse_annotate_json(single) == expected
    assert parse_annotate_json(wrapped) == expected
    assert parse_annotate_json(json.dumps({"@text": "x", "Resources": []})) == []


def test_values_may_be_numbers_instead_of_strings():
    doc = {"@text": "Paris", "Resources": [_resource(**{"@offset": 0, "@support": 7,
                                                        "@similarityScore": 1})]}
    [a] = parse_annotate_json(json.dumps(doc))
    assert (a.offset, a.support, a.similarity) == (0, 7, 1.0)


@pytest.mark.parametrize("body", [
    b"<html><body>Service Unavailable</body></html>",
    b"{not json",
    b"[1, 2]",
    json.dumps({"@text": "P", "Resources": [_resource(**{"@offset": "x"})]}).encode(),
    json.dumps({"@text": "P", "Resources": ["Paris"]}).encode(),
    json.dumps({"@text": "P", "Resources": [{"@surfaceForm": "P", "@offset": "0"}]}).encode(),
    b'<Annotation text="x"><Error message="boom"/></Annotation>',
    b"<Other/>",
])
def test_unreadable_responses_are_bad_response(body):
    with pytest.raises(LinkError) as err:
        parse_annotate(body)
    assert err.value.reason == "bad_response"


def test_candidates_with_a_list_of_surface_forms_and_one_resource_each():
    resource = {"@label": "Paris", "@uri": "Paris", "@contextualScore": "0.9",
                "@percentageOfSecondRank": "0.1", "@support": "10", "@priorScore": "0.5",
                "@finalScore": "0.8", "@types": "DBpedia:Place, Schema:Place"}
    doc = {"annotation": {"@text": "Paris 😀 Paris", "surfaceForm": [
        {"@name": "Paris", "@offset": "0", "resource": resource},
        {"@name": "Paris", "@offset": "9", "resource": [resource]},
    ]}}
    spots = parse_candidates_json(json.dumps(doc))
    assert [s.offset for s in spots] == [0, 8]
    assert spots[0].candidates == spots[1].candidates
    assert spots[0].candidates[0].types == ("DBpedia:Place", "Schema:Place")
    assert parse_candidates_json(json.dumps({"annotation": {"@text": "none"}})) == []


# ------------------------------------------------------------------ numbers and offsets


@pytest.mark.parametrize("value, java", [
    (1.0, "1.0"), (0.0, "0.0"), (-0.0, "-0.0"), (0.5, "0.5"), (-1.0, "-1.0"),
    (7.564391175472872e-05, "7.564391175472872E-5"), (0.9999203720889515, "0.9999203720889515"),
    (100.0, "100.0"), (1234.5, "1234.5"), (0.001, "0.001"), (0.0009999, "9.999E-4"),
    (9999999.0, "9999999.0"), (1e7, "1.0E7"), (123456789.0, "1.23456789E8"), (1e21, "1.0E21"),
    (1.0208950968881831e-50, "1.0208950968881831E-50"), (2.5e-308, "2.5E-308"),
    (float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity"),
])
def test_java_double(value, java):
    assert java_double(value) == java


def test_java_double_round_trips_random_values():
    rng = random.Random(3)
    for _ in range(2000):
        value = rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
        text = java_double(value)
        assert float(text) == value
        assert re.fullmatch(r"-?\d+\.\d+(E-?\d+)?", text), text


def test_utf16_offsets_match_an_encoder_at_every_position():
    text = "a😀b🇫🇷 é𝔊x" * 3
    offsets = Utf16Offsets(text)
    for i in range(len(text) + 1):
        utf16 = len(text[:i].encode("utf-16-le")) // 2
        assert offsets.to_utf16(i) == utf16
        assert offsets.to_code_points(utf16) == i
