"""`longtail serve` in a thread of this process, on a small model written here, over real HTTP.

What the server answers is compared with what the same model's `StatisticalLinker` gives in
this process, and with Spotlight's rules (filters, offsets in UTF-16 units, shapes).
"""

from __future__ import annotations

import io
import json
import select
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from longtail.linking.spotlight import (
    SpotlightClient,
    parse_annotate_json,
    parse_annotate_xml,
    parse_candidates_json,
    parse_candidates_xml,
)
from longtail.linking.statistical import StatisticalLinker, StatisticalModel, import_wikistats
from longtail.serve.parameters import TypeFilter, response_format, type_id
from longtail.serve.server import SpotlightServer

DBR = "http://dbpedia.org/resource/"
# A small world: two ambiguous forms (Paris, Mercury) with context vectors, typed entities,
# an untyped one (Nobel_Prize) and a non-ASCII name.
SURFACE_FORMS = [("Paris", 40, 50), ("Berlin", 30, 40), ("Marie Curie", 20, 20),
                 ("Nobel Prize", 15, 20), ("Zürich", 10, 12), ("Mercury", 30, 40)]
PAIRS = [("Paris", "Paris", 35), ("Paris", "Paris_Hilton", 5), ("Berlin", "Berlin", 30),
         ("Marie Curie", "Marie_Curie", 20), ("Nobel Prize", "Nobel_Prize", 15),
         ("Zürich", "Zürich", 10), ("Mercury", "Mercury_(planet)", 20),
         ("Mercury", "Freddie_Mercury", 10)]
URIS = [("Paris", 100), ("Paris_Hilton", 20), ("Berlin", 80), ("Marie_Curie", 40),
        ("Nobel_Prize", 30), ("Zürich", 25), ("Mercury_(planet)", 50), ("Freddie_Mercury", 45)]
CONTEXTS = [("Mercury_(planet)", [("planet", 10), ("orbit", 5), ("sun", 5)]),
            ("Freddie_Mercury", [("singer", 10), ("queen", 8), ("band", 5)]),
            ("Paris", [("capital", 5), ("citi", 4)]), ("Paris_Hilton", [("hotel", 5)])]
TYPES = {"Paris": "City,http://schema.org/Place", "Berlin": "City,http://schema.org/Place",
         "Zürich": "City", "Marie_Curie": "Scientist,http://schema.org/Person",
         "Paris_Hilton": "Person", "Freddie_Mercury": "MusicalArtist",
         "Mercury_(planet)": "Planet"}
TEXTS = [
    "Marie Curie won the Nobel Prize in Paris. Mercury is the planet nearest the sun, and "
    "Berlin is far away. 😀 Zürich too.",
    "Mercury sang with Queen, the band, and the singer stayed at a Paris hotel.",
    "Nothing known is named here.",
]


