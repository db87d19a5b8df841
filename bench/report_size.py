"""Size and time of `longtail report` on a synthetic output folder of 100,000 questions.

    .venv/bin/python bench/report_size.py [--questions 100000] [--docs 200000]
                                          [--entities 20000] [--seed 0] [--workdir DIR]
                                          [--reuse]

Writes, reproducibly from the seed, a corpus (JSON Lines of random words with entity names
at known offsets, 3-5 entities per document drawn from a Zipf law) and the tables of a
finished run over it (link, index, qa and count, committed by the stage runner), with counts
computed from the documents. Then it writes the report three ways (no documents, the default
2,000 questions with documents, 10,000) and prints the page size, the explorer's compressed
data and the seconds each took. Files go to bench/out/report/ (git-ignored) by default.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.linking.annotation import entity_id  # noqa: E402
from longtail.output.folder import OutputFolder  # noqa: E402
from longtail.output.runner import commit_stage  # noqa: E402
from longtail.qa.relevant import QAEntityLists, relevant_docs_table  # noqa: E402
from longtail.report.page import write_report  # noqa: E402
from longtail.schemas.tables import (  # noqa: E402
    DOC_ENTITIES,
    DOCS,
    ENTITIES,
    ENTITY_URIS,
    MENTIONS,
    QA_ENTITIES,
    QA_QUESTIONS,
)

R = "http://dbpedia.org/resource/"
WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "by",
         "on", "this", "are", "from", "at", "which", "but", "have", "they", "were", "there",
         "one", "all", "their", "been", "would", "when", "who", "will", "more", "said", "about",
         "into", "only", "other", "new", "some", "could", "time", "these", "two", "first",
         "people", "years", "where", "river", "city", "team", "song", "book", "film", "king"]


def build(workdir: Path, questions: int, docs: int, entities: int, seed: int) -> OutputFolder:
    rng = np.random.default_rng(seed)
    names = [f"Entity_{i:05d}" for i in range(entities)]
    ids = np.array([entity_id(R + n) for n in names], dtype=np.int64)
    weights = 1.0 / np.arange(1, entities + 1) ** 1.1
    weights /= weights.sum()
    corpus = workdir / "corpus.jsonl"
    doc_ents: list[np.ndarray] = []
    cols: dict[str, list] = {n: [] for n in MENTIONS.names}
    n_chars, n_mentions = [], []
    with corpus.open("w", encoding="utf-8") as handle:
        for d in range(docs):
            chosen = np.unique(rng.choice(entities, rng.integers(3, 6), p=weights))
            doc_ents.append(chosen)
            parts, offset = [], 0
            for e in chosen:
                filler = " ".join(rng.choice(WORDS, rng.integers(8, 20))) + " "
                parts.append(filler)
                offset += len(filler)
                name = names[e].replace("_", " ")
                for col, value in zip(MENTIONS.names, (d, int(ids[e]), name, offset, 0.9, 0.0),
                                      strict=True):
                    cols[col].append(value)
                parts.append(name + " ")
                offset += len(name) + 1
            text = "".join(parts) + " ".join(rng.choice(WORDS, 10)) + "."
            n_chars.append(len(text))
            n_mentions.append(len(chosen))
            handle.write(json.dumps({"text": text}) + "\n")
    out = OutputFolder(str(workdir / "out"))
    uris = pa.table({"entity_id": ids, "uri": [R + n for n in names],
                     "support": [100] * entities, "types": [[]] * entities}, schema=ENTITY_URIS)
    commit_stage(out, "link", {
        "docs": pa.table({"doc_id": np.arange(docs), "source": [str(corpus)] * docs,
                          "row": np.arange(docs), "external_id": pa.nulls(docs, pa.string()),
                          "n_chars": n_chars, "n_mentions": n_mentions,
                          "status": ["linked"] * docs}, schema=DOCS),
        "mentions": pa.table(cols, schema=MENTIONS), "entity_uris": uris,
    }, inputs={"corpus": [str(corpus)]},
        parameters={"corpus_format": None, "text_field": "text", "id_field": None})
    docs_of: dict[int, list[int]] = defaultdict(list)
    for d, chosen in enumerate(doc_ents):
        for e in chosen:
            docs_of[int(e)].append(d)
    de_doc = np.concatenate([np.full(len(c), d) for d, c in enumerate(doc_ents)])
    de_ent = ids[np.concatenate(doc_ents)]
    doc_counts = {int(ids[e]): len(v) for e, v in docs_of.items()}
    present = sorted(docs_of)
    commit_stage(out, "index", {
        "doc_entities": pa.table({"doc_id": de_doc, "entity_id": de_ent,
                                  "mentions": np.ones(len(de_doc), np.int32)},
                                 schema=DOC_ENTITIES),
        "entities": pa.table({"entity_id": ids[present], "uri": [R + names[e] for e in present],
                              "support": [100] * len(present), "types": [[]] * len(present),
                              "doc_count": [len(docs_of[e]) for e in present],
                              "mention_count": [len(docs_of[e]) for e in present]},
                             schema=ENTITIES)}, reads=["docs"])
    q_cols: dict[str, list] = {n: [] for n in QA_QUESTIONS.names}
    e_cols: dict[str, list] = {n: [] for n in QA_ENTITIES.names}
    for row in range(questions):
        if rng.random() < 0.7:  # a pair from one document: counted
            q, a = rng.choice(doc_ents[rng.integers(docs)], 2, replace=True)
        else:
            q, a = rng.integers(entities), rng.integers(entities)
        question = f"Which {' '.join(rng.choice(WORDS, 5))} {names[q].replace('_', ' ')}?"
        answers = [names[a].replace("_", " "), f"{names[a]} alias"]
        for col, value in zip(QA_QUESTIONS.names, (f"q{row}", row, "qa.jsonl", question, answers,
                                                   True), strict=True):
            q_cols[col].append(value)
        for role, e, offset in (("question", q, 6), ("answer", a, len(question) + 1)):
            for col, value in zip(QA_ENTITIES.names, (f"q{row}", row, "qa.jsonl", role,
                                                      int(ids[e]), names[e], offset, 0.9, 0.0),
                                  strict=True):
                e_cols[col].append(value)
    qa_questions = pa.table(q_cols, schema=QA_QUESTIONS)
    qa_entities = pa.table(e_cols, schema=QA_ENTITIES)
    commit_stage(out, "qa", {"qa_questions": qa_questions, "qa_entities": qa_entities,
                             "entity_uris": uris})
    lists = QAEntityLists.from_tables(qa_questions, qa_entities)
    sets = {int(ids[e]): set(v) for e, v in docs_of.items()}
    pair_docs = {(q, a): len(sets.get(q, set()) & sets.get(a, set()))
                 for q, a in lists.needed_pairs()}
    table = relevant_docs_table(lists, {k: n for k, n in pair_docs.items() if n}, doc_counts,
                                {int(i): R + n for i, n in zip(ids, names, strict=True)})
    commit_stage(out, "count", {"relevant_docs": table},
                 reads=["doc_entities", "entities", "qa_questions", "qa_entities"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "report"))
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the folder an earlier run built with the same arguments")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    started = time.perf_counter()
    if args.reuse and (workdir / "out" / "manifest.json").exists():
        out = OutputFolder(str(workdir / "out"))
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        out = build(workdir, args.questions, args.docs, args.entities, args.seed)
    print(f"synthetic folder: {args.questions:,} questions, {args.docs:,} documents, "
          f"{args.entities:,} entities ({time.perf_counter() - started:.1f} s to build)")
    print(f"{'documents for':>14} {'page bytes':>12} {'explorer bytes':>15} {'seconds':>8}")
    for doc_questions in (0, 2_000, 10_000):
        started = time.perf_counter()
        written = write_report(out, workdir / f"report-{doc_questions}.html",
                               doc_questions=doc_questions)
        seconds = time.perf_counter() - started
        print(f"{written.doc_questions:>14,} {written.bytes:>12,} {written.explorer_bytes:>15,} "
              f"{seconds:>8.1f}")
    browser_timing(workdir / "report-2000.html")


def browser_timing(page: Path) -> None:
    """Seconds from opening the page to a usable explorer, and one search, in chromium."""
    if not Path("/usr/bin/chromium").exists():
        print("no /usr/bin/chromium: browser timing skipped")
        return
    from playwright.sync_api import sync_playwright

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        view = browser.new_page()
        view.route("**/*", lambda r: r.continue_() if r.request.url == page.as_uri()
                   else r.abort())
        started = time.perf_counter()
        view.goto(page.as_uri())
        view.wait_for_selector("#explorer-status[data-ready=true]", timeout=120_000)
        ready = time.perf_counter() - started
        started = time.perf_counter()
        view.fill("#search", "entity 00042")
        view.wait_for_function("document.getElementById('explorer-status').textContent"
                               ".includes('match')")
        searched = time.perf_counter() - started
        status = view.inner_text("#explorer-status")
        browser.close()
    print(f"chromium: explorer ready {ready:.1f} s after opening {page.name}; a search: "
          f"{1000 * searched:.0f} ms ({status})")


if __name__ == "__main__":
    main()
