"""Benchmark of the count stage against the paper's method, on a synthetic corpus index.

    .venv/bin/python bench/count.py [--docs 1000000] [--questions 100000] [--entities N]
                                    [--master local[2]] [--conf KEY=VALUE ...] [--workdir DIR]
                                    [--seed S] [--duckdb-runs 5]

Writes, reproducibly from the seed, the tables the count stage reads: `doc_entities` and
`entity_uris` for a corpus whose entities follow a Zipf-Mandelbrot law (5-30 entity draws per
document, repeats merged into `mentions`), and `qa_questions` + `qa_entities` for synthetic QA
pairs (1-3 question entities, 1-4 answer mentions) whose pairs co-occur often, rarely or never.
Then, on the same data, it times:
  1. `run_count` on a local Spark session (session start-up timed apart);
  2. the method of Kandpal et al.'s count_relevant_docs.py: an entity -> sorted document-array
     map (`np.sort(np.unique(...))` per entity), then per question a loop over salient answers x
     question entities intersecting sorted arrays, keeping the maximum. Their two-pointer numba
     intersection is replaced by `np.intersect1d(a, b, assume_unique=True)`; the map is keyed
     by entity id instead of URI;
  3. one entity-pair count through DuckDB over the written Parquet tables.
It checks that both methods give the same relevant_docs for every question.
Files go to bench/out/count/ (git-ignored) unless --workdir says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.analysis.tables import read_table  # noqa: E402
from longtail.corpus.ids import ROW_BITS  # noqa: E402
from longtail.indexes.postings import ROW_GROUP_ROWS, in_files, postings  # noqa: E402
from longtail.linking.annotation import entity_id  # noqa: E402
from longtail.output.folder import OutputFolder  # noqa: E402
from longtail.output.runner import commit_stage  # noqa: E402
from longtail.schemas.tables import QA_ENTITIES, QA_QUESTIONS  # noqa: E402

QA_SOURCE = "synthetic"
DOCS_PER_PART = 125_000
QUESTIONS_PER_PART = 25_000
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 10.0  # the most frequent entity is in about 14% of documents
TYPES = ([], ["DBpedia:Person"], ["DBpedia:Place", "Schema:Place"], ["DBpedia:Organisation"],
         [], ["DBpedia:Work"])
# QA kinds and their shares; "planted" takes both sides from one document, so they co-occur.
QA_KINDS = {"planted": 0.60, "independent": 0.26, "unseen answer": 0.08,
            "answer is question": 0.02, "no question entity": 0.02, "linking failed": 0.02}
PAIR_SQL = ("SELECT count(*) FROM doc_entities a JOIN doc_entities b USING (doc_id) "
            "WHERE a.entity_id = ? AND b.entity_id = ?")


def zipf_weights(n: int, exponent: float = ZIPF_EXPONENT, offset: float = ZIPF_OFFSET
                 ) -> np.ndarray:
    weights = 1.0 / (np.arange(1, n + 1) + offset) ** exponent
    return weights / weights.sum()


def entity_uri(rank: int, n_seen: int) -> str:
    if rank < n_seen:
        return f"http://dbpedia.org/resource/Synthetic_entity_{rank}"
    return f"http://dbpedia.org/resource/Synthetic_unseen_{rank - n_seen}"


def surface_form(rank: int, n_seen: int) -> str:
    return f"Entity {rank}" if rank < n_seen else f"Unseen {rank - n_seen}"


def corpus_index(n_docs: int, n_entities: int, seed: int
                 ) -> tuple[list[pa.Table], np.ndarray, np.ndarray, np.ndarray]:
    """doc_entities in parts of DOCS_PER_PART documents (part i = input file i).

    Returns the parts, the entity ids by popularity rank, and each document's entity ranks as
    CSR arrays (offsets, ranks) for the QA generator.
    """
    parts = []
    ids = np.array([entity_id(entity_uri(r, n_entities)) for r in range(n_entities)],
                   dtype=np.int64)
    weights = zipf_weights(n_entities)
    offsets, ranks = [np.zeros(1, dtype=np.int64)], []
    for part, start in enumerate(range(0, n_docs, DOCS_PER_PART)):
        rng = np.random.default_rng([seed, 0, part])
        n = min(DOCS_PER_PART, n_docs - start)
        draws = rng.integers(5, 31, size=n)
        doc = np.repeat(np.arange(n, dtype=np.int64), draws)
        drawn = rng.choice(n_entities, size=len(doc), p=weights)
        key, inverse = np.unique(doc * n_entities + drawn, return_inverse=True)
        mentions = np.bincount(inverse, weights=rng.geometric(0.55, size=len(doc)))
        row, rank = key // n_entities, key % n_entities
        parts.append(pa.table({
            "doc_id": (part << ROW_BITS) | row,
            "entity_id": ids[rank],
            "mentions": mentions.astype(np.int32),
        }))
        offsets.append(offsets[-1][-1] + np.cumsum(np.bincount(row, minlength=n)))
        ranks.append(rank.astype(np.int32))
    return parts, ids, np.concatenate(offsets), np.concatenate(ranks)


def entity_uris(ids: np.ndarray, n_seen: int, seed: int) -> pa.Table:
    rng = np.random.default_rng([seed, 2])
    support = (zipf_weights(len(ids)) * 5e7).astype(np.int64) + rng.integers(21, 60, len(ids))
    types = rng.integers(0, len(TYPES), size=len(ids))
    return pa.table({
        "entity_id": ids, "uri": [entity_uri(r, n_seen) for r in range(len(ids))],
        "support": support, "types": [TYPES[t] for t in types.tolist()]})


def entities_table(uris: pa.Table, ids: np.ndarray, doc_freq: np.ndarray) -> pa.Table:
    """The index stage's `entities` table: URIs from entity_uris, document counts."""
    order = np.argsort(uris["entity_id"].to_numpy())
    at = order[np.searchsorted(uris["entity_id"].to_numpy(), ids, sorter=order)]
    return pa.table({
        "entity_id": ids, "uri": uris["uri"].take(at), "support": uris["support"].take(at),
        "types": uris["types"].take(at), "doc_count": doc_freq, "mention_count": doc_freq})


