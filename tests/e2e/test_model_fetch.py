"""`longtail model fetch` end to end, through the real command, against a real HTTP server on
127.0.0.1 that serves the real May-2021 English wikistats heads (../shared/data) bzip2-compressed
in DBpedia's download layout, answers the Databus's SPARQL query, and fails on purpose."""

from __future__ import annotations

import bz2
import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from longtail.linking.statistical import StatisticalLinker, Tokenizer, default_stop_words
from longtail.linking.statistical.fetch import ARTIFACT, NAMES, file_name
from longtail.linking.statistical.wikistats import (
    TOKEN_COUNTS,
    read_pair_counts,
    write_token_counts,
)
from longtail.sample import SAMPLE_CORPUS
from tests.conftest import shared_path
from tests.e2e.conftest import LONGTAIL
from tests.servers.http_files import HttpFileServer

pytestmark = pytest.mark.slow

RELEASE = "2021.05.01"
OLD_RELEASE = "2020.10.01"
TOKEN_PATH = f"/{RELEASE}/{file_name(TOKEN_COUNTS, 'en')}"


def fetch(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*LONGTAIL, "model", "fetch", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ})


def sample_texts() -> list[str]:
    """The sample corpus's texts (it holds a few broken lines on purpose: skipped)."""
    texts = []
    for line in SAMPLE_CORPUS.read_text("utf-8").splitlines():
        try:
            text = json.loads(line).get("text")
        except (ValueError, AttributeError):
            continue
        if isinstance(text, str):
            texts.append(text)
    return texts


def context_vectors(folder: Path) -> list[tuple[str, list[tuple[str, int]]]]:
    """A tokenCounts in Spotlight's context-vector format for the heads' entities: the stemmed
    words of the sample documents that mention each entity's most linked surface form."""
    tokenizer = Tokenizer(default_stop_words())
    texts = sample_texts()
    surface: dict[str, str] = {}
    for sf, uri, _ in read_pair_counts(folder / "pairCounts"):
        surface.setdefault(uri, sf)
    rows = []
    for uri, sf in sorted(surface.items()):
        counts: Counter[str] = Counter()
        for text in texts:
            if sf in text:
                counts.update(tokenizer.count_context_stems(text))
        if not counts:
            counts.update(tokenizer.count_context_stems(sf.replace("_", " ")))
        rows.append((uri, [(token, n + 3) for token, n in counts.most_common(400)
                           if "(" not in token and ")" not in token and "," not in token]))
    return rows


@pytest.fixture(scope="module")
def wikistats(tmp_path_factory):
    """The four files, plain: the heads' uriCounts, pairCounts, sfAndTotalCounts and a
    tokenCounts with real context vectors."""
    heads = shared_path("wikistats-2021-top50")
    folder = tmp_path_factory.mktemp("wikistats")
    for name in NAMES[:3]:
        shutil.copy(heads / name, folder / name)
    assert write_token_counts(folder / TOKEN_COUNTS, context_vectors(heads)) >= 40
    return folder


@pytest.fixture(scope="module")
def dbpedia(wikistats, tmp_path_factory):
    """A DBpedia-like download server and Databus: RELEASE complete, OLD_RELEASE partial."""
    root = tmp_path_factory.mktemp("dbpedia")
    checksums = {}
    for release, names in ((RELEASE, NAMES), (OLD_RELEASE, NAMES[:2])):
        (root / release).mkdir()
        for name in names:
            data = bz2.compress((wikistats / name).read_bytes())
            (root / release / file_name(name, "en")).write_bytes(data)
            checksums[release, name] = hashlib.sha256(data).hexdigest()
    assert (root / RELEASE / file_name(TOKEN_COUNTS, "en")).stat().st_size > 2_000
    with HttpFileServer(root) as server:
        server.checksums = checksums
        yield server


def databus_answer(server: HttpFileServer, size_scale: int = 1) -> str:
    bindings = []
    for (release, name), sha in server.checksums.items():
        path = server.root / release / file_name(name, "en")
        bindings.append({
            "version": {"type": "literal", "value": release},
            "type": {"type": "literal", "value": name},
            "url": {"type": "uri", "value": f"{server.url}/{release}/{path.name}"},
            "sha256": {"type": "literal", "value": sha},
            "size": {"type": "literal", "value": str(path.stat().st_size * size_scale)}})
    return json.dumps({"head": {"vars": ["version", "type", "url", "sha256", "size"]},
                       "results": {"bindings": bindings}})


def one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-3000:]
    assert lines and lines[-1].startswith("longtail: error: "), lines
    assert "Traceback" not in result.stderr
    return lines[-1]


def annotations(model: Path) -> list[list[tuple]]:
    linker = StatisticalLinker.load(model, confidence=0.4, support=0)
    return [[(a.uri, a.offset, a.surface_form, round(a.similarity, 9))
             for a in linker.annotate(text)] for text in sample_texts()]


