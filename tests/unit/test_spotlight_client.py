"""SpotlightClient against real HTTP servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import itertools
import random
import re
import time

import pytest
import requests

from longtail.errors import UsageError
from longtail.linking.annotation import Linker, LinkError
from longtail.linking.spotlight import SpotlightClient
from tests.servers import DICTIONARY, DictionaryAnnotator, FakeSpotlight, Faults, SpotlightProcess
from tests.servers import unused_port as _unused_port

MARKER = "CRASHME"
FAST = {"connect_timeout": 0.5, "read_timeout": 0.5, "backoff": 0.01}
WORDS = ["the", "river", "runs", "past", "old", "houses", "and", "a", "quiet", "market",
         "where", "people", "meet", "at", "dawn", "to", "trade", "bread", "fish", "news"]


def unused_url() -> str:
    return f"http://127.0.0.1:{_unused_port()}/rest"


def sentence(rng: random.Random, marker: bool = False) -> str:
    words = rng.sample(WORDS, rng.randint(4, 10))
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(list(DICTIONARY)))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(["😀", "🇫🇷", "é", "—"]))
    if marker:
        words.insert(rng.randrange(len(words) + 1), MARKER)
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", "!", "?"])


def document(rng: random.Random, sentences: int, marker: bool = False) -> str:
    bad = rng.randrange(sentences) if marker else -1
    return " ".join(sentence(rng, i == bad) for i in range(sentences))


def make_corpus(count: int, seed: int = 5) -> tuple[list[str], set[int]]:
    """Texts of every kind: empty, without entities, long, and marked (these must fail)."""
    rng = random.Random(seed)
    texts, marked = [], set()
    for i in range(count):
        if i % 97 == 3:
            texts.append(["", "   ", "\n\t "][i % 3])
        elif i % 41 == 7:
            texts.append("Nothing to see in this plain sentence. Nor in this one.")
        elif i % 29 == 11:
            marked.add(i)
            texts.append(document(rng, rng.randint(3, 8), marker=True))
        elif i % 53 == 13:
            texts.append(document(rng, 60))  # longer than max_chars: cut into pieces
        else:
            texts.append(document(rng, rng.randint(1, 6)))
    return texts, marked


def as_tuples(annotations) -> list[tuple]:
    return [(a.uri, a.surface_form, a.offset) for a in annotations]


# ------------------------------------------------------------------ the big run


def test_thousand_documents_across_misbehaving_endpoints():
    texts, marked = make_corpus(1000)
    faulty = FakeSpotlight(Faults(error_rate=0.08, stall_rate=0.03, stall_seconds=1.0))
    steady = FakeSpotlight()
    reference_server = FakeSpotlight()
    endpoints = [faulty.url, steady.url, unused_url()]
    client = SpotlightClient(endpoints, max_in_flight=4, max_chars=2000, min_split_chars=100,
                             failures_before_rest=3, rest_seconds=0.2, **FAST)
    reference = SpotlightClient([reference_server.url], max_chars=10**9, read_timeout=10)
    try:
        results = list(client.annotate_many(enumerate(texts)))
        expected = {i: reference.annotate(t) for i, t in enumerate(texts) if i not in marked}
    finally:
        client.close()
        reference.close()
        for server in (faulty, steady, reference_server):
            server.stop()

    assert [r.key for r in results] == list(range(len(texts)))
    failed = {r.key: r.error for r in results if not r.ok}
    assert set(failed) == marked
    assert {e.reason for e in failed.values()} == {"http_400"}
    for r in results:
        if r.ok:
            assert r.annotations == expected[r.key], r.key
    assert sum(len(r.annotations) for r in results) > 1000
    # The faults did happen, and nobody sent Spotlight an empty text.
    assert faulty.log.faults["500"] > 10 and faulty.log.faults["stall"] > 0
    assert all(t.strip() for t in faulty.log.texts + steady.log.texts)
    assert any(len(t) > 2000 for t in texts) and all(
        len(t) <= 2000 for t in faulty.log.texts + steady.log.texts)


def test_killed_server_process_mid_run():
    texts, _ = make_corpus(300, seed=9)
    texts = [t.replace(MARKER, "") for t in texts]
    with FakeSpotlight() as steady, FakeSpotlight() as reference_server:
        process = SpotlightProcess()
        client = SpotlightClient([process.url, steady.url], max_in_flight=3,
                                 rest_seconds=0.2, **FAST)
        reference = SpotlightClient([reference_server.url], read_timeout=10)
        try:
            results = []
            for result in client.annotate_many(enumerate(texts)):
                results.append(result)
                if len(results) == 60:
                    served_before_kill = len(process.stats()["texts"])
                    process.kill()
            expected = [reference.annotate(t) for t in texts]
        finally:
            process.kill()
            client.close()
            reference.close()
    assert served_before_kill > 5
    assert [r.key for r in results] == list(range(len(texts)))
    assert [r.error for r in results] == [None] * len(texts)
    assert [r.annotations for r in results] == expected


# ------------------------------------------------------------------ splitting and chunking


def test_400_splits_down_to_the_bad_sentence_and_fails_the_document():
    rng = random.Random(2)
    good = [sentence(rng) for _ in range(11)]
    bad = "This sentence has the " + MARKER + " in it."
    text = " ".join(good[:8] + [bad] + good[8:])
    with FakeSpotlight() as server, SpotlightClient([server.url], min_split_chars=80,
                                                    **FAST) as client:
        with pytest.raises(LinkError) as err:
            client.annotate(text)
        seen = list(server.log.texts)
    assert err.value.reason == "http_400"
    assert err.value.detail.startswith("java.lang.ArrayIndexOutOfBoundsException")
    start, end = map(int, re.search(r"\(chars (\d+)-(\d+)\)$", err.value.detail).groups())
    assert MARKER in text[start:end] and end - start <= 80
    assert text[start:end] in seen
    assert seen[0] == text
    # The server saw both halves of the first split, and the clean left half was answered.
    halves = [t for t in seen[1:] if text.startswith(t) or text.endswith(t)]
    assert any(text.startswith(t) for t in halves) and any(text.endswith(t) for t in halves)
    assert server.log.statuses[200] >= 1 and server.log.statuses[400] >= 3


def test_long_text_is_chunked_and_offsets_map_back():
    rng = random.Random(4)
    text = document(rng, 400) + " Emoji 😀🇫🇷 then Paris. " + document(rng, 100)
    with FakeSpotlight(Faults(max_body_bytes=12_000)) as capped, \
            FakeSpotlight(Faults(max_body_bytes=10**8)) as uncapped:
        with SpotlightClient([capped.url], max_chars=3000, **FAST) as chunked, \
                SpotlightClient([uncapped.url], max_chars=10**9, read_timeout=10) as single:
            got = chunked.annotate(text)
            want = single.annotate(text)
        assert len(uncapped.log.texts) == 1
        assert len(capped.log.texts) >= len(text) // 3000
        assert capped.log.statuses[413] == 0
    assert len(text) > 20_000
    assert got == want and len(got) > 300
    assert all(text[a.offset : a.offset + len(a.surface_form)] == a.surface_form for a in got)


def test_413_halves_the_text_and_gives_up_as_too_large_when_it_cannot():
    rng = random.Random(8)
    text = document(rng, 40)
    with FakeSpotlight(Faults(max_body_bytes=1500)) as capped, FakeSpotlight() as plain:
        with SpotlightClient([capped.url], min_split_chars=100, **FAST) as client:
            got = client.annotate(text)
        with SpotlightClient([plain.url], **FAST) as client:
            assert got == client.annotate(text)
        assert capped.log.statuses[413] >= 1
        with SpotlightClient([capped.url], min_split_chars=5000, **FAST) as client, \
                pytest.raises(LinkError) as err:
            client.annotate(text)
    assert err.value.reason == "too_large"


# ------------------------------------------------------------------ offsets


def test_utf16_offsets_with_emoji_and_non_bmp_characters():
    text = "😀😀 Paris 🇫🇷 and 𝔊𝔬𝔱𝔥𝔦𝔠 in Zürich, 東京 then Berlin 🤖 Kraków."
    with FakeSpotlight() as server, SpotlightClient([server.url], **FAST) as client:
        got = client.annotate(text)
        raw = requests.post(server.url + "/annotate", data={"text": text},
                            headers={"Accept": "application/json"}, timeout=5).json()
    expected = [(m.entity.uri, m.surface_form, m.offset)
                for m in DictionaryAnnotator().annotate(text)]
    assert as_tuples(got) == expected and len(got) == 6
    raw_offsets = [int(r["@offset"]) for r in raw["Resources"]]
    assert raw_offsets != [a.offset for a in got]  # the wire really was in UTF-16 units
    assert all(text[a.offset : a.offset + len(a.surface_form)] == a.surface_form for a in got)


def test_offsets_that_miss_their_surface_form_are_a_bad_response():
    with FakeSpotlight(Faults(code_point_offsets=True)) as server, \
            SpotlightClient([server.url], **FAST) as client:
        assert as_tuples(client.annotate("Plain Paris text")) == [
            ("http://dbpedia.org/resource/Paris", "Paris", 6)]
        with pytest.raises(LinkError) as err:
            client.annotate("😀 then Paris")
    assert err.value.reason == "bad_response"


def test_candidates():
    text = "𝔊𝔬𝔱𝔥𝔦𝔠 Marie Curie won the Nobel Prize in physics."
    with FakeSpotlight() as server, SpotlightClient([server.url], **FAST) as client:
        spots = client.candidates(text)
        assert client.candidates("   ") == []
    assert [(s.surface_form, s.offset) for s in spots] == [
        ("𝔊𝔬𝔱𝔥𝔦𝔠", 0), ("Marie Curie", 7), ("Nobel Prize", 27), ("physics", 42)]
    assert all(text[s.offset :].startswith(s.surface_form) for s in spots)
    assert spots[1].candidates[0].uri == "http://dbpedia.org/resource/Marie_Curie"
    assert spots[1].candidates[1].uri == "http://dbpedia.org/resource/Marie_Curie_(band)"


# ------------------------------------------------------------------ endpoints


def test_max_in_flight_is_never_exceeded_per_endpoint():
    texts, _ = make_corpus(80, seed=3)
    texts = [t.replace(MARKER, "") for t in texts]
    with FakeSpotlight(Faults(delay_seconds=0.03)) as a, \
            FakeSpotlight(Faults(delay_seconds=0.03)) as b, \
            SpotlightClient([a.url, b.url], max_in_flight=3, **FAST) as client:
        results = list(client.annotate_many(enumerate(texts)))
    assert all(r.ok for r in results)
    for server in (a, b):
        assert 2 <= server.log.max_concurrent <= 3


def test_failing_endpoint_rests_then_is_probed_once():
    broken = Faults(error_rate=1.0, fault_times=0)
    with FakeSpotlight(broken) as bad, FakeSpotlight() as good, \
            SpotlightClient([bad.url, good.url], failures_before_rest=2, rest_seconds=0.5,
                            **FAST) as client:
        for i in range(20):
            assert client.annotate(f"Text {i} about Paris.")
        assert len(bad.log.texts) == 2  # two failures in a row, then rest

        time.sleep(0.55)
        assert client.annotate("After the rest, Berlin.")
        assert len(bad.log.texts) == 3  # one probe, which failed: resting again
        for i in range(3):
            client.annotate(f"More {i} Paris.")
        assert len(bad.log.texts) == 3

        bad.faults.error_rate = 0.0  # the server recovers
        time.sleep(0.55)
        for i in range(10):
            client.annotate(f"Later {i} Paris.")
        assert len(bad.log.texts) >= 7  # probe succeeded: back in the rotation
        assert bad.log.statuses[200] >= 5


def test_rests_double_while_probes_keep_failing():
    broken = Faults(error_rate=1.0, fault_times=0)
    with FakeSpotlight(broken) as bad, FakeSpotlight() as good, \
            SpotlightClient([bad.url, good.url], failures_before_rest=1, rest_seconds=30,
                            **FAST) as client:
        client.annotate("Paris one.")  # fails on bad, retried on good; bad rests 1 s
        assert len(bad.log.texts) == 1
        time.sleep(1.1)
        client.annotate("Paris two.")  # the probe fails: now 2 s
        assert len(bad.log.texts) == 2
        time.sleep(1.1)
        for i in range(5):
            client.annotate(f"Paris {i} again.")
        assert len(bad.log.texts) == 2  # still resting after 1.1 s of a 2 s rest


def test_all_endpoints_resting_waits_for_the_soonest():
    faults = Faults(error_rate=1.0, fault_times=2)  # every text fails twice, then works
    with FakeSpotlight(faults) as server, \
            SpotlightClient([server.url], failures_before_rest=1, rest_seconds=0.1,
                            retries=2, **FAST) as client:
        assert as_tuples(client.annotate("Paris")) == [
            ("http://dbpedia.org/resource/Paris", "Paris", 0)]
    assert server.log.statuses == {500: 2, 200: 1}


@pytest.mark.parametrize("faults, reason, requests_seen", [
    (Faults(error_rate=1.0, fault_times=0), "http_5xx", 3),
    (Faults(stall_rate=1.0, fault_times=0, stall_seconds=1.0), "timeout", 3),
])
def test_retries_then_reports_the_last_reason(faults, reason, requests_seen):
    with FakeSpotlight(faults) as server, \
            SpotlightClient([server.url], retries=2, failures_before_rest=10,
                            **FAST) as client:
        with pytest.raises(LinkError) as err:
            client.annotate("Paris and Berlin")
        assert err.value.reason == reason
        assert len(server.log.texts) == requests_seen


def test_refused_connections_are_a_connection_error():
    with SpotlightClient([unused_url()], retries=2, rest_seconds=0.01, **FAST) as client, \
            pytest.raises(LinkError) as err:
        client.annotate("Paris")
    assert err.value.reason == "connection"


def test_an_outage_of_every_endpoint_stops_the_run_instead_of_failing_every_document():
    from longtail.linking.spotlight.endpoints import EndpointsUnreachable

    texts = ((i, f"Paris {i}") for i in range(1000))
    started = time.monotonic()
    with SpotlightClient([unused_url(), unused_url()], failures_before_rest=1,
                         rest_seconds=0.1, give_up_seconds=1.0, **FAST) as client, \
            pytest.raises(EndpointsUnreachable, match="run the same command again"):
        list(client.annotate_many(texts))
    assert time.monotonic() - started < 30


def test_garbage_is_a_bad_response_without_retries():
    with FakeSpotlight() as server, SpotlightClient([server.url], **FAST) as client:
        [result] = client.annotate_many([("k", "Paris GARBAGEME")])
    assert result.error.reason == "bad_response" and result.key == "k"
    assert len(server.log.texts) == 1


# ------------------------------------------------------------------ the Linker surface


def test_empty_text_makes_no_request_and_no_resources_gives_nothing():
    with FakeSpotlight() as server, SpotlightClient([server.url], **FAST) as client:
        assert client.annotate("") == [] and client.annotate(" \n\t ") == []
        assert server.log.texts == []
        assert client.annotate("no entities in here") == []
        assert server.log.statuses == {200: 1}


@pytest.mark.parametrize("suffix", ["", "/", "/rest", "/rest/", "/rest/annotate"])
def test_endpoint_url_forms(suffix):
    with FakeSpotlight() as server:
        base = server.url.removesuffix("/rest")
        with SpotlightClient([base + suffix], **FAST) as client:
            assert client.endpoints == [server.url]
            assert len(client.annotate("Paris")) == 1


@pytest.mark.parametrize("kwargs", [
    {"endpoints": []}, {"endpoints": ["ftp://host/rest"]}, {"endpoints": ["not a url"]},
    {"endpoints": ["http://h:2222"], "confidence": 1.5},
    {"endpoints": ["http://h:2222"], "support": -1},
    {"endpoints": ["http://h:2222"], "max_in_flight": 0},
    {"endpoints": ["http://h:2222"], "policy": "greylist"},
])
def test_wrong_usage(kwargs):
    with pytest.raises(UsageError):
        SpotlightClient(**kwargs)


def test_follows_the_linker_protocol_and_sends_the_filters():
    with FakeSpotlight() as server, SpotlightClient([server.url], confidence=0.4, support=20,
                                                    **FAST) as client:
        assert isinstance(client, Linker)
        raw = requests.post(server.url + "/annotate", timeout=5, data={
            "text": "Paris", "confidence": "0.4", "support": "20"}).json()
    assert (raw["@confidence"], raw["@support"]) == ("0.4", "20")


def test_annotate_many_reads_ahead_a_bounded_window():
    pulled = 0

    def endless():
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield i, f"Document {i} mentions Paris."

    with FakeSpotlight() as server, SpotlightClient([server.url], max_in_flight=2,
                                                    **FAST) as client:
        results = client.annotate_many(endless())
        first = [next(results) for _ in range(10)]
        results.close()
    assert [r.key for r in first] == list(range(10))
    assert all(len(r.annotations) == 1 for r in first)
    assert pulled < 100