class _QADrawer:
    """Draws one QA pair's question entities and answer mentions (entity ranks)."""

    def __init__(self, seed: int, n_entities: int, n_unseen: int,
                 doc_offsets: np.ndarray, doc_ranks: np.ndarray, pool: int):
        self.rnd = random.Random(seed)
        self.n_entities, self.n_unseen = n_entities, n_unseen
        self.doc_offsets, self.doc_ranks = doc_offsets, doc_ranks
        zipf = np.random.default_rng([seed, 3]).choice(n_entities, size=pool,
                                                       p=zipf_weights(n_entities))
        self.zipf = iter(zipf.tolist())

    def popular(self) -> int:
        return next(self.zipf)

    def unseen(self) -> int:
        return self.n_entities + self.rnd.randrange(self.n_unseen)

    def draw(self, kind: str) -> tuple[list[int], list[int]]:
        rnd = self.rnd
        k = rnd.randint(1, 3)
        if kind == "planted":
            d = rnd.randrange(len(self.doc_offsets) - 1)
            in_doc = self.doc_ranks[self.doc_offsets[d]:self.doc_offsets[d + 1]].tolist()
            answer = rnd.choice(in_doc)
            others = [e for e in in_doc if e != answer]
            questions = rnd.sample(others, min(k, len(others))) or [self.popular()]
        elif kind == "no question entity":
            questions, answer = [], self.popular()
        else:
            questions = [self.popular() for _ in range(k)]
            if kind == "unseen answer":
                answer = self.unseen()
            elif kind == "answer is question":
                answer = questions[0]
            else:  # "independent", or text for a pair whose linking failed
                answer = self.popular()
        mentions = [answer]
        for _ in range(rnd.randint(1, 4) - 1):
            r = rnd.random()
            if kind == "answer is question" or (r > 0.85 and questions):
                mentions.append(rnd.choice(questions))
            elif r < 0.5:
                mentions.append(answer)
            else:
                mentions.append(self.unseen() if kind == "unseen answer" else self.popular())
        return questions, mentions