def write_model(folder: Path) -> Path:
    """The small model above, imported into `folder / "model"`."""
    src = folder / "wikistats"
    src.mkdir(parents=True)

    def write(name: str, rows: list[tuple]) -> None:
        (src / name).write_text("".join("\t".join(map(str, r)) + "\n" for r in rows),
                                encoding="utf-8")

    write("sfAndTotalCounts", SURFACE_FORMS)
    write("pairCounts", PAIRS)
    write("uriCounts", URIS)
    write("tokenCounts", [(uri, "{" + ",".join(f"({t},{c})" for t, c in vector) + "}")
                          for uri, vector in CONTEXTS])
    types = folder / "types.tsv"
    types.write_text("".join(
        f"{uri}\t" + ",".join(t if t.startswith("http") else "http://dbpedia.org/ontology/" + t
                              for t in spec.split(",")) + "\n"
        for uri, spec in TYPES.items()), encoding="utf-8")
    import_wikistats(src, folder / "model", instance_types=types)
    return folder / "model"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return write_model(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def linker(model_dir) -> StatisticalLinker:
    return StatisticalLinker.load(model_dir)


@pytest.fixture(scope="module")
def server(model_dir):
    with SpotlightServer(StatisticalModel.load(model_dir), port=0, threads=2).start() as running:
        yield running


def post(server: SpotlightServer, api: str, accept: str | None = "application/json",
         **form) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.post(f"{server.url}/{api}", data=form, headers=headers, timeout=10)


def as_tuples(annotations) -> list[tuple]:
    return [(a.uri, a.surface_form, a.offset, a.similarity, a.second_rank, a.support, a.types)
            for a in annotations]


# ---------------------------------------------------------------- annotate


@pytest.mark.parametrize("confidence", [0.0, 0.5, 0.8])
def test_annotate_json_equals_the_linker_in_process(server, linker, confidence):
    for text in TEXTS:
        response = post(server, "annotate", text=text, confidence=str(confidence))
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        got = parse_annotate_json(response.content, text)
        assert as_tuples(got) == as_tuples(linker.annotate(text, confidence=confidence))


def test_annotate_finds_the_entities_at_their_offsets(server):
    text = TEXTS[0]
    doc = post(server, "annotate", text=text).json()
    found = {r["@URI"][len(DBR):]: r for r in doc["Resources"]}
    assert set(found) == {"Marie_Curie", "Nobel_Prize", "Paris", "Mercury_(planet)", "Berlin",
                          "Zürich"}
    assert found["Paris"]["@offset"] == str(text.index("Paris"))
    # The emoji is two UTF-16 units: Spotlight's offsets count those, not code points.
    assert found["Zürich"]["@offset"] == str(text.index("Zürich") + 1)
    assert found["Marie_Curie"]["@types"] == "DBpedia:Scientist,Schema:Person"
    assert all(isinstance(v, str) for r in doc["Resources"] for v in r.values())
    assert (doc["@text"], doc["@confidence"], doc["@support"], doc["@policy"]) == \
        (text, "0.5", "0", "whitelist")


def test_get_form_post_and_multipart_give_the_same_body(server):
    text = TEXTS[1]
    by_form = post(server, "annotate", text=text, confidence="0.3").text
    by_get = requests.get(f"{server.url}/annotate", params={"text": text, "confidence": "0.3"},
                          headers={"Accept": "application/json"}, timeout=10).text
    by_multipart = requests.post(f"{server.url}/annotate",
                                 files={"text": (None, text), "confidence": (None, "0.3")},
                                 headers={"Accept": "application/json"}, timeout=10).text
    assert by_form == by_get == by_multipart
    assert "Freddie_Mercury" in by_form


def test_no_resources_key_when_nothing_is_found(server):
    doc = post(server, "annotate", text=TEXTS[2]).json()
    assert doc["@text"] == TEXTS[2] and "Resources" not in doc


@pytest.mark.parametrize("accept", [None, "text/xml", "application/xml", "*/*",
                                    "application/json;q=0.5, text/xml;q=0.9"])
def test_xml_when_asked_or_by_default(server, linker, accept):
    response = post(server, "annotate", accept=accept, text=TEXTS[0])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert as_tuples(parse_annotate_xml(response.content, TEXTS[0])) == \
        as_tuples(linker.annotate(TEXTS[0]))


def test_support_keeps_entities_with_strictly_more(server):
    doc = post(server, "annotate", text=TEXTS[0], support="40").json()
    supports = {r["@URI"][len(DBR):]: int(r["@support"]) for r in doc["Resources"]}
    assert supports == {"Paris": 100, "Mercury_(planet)": 50, "Berlin": 80}
    assert doc["@support"] == "40"


@pytest.mark.parametrize("types, policy, expected", [
    ("DBpedia:City", "whitelist", {"Paris", "Berlin", "Zürich"}),
    ("City", "whitelist", {"Paris", "Berlin", "Zürich"}),
    ("Schema:Place,DBpedia:Planet", "whitelist", {"Paris", "Berlin", "Mercury_(planet)"}),
    ("Schema:Person", "whitelist", {"Marie_Curie"}),
    ("DBpedia:Person", "whitelist", set()),  # Scientist is not Person: no type closure
    ("DBpedia:City", "blacklist", {"Marie_Curie", "Nobel_Prize", "Mercury_(planet)"}),
    ("DBpedia:Unknown,DBpedia:Planet", "whitelist", {"Nobel_Prize", "Mercury_(planet)"}),
    ("", "whitelist", {"Marie_Curie", "Nobel_Prize", "Paris", "Mercury_(planet)", "Berlin",
                       "Zürich"}),
])
def test_types_filter_as_spotlight(server, types, policy, expected):
    doc = post(server, "annotate", text=TEXTS[0], types=types, policy=policy).json()
    assert {r["@URI"][len(DBR):] for r in doc.get("Resources", [])} == expected
    assert (doc["@types"], doc["@policy"]) == (types, policy)


def test_sparql_is_echoed_and_said_to_be_ignored(server, linker):
    query = "SELECT ?x WHERE { ?x a <http://dbpedia.org/ontology/City> }"
    response = post(server, "annotate", text=TEXTS[0], sparql=query)
    assert response.json()["@sparql"] == query
    assert response.headers["X-Sparql"] == "not evaluated"
    assert len(response.json()["Resources"]) == len(linker.annotate(TEXTS[0]))


def test_spotlight_client_against_the_server_equals_the_linker(server, linker):
    with SpotlightClient([server.url], confidence=0.4, support=10) as client:
        results = list(client.annotate_many(enumerate(TEXTS)))
    assert [r.error for r in results] == [None, None, None]
    for result in results:
        text = TEXTS[result.key]
        assert as_tuples(result.annotations) == \
            as_tuples(linker.annotate(text, confidence=0.4, support=10))


# ---------------------------------------------------------------- candidates and spot


def test_candidates_at_confidence_zero_are_all_the_linkers_candidates(server, linker):
    for text in TEXTS[:2]:
        response = post(server, "candidates", text=text, confidence="0")
        got = parse_candidates_json(response.content, text)
        want = linker.candidates(text, confidence=0.0)
        assert [(s.surface_form, s.offset) for s in got] == \
            [(s.surface_form, s.offset) for s in want]
        for spot, expected in zip(got, want, strict=True):
            assert [(c.uri, c.support, c.final_score, c.contextual_score, c.prior_score,
                     c.second_rank, c.types) for c in spot.candidates] == \
                [(c.uri, c.support, c.similarity, c.contextual_score, c.prior, c.second_rank,
                  c.types) for c in expected.candidates]


@pytest.mark.parametrize("confidence, support", [(0.5, 0), (0.75, 0), (0.2, 45)])
def test_candidates_keep_exactly_those_passing_spotlights_filters(server, linker, confidence,
                                                                  support):
    text = TEXTS[1]
    got = parse_candidates_json(post(server, "candidates", text=text,
                                     confidence=str(confidence), support=str(support)).content)
    kept = {(s.offset, c.uri) for s in got for c in s.candidates}
    expected = {(s.offset, c.uri) for s in linker.candidates(text, confidence=confidence)
                for c in s.candidates
                if c.support > support and c.similarity >= confidence
                and c.second_rank <= 1 - confidence ** 2}
    assert kept == expected
    assert all(s.candidates for s in got)


def test_candidates_shapes_follow_spotlight(server):
    text = "Paris and Berlin."
    doc = post(server, "candidates", text=text).json()["annotation"]
    assert doc["@text"] == text and isinstance(doc["surfaceForm"], list)
    paris = doc["surfaceForm"][0]
    assert (paris["@name"], paris["@offset"]) == ("Paris", "0")
    assert isinstance(paris["resource"], dict)  # one candidate: an object, as XStream writes
    assert (paris["resource"]["@uri"], paris["resource"]["@label"]) == ("Paris", "Paris")
    xml = post(server, "candidates", accept="text/xml", text=text)
    assert [s.surface_form for s in parse_candidates_xml(xml.content, text)] == \
        ["Paris", "Berlin"]


def test_spot_gives_the_linkers_spots(server, linker):
    text = TEXTS[0]
    got = parse_candidates_json(post(server, "spot", text=text).content, text)
    assert [(s.surface_form, s.offset) for s in got] == \
        [(s.surface_form, s.start) for s in linker.spots(text)]
    assert all(s.candidates == () for s in got)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("form, words", [
    ({"text": ""}, "no text"),
    ({"confidence": "0.5"}, "no text"),
    ({"text": "  \n "}, "no text"),
    ({"text": "Paris", "confidence": "abc"}, "confidence"),
    ({"text": "Paris", "confidence": "1.5"}, "confidence"),
    ({"text": "Paris", "confidence": "nan"}, "confidence"),
    ({"text": "Paris", "support": "-1"}, "support"),
    ({"text": "Paris", "support": "2.5"}, "support"),
    ({"text": "Paris", "policy": "greylist"}, "policy"),
    ({"url": "http://example.org/"}, "url"),
])
def test_bad_requests_get_400_and_one_line_of_json(server, form, words):
    response = post(server, "annotate", **form)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert "\n" not in response.text.strip()
    assert words in response.json()["error"]


def test_malformed_bodies(server):
    url = f"{server.url}/annotate"
    not_utf8 = requests.post(url, data=b"text=%FF%FE", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.json()["error"]
    as_json = requests.post(url, json={"text": "Paris"}, timeout=10)
    assert as_json.status_code == 415 and "Content-Type" in as_json.json()["error"]


def test_unknown_paths_and_methods(server):
    for path, status in (("/rest/disambiguate", 404), ("/rest/nothing", 404), ("/", 404)):
        response = requests.get(f"{server.url[:-len('/rest')]}{path}?text=Paris", timeout=10)
        assert response.status_code == status, path
        assert "error" in response.json()
    assert "not supported" in requests.get(f"{server.url}/disambiguate", timeout=10).json()[
        "error"]
    put = requests.put(f"{server.url}/annotate", data={"text": "Paris"}, timeout=10)
    assert put.status_code == 405 and "PUT" in put.json()["error"]


def test_bodies_over_the_cap_get_413_and_the_server_goes_on(model_dir):
    model = StatisticalModel.load(model_dir)
    with SpotlightServer(model, port=0, threads=1, max_body_bytes=1000).start() as small:
        big = requests.post(f"{small.url}/annotate", data={"text": "Paris " * 200}, timeout=10)
        assert big.status_code == 413 and "1000" in big.json()["error"]
        fits = requests.post(f"{small.url}/annotate", data={"text": "Paris " * 10},
                             headers={"Accept": "application/json"}, timeout=10)
        assert fits.status_code == 200 and len(fits.json()["Resources"]) == 10


def test_a_request_line_too_long_gets_414_as_json(server):
    response = requests.get(f"{server.url}/annotate", params={"text": "Paris " * 20_000},
                            timeout=10)
    assert response.status_code == 414
    assert "error" in response.json()


def raw_exchange(server: SpotlightServer, *pieces: bytes) -> bytes:
    """Send `pieces` one by one on a new connection, unless an answer came first; what the
    server answers until it closes."""
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as sock:
        for piece in pieces:
            if select.select([sock], [], [], 0.1)[0]:  # answered already: stop sending
                break
            sock.sendall(piece)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("pieces, status", [
    ([b"GET /rest/annotate?text="] + [b"a" * 40_000] * 4, 414),  # a request line in pieces
    ([b"GET /health HTTP/1.1\r\nX-A: "] + [b"b" * 40_000] * 4, 431),
    ([b"NOT HTTP AT ALL\r\n\r\n"], 400),
    ([b"POST /rest/annotate HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"], 400),
])
def test_unparsable_requests_get_one_line_of_json(server, pieces, status):
    answer = raw_exchange(server, *pieces)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"application/json" in head
    assert list(json.loads(body)) == ["error"] and b"\n" not in body


def test_a_client_waiting_to_send_an_oversized_body_gets_413_at_once(model_dir):
    model = StatisticalModel.load(model_dir)
    with SpotlightServer(model, port=0, threads=1, max_body_bytes=1000).start() as small:
        answer = raw_exchange(small, b"POST /rest/annotate HTTP/1.1\r\nHost: x\r\n"
                                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                                     b"Expect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 ")  # no "100 Continue": the body is not wanted
    assert "1000" in json.loads(answer.partition(b"\r\n\r\n")[2])["error"]


def test_health_and_rest_root_describe_the_model(server, model_dir):
    header = json.loads((model_dir / "model.json").read_text())
    for path in ("/health", "/rest/", "/rest"):
        response = requests.get(server.url[:-len("/rest")] + path, timeout=10)
        assert response.status_code == 200, path
        info = response.json()
        assert info["status"] == "ok"
        assert info["model"]["entities"] == header["entities"] == len(URIS)
        assert info["model"]["folder"] == str(model_dir)
        assert "/rest/annotate" in info["endpoints"]


# ---------------------------------------------------------------- concurrency and lifecycle


def test_concurrent_requests_give_the_sequential_answers(server, linker):
    texts = [f"{TEXTS[i % 2]} Item {i}." for i in range(40)]
    expected = [as_tuples(linker.annotate(t)) for t in texts]

    def ask(text: str) -> list[tuple]:
        return as_tuples(parse_annotate_json(post(server, "annotate", text=text).content, text))

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(ask, texts)) == expected


def test_a_slow_client_does_not_hold_up_the_others(server):
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as slow:
        slow.sendall(b"POST /rest/annotate HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 10\r\n\r\ntext=")  # half of the body, then nothing
        answered = post(server, "annotate", text="Paris")  # answered while the first waits
        assert answered.status_code == 200
        slow.sendall(b"Paris")
        assert slow.recv(65536).startswith(b"HTTP/1.1 200")


def test_access_log_has_one_line_per_request_and_no_text(model_dir):
    log = io.StringIO()
    model = StatisticalModel.load(model_dir)
    with SpotlightServer(model, port=0, threads=1, access_log=log).start() as logged:
        post(logged, "annotate", text="Secret Paris text")
        post(logged, "annotate", text="")
        requests.get(logged.url[:-len("/rest")] + "/health", timeout=10)
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert " POST /rest/annotate 200 " in lines[0] and " 400 " in lines[1]
    assert "/health 200" in lines[2]
    assert "Secret" not in log.getvalue()


def test_stop_returns_with_an_idle_keep_alive_connection_open(model_dir):
    model = StatisticalModel.load(model_dir)
    running = SpotlightServer(model, port=0, threads=1).start()
    session = requests.Session()
    assert session.post(f"{running.url}/annotate", data={"text": "Paris"}).status_code == 200
    stopper = threading.Thread(target=running.stop)
    stopper.start()
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{running.url}/annotate", data={"text": "Paris"}, timeout=5)
    session.close()


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("name, expected", [
    ("Person", "DBpedia:Person"), ("person", "DBpedia:Person"),
    ("DBpedia:Person", "DBpedia:Person"), ("dbpedia:person", "DBpedia:Person"),
    ("D:Place", "DBpedia:Place"), ("http://dbpedia.org/ontology/City", "DBpedia:City"),
    ("Schema:Place", "Schema:Place"), ("schema:Place", "Schema:Place"),
    ("Freebase:/people/person", "Freebase:/people/person"), ("DBpedia:unknown", "DBpedia:Unknown"),
    (" Wikidata:Q5 ", "Wikidata:Q5"),
])
def test_type_ids_as_spotlight_reads_them(name, expected):
    assert type_id(name) == expected


def test_type_filter_policies():
    city = ("DBpedia:City", "Schema:Place")
    assert TypeFilter.parse("").accepts(city) and TypeFilter.parse("").accepts(())
    assert TypeFilter.parse("City").accepts(city)
    assert not TypeFilter.parse("City").accepts(())
    assert TypeFilter.parse("Unknown").accepts(())
    assert not TypeFilter.parse("City", "blacklist").accepts(city)
    assert TypeFilter.parse("City", "Blacklist").accepts(())


@pytest.mark.parametrize("accept, expected", [
    (None, "xml"), ("", "xml"), ("*/*", "xml"), ("text/html", "xml"),
    ("application/json", "json"), ("text/xml", "xml"), ("application/xml", "xml"),
    ("text/xml, application/json", "xml"), ("application/json, text/xml", "json"),
    ("text/xml;q=0.2, application/json;q=0.8", "json"), ("application/json;q=0", "xml"),
])
def test_response_format_by_accept(accept, expected):
    assert response_format(accept) == expected
