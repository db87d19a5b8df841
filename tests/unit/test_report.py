"""`longtail report` on the bundled sample: the page in a real headless browser (Debian's
chromium driven by Playwright, every request but the page's own refused and recorded), its
explorer, and `coverage(out)` against the tables read here directly."""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from longtail.errors import UsageError
from longtail.jobs.cli import build_parser
from longtail.report import coverage
from longtail.report.explorer import choose_questions
from longtail.sample import SAMPLE_QA
from tests.sample_outputs import sample_outputs

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lm_eval"


def run(argv: list[str]) -> int:
    """A `longtail` command, in this process."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


def rows(out, table: str) -> list[dict]:
    files = sorted(glob.glob(os.path.join(out.location, table, "*.parquet")))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def outs():
    return sample_outputs()


@pytest.fixture(scope="module")
def page(outs, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    [nq_samples] = FIXTURES.glob("samples_longtail_sample_nq_open_*.jsonl")
    assert run(["report", outs.strict.location, "--predictions", str(nq_samples),
                "--labels", "dummy", "--html", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's chromium "
                    "(apt-get install chromium) to run the report's browser test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                   "(pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield instance
        instance.close()


def open_offline(browser, path: Path):
    """The page with every request but its own file refused; returns (page, requests)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    def handle(route):
        requests.append(route.request.url)
        if route.request.url == path.as_uri():
            route.continue_()
        else:
            route.abort()

    page.route("**/*", handle)
    page.goto(path.as_uri())
    page.wait_for_selector("#explorer-status[data-ready=true]", timeout=20_000)
    return page, requests, errors


def test_the_page_renders_offline_and_its_explorer_finds_a_question(outs, page, browser):
    view, requests, errors = open_offline(browser, page)
    text = view.inner_text("body")
    for heading in ("The run", "Linking coverage", "Failures by reason",
                    "Relevant documents per question", "Accuracy by relevant documents",
                    "Most frequent entities", "Question explorer"):
        assert heading in text
    documents = rows(outs.strict, "docs")
    assert "documents in the corpus\t314" in text  # 313 read and one unreadable line
    assert f"read (linked or empty)\t{len(documents)}" in text
    assert "invalid_json" in text
    assert "http://dbpedia.org/resource/Paris" in view.inner_text("#entities")
    images = view.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(images) == 2 and all(w > 300 for w in images)  # counts and accuracy plots

    counted = {r["question"]: r for r in rows(outs.strict, "relevant_docs")}
    question = "In which city is the Eiffel Tower?"
    assert counted[question]["relevant_docs"] > 0
    view.fill("#search", "eiffel tower?")
    card = view.locator(".card", has_text=question)
    card.wait_for(timeout=5_000)
    n = counted[question]["relevant_docs"]
    assert card.locator(".count").inner_text() == f"{n} relevant documents"
    assert "Paris" in card.inner_text() and "Eiffel Tower" in card.inner_text()
    assert card.locator("mark.q").count() > 0 and card.locator("mark.a").count() > 0
    assert view.inner_text("#explorer-status") == "1 question matches"
    view.fill("#search", "Jesus")  # a question without a count shows its status
    no_entity = view.locator(".card").first
    status = counted[no_entity.locator(".question").inner_text()]["status"]
    assert no_entity.locator(".count").inner_text() == status
    assert errors == []
    assert requests == [page.as_uri()]  # nothing but the file itself was asked for


def test_the_request_recorder_sees_a_request_a_page_makes(browser, tmp_path):
    """The control for the test above: a page that asks for something is caught."""
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><p>x</p><img src="http://192.0.2.1/x.png">'
                       '<p id="explorer-status" data-ready="true">ready</p>')
    view, requests, _ = open_offline(browser, control)
    view.wait_for_timeout(200)
    assert requests == [control.as_uri(), "http://192.0.2.1/x.png"]


def test_coverage_counts_what_the_tables_hold(outs):
    cov = coverage(outs.strict)
    documents = rows(outs.strict, "docs")
    failures = rows(outs.strict, "failures")
    with_entity = sum(1 for d in documents if d["n_mentions"] > 0)
    mentions = sum(d["n_mentions"] for d in documents)
    docs = cov["documents"]
    assert docs["documents_read"] == len(documents) == 313
    assert docs["failed"] == sum(1 for f in failures if f["stage"] in ("read", "link")) == 1
    assert docs["with_entity"] == with_entity
    assert docs["with_entity_share"] == pytest.approx(with_entity / len(documents))
    assert docs["mentions"] == mentions == len(rows(outs.strict, "mentions"))
    assert docs["mentions_per_document"] == pytest.approx(mentions / len(documents))
    statuses: dict[str, int] = {}
    for r in rows(outs.strict, "relevant_docs"):
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    qa = cov["qa"]
    assert qa["questions"] == len(SAMPLE_QA.read_text().splitlines()) == 66
    assert qa["status"] == statuses
    assert qa["without_count"] == {k: v for k, v in statuses.items()
                                   if k not in ("counted", "zero")}
    assert cov["unavailable"] == {}


def test_coverage_names_what_it_cannot_read(outs, tmp_path):
    copy = tmp_path / "out"
    shutil.copytree(outs.strict.location, copy)
    for path in (copy / "relevant_docs").glob("*.parquet"):
        path.unlink()
    cov = coverage(str(copy))
    assert "relevant_docs" in cov["unavailable"] and "status" not in cov["qa"]
    assert cov["documents"]["documents_read"] == 313


def test_documents_are_embedded_for_a_bounded_number_of_questions(outs, tmp_path, capsys):
    path = tmp_path / "small.html"
    assert run(["report", outs.strict.location, "--html", str(path), "--doc-questions",
                "4"]) == 0
    assert "documents for 4)" in capsys.readouterr().out
    full = tmp_path / "full.html"
    assert run(["report", outs.strict.location, "--html", str(full)]) == 0
    assert path.stat().st_size < full.stat().st_size
    import pyarrow as pa

    table = pa.Table.from_pylist(sorted(rows(outs.strict, "relevant_docs"),
                                        key=lambda r: (r["source"], r["row"])))
    chosen = choose_questions(table, 4)
    counts = [table["relevant_docs"][i].as_py() for i in chosen]
    assert len(chosen) == 4 and all(c >= 1 for c in counts)
    assert len({len(str(c)) for c in counts}) >= 2  # drawn from more than one bin
    assert choose_questions(table, 4) == chosen  # seeded


def test_wrong_usage_is_one_line(outs, tmp_path):
    with pytest.raises(UsageError, match="must end in .html"):
        run(["report", outs.strict.location, "--html", str(tmp_path / "r.txt")])
    with pytest.raises(UsageError, match="output folder not found"):
        run(["report", str(tmp_path / "nowhere"), "--html", str(tmp_path / "r.html")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="holds no finished stage"):
        run(["report", str(empty), "--html", str(tmp_path / "r.html")])


def test_the_explorer_data_is_compressed_json(outs, page):
    import base64
    import gzip
    import re

    encoded = re.search(r'id="explorer-data">([^<]+)<', page.read_text()).group(1)
    data = json.loads(gzip.decompress(base64.b64decode(encoded)))
    assert len(data["q"]) == 66 and data["doc_questions"] == sum(
        1 for r in rows(outs.strict, "relevant_docs") if r["relevant_docs"])