def qa_tables(n_questions: int, ids: np.ndarray, n_seen: int, doc_offsets: np.ndarray,
              doc_ranks: np.ndarray, seed: int
              ) -> tuple[list[pa.Table], list[pa.Table], dict[str, int]]:
    """qa_questions and qa_entities in parts, and how many pairs of each kind."""
    question_parts, entity_parts = [], []
    drawer = _QADrawer(seed, n_seen, len(ids) - n_seen, doc_offsets, doc_ranks,
                       pool=n_questions * 8 + 16)
    rnd = drawer.rnd
    kinds = rnd.choices(list(QA_KINDS), weights=list(QA_KINDS.values()), k=n_questions)
    for start in range(0, n_questions, QUESTIONS_PER_PART):
        questions: dict[str, list] = {n: [] for n in QA_QUESTIONS.names}
        entities: dict[str, list] = {n: [] for n in QA_ENTITIES.names}
        for row in range(start, min(n_questions, start + QUESTIONS_PER_PART)):
            qid, kind = f"synthetic:{row}", kinds[row]
            q_ranks, a_ranks = drawer.draw(kind)
            forms = [surface_form(r, n_seen) for r in q_ranks]
            question = ("What connects " + " and ".join(forms) + "?") if forms else \
                "What is this about?"
            answers = [surface_form(r, n_seen) + (f" ({j})" if j else "")
                       for j, r in enumerate(a_ranks)]
            linked = kind != "linking failed"
            for name, value in zip(QA_QUESTIONS.names,
                                   (qid, row, QA_SOURCE, question, answers, linked),
                                   strict=True):
                questions[name].append(value)
            if not linked:
                continue
            mentions = []
            at = len("What connects ")
            for r, form in zip(q_ranks, forms, strict=True):
                mentions.append(("question", r, at))
                at += len(form) + len(" and ")
            at = len(question) + 1
            for r, alias in zip(a_ranks, answers, strict=True):
                mentions.append(("answer", r, at))
                at += len(alias) + 1
            for role, r, offset in mentions:
                for name, value in zip(QA_ENTITIES.names, (
                        qid, row, QA_SOURCE, role, int(ids[r]), surface_form(r, n_seen),
                        offset,
                        round(0.5 + rnd.random() / 2, 4), round(rnd.random() / 3, 4)),
                        strict=True):
                    entities[name].append(value)
        question_parts.append(pa.table(questions, schema=QA_QUESTIONS))
        entity_parts.append(pa.table(entities, schema=QA_ENTITIES))
    return question_parts, entity_parts, dict(Counter(kinds))


def generate(out_root: str | Path, n_docs: int, n_questions: int, n_entities: int,
             seed: int = 7) -> str:
    """Write the four input tables of the count stage under `out_root` (replacing them).

    Returns a one-line description of what was written.
    """
    out = OutputFolder(str(out_root))
    n_unseen = max(10, n_questions // 10)
    parts, ids, doc_offsets, doc_ranks = corpus_index(n_docs, n_entities, seed)
    all_ids = np.concatenate([ids, np.array(
        [entity_id(entity_uri(n_entities + i, n_entities)) for i in range(n_unseen)],
        dtype=np.int64)])
    uris = entity_uris(all_ids, n_entities, seed)
    questions, entities, kinds = qa_tables(n_questions, all_ids, n_entities, doc_offsets,
                                           doc_ranks, seed)
    doc_freq = np.bincount(doc_ranks, minlength=n_entities)
    # The tables the index and qa stages would have written, committed as those stages.
    # entity_docs and entities in the index stage's layout (by entity; by URI)
    entity_docs = in_files(postings(pa.concat_tables(parts)))
    index = commit_stage(
        out, "index", {"doc_entities": parts, "entity_docs": entity_docs,
                       "entities": entities_table(uris, all_ids, np.concatenate(
                           [doc_freq, np.zeros(n_unseen, np.int64)])).sort_by("uri")},
        row_groups={"entity_docs": ROW_GROUP_ROWS, "entities": ROW_GROUP_ROWS})
    commit_stage(out, "qa", {"qa_questions": questions, "qa_entities": entities,
                             "entity_uris": uris})
    parquet = sum(f.bytes for f in index.files["doc_entities"])
    return (f"{n_docs:,} documents, {len(doc_ranks):,} doc_entities rows "
            f"({parquet / 2**20:,.0f} MiB Parquet), {np.count_nonzero(doc_freq):,} of "
            f"{len(all_ids):,} entities in the corpus, the most frequent in {doc_freq.max():,} "
            f"documents; {n_questions:,} QA pairs, {sum(t.num_rows for t in entities):,} "
            "qa_entities "
            f"rows; kinds: " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items())))


# ---- the paper's method -------------------------------------------------------------------