def test_an_interrupted_fetch_resumes_and_links_as_the_import_of_the_same_files(
        dbpedia, wikistats, tmp_path):
    dbpedia.reset()
    dbpedia.answer("/sparql", databus_answer(dbpedia), "application/sparql-results+json")
    cut = (dbpedia.root / TOKEN_PATH.lstrip("/")).stat().st_size // 2
    dbpedia.fault(TOKEN_PATH, cut_after=cut, times=1, method="GET")
    dbpedia.fault(TOKEN_PATH, status=503, times=5, method="GET")
    keep, model = tmp_path / "wikistats", tmp_path / "model"
    args = ["--lang", "en", "--out", str(model), "--databus", f"{dbpedia.url}/sparql",
            "--keep-wikistats", str(keep)]
    first = fetch(*args)
    line = one_line_error(first)
    assert f"the download of tokenCounts stopped at byte {cut:,} of" in line
    assert "run the same command again to resume it" in line
    assert (keep / "tokenCounts.tsv.bz2.part").stat().st_size == cut
    assert sorted(p.name for p in keep.glob("*.tsv.bz2")) == [
        "pairCounts.tsv.bz2", "sfAndTotalCounts.tsv.bz2", "uriCounts.tsv.bz2"]
    query = dbpedia.posted()[0][1]
    assert ARTIFACT.replace(":", "%3A").replace("/", "%2F") in query  # form-encoded

    second = fetch(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"tokenCounts: resuming at byte {cut:,}" in second.stderr
    assert "(4 of 4 sha256 checked)" in second.stderr
    assert "needs about" in second.stderr and "of memory for the import" in second.stderr
    token_gets = [r for r in dbpedia.requests() if r[0] == "GET" and r[1] == TOKEN_PATH]
    assert token_gets[-1][2] == f"bytes={cut}-"
    assert f"release   {RELEASE}" in second.stdout or RELEASE in second.stdout
    assert (keep / "tokenCounts.tsv.bz2").read_bytes() == bz2.compress(
        (wikistats / TOKEN_COUNTS).read_bytes())

    imported = tmp_path / "imported"
    result = subprocess.run([*LONGTAIL, "model", "import", "--wikistats", str(wikistats),
                             "--out", str(imported)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    fetched, direct = annotations(model), annotations(imported)
    assert fetched == direct
    assert sum(map(len, fetched)) >= 20  # the model links the sample: a real comparison


def test_a_checksum_mismatch_is_refused_in_one_line_and_the_file_deleted(dbpedia, tmp_path):
    dbpedia.reset()
    sums = dbpedia.root / RELEASE / "SHA256SUMS"
    pair = file_name("pairCounts", "en")
    sums.write_text(f"{dbpedia.checksums[RELEASE, 'uriCounts']}  "
                    f"{file_name('uriCounts', 'en')}\n{'0' * 64} *{pair}\n", encoding="utf-8")
    try:
        keep = tmp_path / "keep"
        result = fetch("--release", RELEASE, "--base-url", dbpedia.url, "--out",
                       str(tmp_path / "model"), "--keep-wikistats", str(keep))
    finally:
        sums.unlink()
    line = one_line_error(result)
    assert f"pairCounts: sha256 {dbpedia.checksums[RELEASE, 'pairCounts']} is not the " \
           f"{'0' * 64} that SHA256SUMS lists" in line
    assert "no sha256 to check sfAndTotalCounts, tokenCounts" in result.stderr
    assert not list(keep.glob("pairCounts*"))
    assert (keep / "uriCounts.tsv.bz2").is_file()
    missing = fetch("--release", OLD_RELEASE, "--base-url", dbpedia.url, "--out",
                    str(tmp_path / "model"))
    assert "sfAndTotalCounts_lang=en.tsv.bz2: HTTP 404 Not Found" in one_line_error(missing)


def test_a_mirror_without_checksums_says_so_and_a_flag_checksum_is_checked(dbpedia, tmp_path):
    dbpedia.reset()
    result = fetch("--release", RELEASE, "--base-url", dbpedia.url + "/", "--out",
                   str(tmp_path / "model"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no sha256 to check uriCounts, pairCounts, sfAndTotalCounts, tokenCounts" in \
        result.stderr
    assert not list(tmp_path.glob(".model.wikistats-*"))  # downloads removed after the import
    wrong = fetch("--release", RELEASE, "--base-url", dbpedia.url, "--out",
                  str(tmp_path / "other"), "--sha256", f"tokenCounts={'a' * 64}")
    assert f"that --sha256 lists for {dbpedia.url}{TOKEN_PATH}" in one_line_error(wrong)


def test_not_enough_disk_is_refused_before_anything_is_downloaded(dbpedia, tmp_path):
    dbpedia.reset()
    dbpedia.answer("/sparql", databus_answer(dbpedia, size_scale=10**12),
                   "application/sparql-results+json")
    result = fetch("--out", str(tmp_path / "model"), "--databus", f"{dbpedia.url}/sparql")
    assert "not enough free disk" in one_line_error(result)
    assert not [r for r in dbpedia.requests() if r[0] == "GET"]


@pytest.mark.parametrize(("args", "said"), [
    (["--base-url", "http://127.0.0.1:9/x"], "--base-url needs --release"),
    (["--release", "latest"], "--release takes a Databus version"),
    (["--lang", "English"], "--lang takes a Wikipedia language code"),
    (["--release", RELEASE, "--base-url", "http://127.0.0.1:9", "--sha256", "x"],
     "--sha256 takes NAME=HEX"),
    (["--databus", "http://127.0.0.1:9/sparql"], "cannot ask the DBpedia Databus"),
])
def test_wrong_usage_is_one_line(args, said, tmp_path):
    assert said in one_line_error(fetch(*args, "--out", str(tmp_path / "m"), timeout=120))