def load_entity_map(out: OutputFolder) -> dict[int, np.ndarray]:
    """Entity id -> its documents' ids, as the paper's training-entities .npz holds them."""
    table = read_table(out, "doc_entities", columns=["doc_id", "entity_id"])
    docs = table["doc_id"].to_numpy()
    entities = table["entity_id"].to_numpy()
    del table
    order = np.argsort(entities, kind="stable")
    entities, docs = entities[order], docs[order]
    starts = np.flatnonzero(np.r_[True, entities[1:] != entities[:-1]])
    return dict(zip(entities[starts].tolist(), np.split(docs, starts[1:]), strict=True))


def sort_entity_map(entity_map: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """The paper's `sort_entity_map`: every list made unique and sorted."""
    for e in entity_map:
        entity_map[e] = np.sort(np.unique(entity_map[e]))
    return entity_map


def load_qa_lists(out: OutputFolder) -> dict[str, tuple[list[int], list[int]]]:
    """Question id -> (question entities, answer mentions), like the paper's QA jsonl."""
    questions = read_table(out, "qa_questions", columns=["question_id"])
    lists: dict[str, tuple[list[int], list[int]]] = {
        qid: ([], []) for qid in questions["question_id"].to_pylist()}
    entities = read_table(out, "qa_entities", columns=[
        "question_id", "role", "entity_id", "offset"]).sort_by(
        [("question_id", "ascending"), ("offset", "ascending")])
    for qid, role, eid in zip(entities["question_id"].to_pylist(), entities["role"].to_pylist(),
                              entities["entity_id"].to_pylist(), strict=True):
        lists[qid][0 if role == "question" else 1].append(eid)
    return lists


def paper_co_occurrence(entity_map: dict[int, np.ndarray], q_list: list[int],
                        a_list: list[int]) -> int:
    """The paper's `qa_co_occurrence` count for one QA pair."""
    q_entities = set(q_list)
    a_entity_list = [a for a in a_list if a not in q_entities]
    a_entity_counts = {a: a_entity_list.count(a) for a in set(a_entity_list)}
    if not a_entity_counts:
        return 0
    max_count = max(a_entity_counts.values())
    best = 0
    for a in (a for a, n in a_entity_counts.items() if n == max_count):
        a_examples = entity_map.get(a)
        for q in q_entities:
            q_examples = entity_map.get(q)
            if q_examples is None or a_examples is None:
                continue
            best = max(best, len(np.intersect1d(a_examples, q_examples, assume_unique=True)))
    return best


def paper_occurrences(entity_map: dict[int, np.ndarray], q_list: list[int],
                      a_list: list[int]) -> tuple[int, int]:
    """The paper's `q_occurrence` and `a_occurrence` counts for one QA pair."""
    q_entities = set(q_list)
    a_entities = {a for a in a_list if a not in q_entities}
    return tuple(max((len(entity_map[e]) for e in entities if e in entity_map), default=0)
                 for entities in (q_entities, a_entities))


def paper_relevant_docs(entity_map: dict[int, np.ndarray],
                        qa: dict[str, tuple[list[int], list[int]]]) -> dict[str, int]:
    return {qid: paper_co_occurrence(entity_map, q, a) for qid, (q, a) in qa.items()}


# ---- measuring ----------------------------------------------------------------------------

@dataclass
class Timed:
    """Wall and CPU seconds of one phase; CPU counts this process plus any `pid` given."""

    wall: float = 0.0
    cpu: float = 0.0


@contextlib.contextmanager
def timed(into: dict[str, Timed], name: str, pid: int | None = None):
    cpu, wall = process_cpu(pid), time.perf_counter()
    yield
    into[name] = Timed(time.perf_counter() - wall, process_cpu(pid) - cpu)


def process_cpu(pid: int | None = None) -> float:
    """CPU seconds of this process, plus those of process `pid` (read from /proc)."""
    seconds = time.process_time()
    if pid is not None:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux only
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss(pid: int | str = "self") -> int:
    """Peak resident bytes of a process since its start or `reset_peak_rss`."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if pid == "self" else 0


def spark_jobs(spark) -> list[tuple[str, float, int]]:
    """(description, seconds, bytes spilled) per job description, from the Spark UI's REST API."""
    sc = spark.sparkContext
    if not sc.uiWebUrl:
        return []
    base = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}"

    def get(path: str) -> list[dict]:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return json.load(response)

    def stamp(text: str) -> float:
        return datetime.strptime(text.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z"
                                 ).timestamp()

    spilled = {s["stageId"]: s.get("diskBytesSpilled", 0) for s in get("/stages")}
    found: dict[str, list[float]] = {}
    for job in get("/jobs"):
        if "completionTime" not in job:
            continue
        entry = found.setdefault(job.get("description", job["name"]), [0.0, 0])
        entry[0] += stamp(job["completionTime"]) - stamp(job["submissionTime"])
        entry[1] += sum(spilled.get(s, 0) for s in job["stageIds"])
    return [(name, seconds, int(spill)) for name, (seconds, spill) in found.items()]


def count_buckets(values: list[int | None]) -> str:
    edges = [(0, 0), (1, 9), (10, 99), (100, 999), (1000, 9999), (10_000, None)]
    present = [v for v in values if v is not None]
    return ", ".join(
        f"{low}{'' if high == low else ('+' if high is None else f'-{high}')}: "
        f"{sum(1 for v in present if v >= low and (high is None or v <= high)):,}"
        for low, high in edges)


def run_ours(out: OutputFolder, master: str, conf: dict[str, str], times: dict[str, Timed]
             ) -> dict:
    """Time `run_count` on a fresh local session; returns its stats with peaks and Spark jobs."""
    from longtail.jobs.session import spark_session
    from longtail.output.context import run_stage
    from longtail.stage_config import CountConfig

    reset_peak_rss()
    with timed(times, "ours: Spark session start-up (excluded)"):
        spark = spark_session("longtail count bench", master, **conf)
    jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    with timed(times, f"ours: run_count on {master} (CPU: driver + JVM)", jvm):
        stats = run_stage("count", CountConfig(), out, spark=spark).stats
    stats.update(jvm_peak=peak_rss(jvm), driver_peak=peak_rss(), load=os.getloadavg()[0],
                 jobs=spark_jobs(spark))
    spark.stop()
    return stats


def run_paper(out: OutputFolder, times: dict[str, Timed]
              ) -> tuple[dict[str, int], dict[str, tuple[int, int]], int]:
    """Time the paper's method; returns its counts, its q/a occurrences and its peak RSS."""
    reset_peak_rss()
    with timed(times, "paper: load entity map (read + group by entity)"):
        entity_map = load_entity_map(out)
    with timed(times, "paper: sort map (np.sort(np.unique) per entity)"):
        entity_map = sort_entity_map(entity_map)
    with timed(times, "paper: read QA entity lists"):
        qa = load_qa_lists(out)
    with timed(times, "paper: counting (np.intersect1d loop)"):
        paper = paper_relevant_docs(entity_map, qa)
    peak = peak_rss()
    occurrences = {qid: paper_occurrences(entity_map, q, a) for qid, (q, a) in qa.items()}
    return paper, occurrences, peak


def time_duckdb(out: OutputFolder, pair: list[int], runs: int) -> tuple[int, float]:
    """The pair count through the output folder's views: (documents, median warm seconds)."""
    from longtail.output.views import connect

    with connect(out) as con:
        con.execute(PAIR_SQL, pair).fetchall()
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            found = con.execute(PAIR_SQL, pair).fetchone()[0]
            seconds.append(time.perf_counter() - started)
    return found, statistics.median(seconds)


def environment() -> str:
    """Library versions and thread settings: what the paper method's time depends on (its
    np.unique, np.sort and np.intersect1d run on one thread whatever BLAS is set to)."""
    import duckdb
    import pyspark

    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                           "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")
               if k in os.environ}
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return (f"python {sys.version.split()[0]}, numpy {np.__version__}, pyarrow {pa.__version__}, "
            f"pyspark {pyspark.__version__}, duckdb {duckdb.__version__}; thread settings: "
            f"{threads or 'none set'}; memory: {memory:.0f} GiB")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=None,
                        help="entity vocabulary of the corpus (default: docs / 2, at least "
                             "1,000 and at most 1,000,000)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Spark setting for the session (repeatable), e.g. "
                             "spark.driver.memory=4g; the default is what the CLI uses")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duckdb-runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "count")
    args = parser.parse_args()
    if bad := [c for c in args.conf if "=" not in c]:
        parser.error(f"--conf wants KEY=VALUE, got {bad[0]!r}")
    args.conf = {"spark.ui.showConsoleProgress": "false",
                 **dict(c.split("=", 1) for c in args.conf)}
    return args


def main() -> int:
    args = parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    out = OutputFolder(args.workdir)
    times: dict[str, Timed] = {}
    reset_peak_rss()
    with timed(times, "data generation (not compared)"):
        summary = generate(out.location, args.docs, args.questions,
                           args.entities or min(1_000_000, max(1_000, args.docs // 2)), args.seed)
    peaks = {"generation": peak_rss()}
    print(f"synthetic data (seed {args.seed}): {summary}")

    ours = run_ours(out, args.master, args.conf, times)
    peaks.update({"ours, Python driver": ours["driver_peak"], "ours, Spark JVM": ours["jvm_peak"]})
    relevant = read_table(out, "relevant_docs")
    print(f"relevant_docs statuses: {ours['status']}; {ours['entity_pairs']:,} entity pairs "
          f"needed; counts: {count_buckets(relevant['relevant_docs'].to_pylist())}")
    print("count stage steps: " + ", ".join(f"{k} {v:.2f} s"
                                            for k, v in ours["step_seconds"].items()))
    for name, seconds, spill in ours["jobs"]:
        print(f"  Spark jobs '{name}': {seconds:.1f} s, {spill / 2**20:,.0f} MiB spilled to disk")

    paper, occurrences, peaks["paper method"] = run_paper(out, times)
    peaks["bench process overall"] = max(v for k, v in peaks.items() if "JVM" not in k)
    load_paper = os.getloadavg()[0]
    reported = relevant.select(["question_id", "relevant_docs", "q_docs", "a_docs"]).to_pylist()
    disagree = [r["question_id"] for r in reported
                if paper.get(r["question_id"]) != (r["relevant_docs"] or 0)]
    occurrence_disagree = sum(((r["q_docs"] or 0), (r["a_docs"] or 0))
                              != occurrences.get(r["question_id"]) for r in reported)
    best = max((r for r in relevant.to_pylist() if r["relevant_docs"]),
               key=lambda r: r["relevant_docs"], default=None)
    duck = None
    if best is not None:
        duck = time_duckdb(out, [entity_id(best["q_uri"]), entity_id(best["a_uri"])],
                           args.duckdb_runs)

    ours_time = times[f"ours: run_count on {args.master} (CPU: driver + JVM)"]
    parts = [t for name, t in times.items() if name.startswith("paper:")]
    times["paper: total"] = total = Timed(sum(t.wall for t in parts), sum(t.cpu for t in parts))
    counting = times["paper: counting (np.intersect1d loop)"]
    rows = [(name, f"{t.wall:9.1f} s", f"{t.cpu:9.1f} s") for name, t in times.items()]
    rows += [(f"ratio paper {what} / ours", f"{t.wall / ours_time.wall:9.2f} x",
              f"{t.cpu / ours_time.cpu:9.2f} x")
             for what, t in (("total", total), ("counting only", counting))]
    if duck is not None:
        rows.append((f"DuckDB pair count, warm, median of {args.duckdb_runs}",
                     f"{duck[1] * 1000:8.1f} ms", ""))
    rows += [(f"peak RSS: {k}", f"{v / 2**20:7,.0f} MiB", "") for k, v in peaks.items()]
    width = max(len(label) for label, *_ in rows)
    print(f"\n{os.cpu_count()} CPUs; 1-minute load average after ours {ours['load']:.1f}, after "
          f"the paper's method {load_paper:.1f} (other work on the machine slows both)")
    print(environment())
    print(f"{'measure':<{width}}  {'wall':>11}  {'CPU':>11}\n{'-' * width}  {'-' * 11}  "
          f"{'-' * 11}")
    for label, wall, cpu in rows:
        print(f"{label:<{width}}  {wall:>11}  {cpu:>11}")
    print(f"\nrelevant_docs agree on {len(reported) - len(disagree):,} of {len(reported):,} "
          f"questions (of {len(paper):,} in the paper's output; no count in ours = 0 there)"
          + (f"; first disagreements: {disagree[:5]}" if disagree else ""))
    print("q_docs/a_docs agree with the paper's q_occurrence/a_occurrence: "
          + ("yes" if not occurrence_disagree else f"no, {occurrence_disagree:,} differ"))
    if duck is not None:
        print(f"DuckDB pair: {best['q_uri']} x {best['a_uri']}: {duck[0]:,} documents "
              f"(relevant_docs {best['relevant_docs']:,})")
    failed = disagree or occurrence_disagree or len(paper) != len(reported) or (
        duck and duck[0] != best["relevant_docs"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
