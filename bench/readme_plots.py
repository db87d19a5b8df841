"""The README's analysis pictures, drawn by the real commands from a synthetic output folder.

    .venv/bin/python bench/readme_plots.py [--workdir DIR] [--images docs/images] [--seed S]

Writes, reproducibly from the seed, an output folder with the tables the analyses read: a
corpus of 200,000 documents (docs, 500-5,000 characters each), 1,500 questions whose relevant
document counts spread log-uniformly over 0-5,000 (doc_entities, relevant_docs), and two
predictions files of made-up models whose chance of answering grows with log10 of the count.
Then runs `longtail analyze accuracy` and `longtail exposure` on it and keeps their PNGs:
    docs/images/accuracy.png        accuracy by relevant documents, two models
    docs/images/exposure_gaps.png   gaps between exposures, 125,000 tokens per step
The data is synthetic: the pictures show what the commands draw, not a finding.
Files go to bench/out/readme_plots/ (git-ignored) unless --workdir says otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from longtail.analysis.commands import register  # noqa: E402
from longtail.linking.annotation import entity_id  # noqa: E402
from longtail.output.folder import OutputFolder  # noqa: E402
from longtail.output.runner import commit_stage  # noqa: E402
from longtail.schemas.tables import DOC_ENTITIES, DOCS, RELEVANT_DOCS  # noqa: E402

DOCS_IN_CORPUS = 200_000
QUESTIONS = 1_500
MAX_COUNT = 5_000
R = "http://dbpedia.org/resource/"


def build(out: OutputFolder, rng: random.Random, np_rng: np.random.Generator) -> dict[str, int]:
    """Commit docs, doc_entities and relevant_docs; returns each question's count."""
    ids = np.arange(DOCS_IN_CORPUS, dtype=np.int64)
    commit_stage(out, "link", {"docs": pa.table({
        "doc_id": ids, "source": pa.array(["synthetic.jsonl"] * len(ids)), "row": ids,
        "external_id": pa.nulls(len(ids), pa.string()),
        "n_chars": np_rng.integers(500, 5_000, len(ids)),
        "n_mentions": np.full(len(ids), 2, np.int32),
        "status": pa.array(["linked"] * len(ids))}, schema=DOCS)})
    counts: dict[str, int] = {}
    doc_parts, entity_parts = [], []
    cols: dict[str, list] = {name: [] for name in RELEVANT_DOCS.names}
    for k in range(QUESTIONS):
        qid = f"q{k:05d}"
        kind = rng.random()
        n = 0 if kind < 0.1 else int(10 ** rng.uniform(0, math.log10(MAX_COUNT)))
        status = "no answer entity" if kind > 0.95 else ("zero" if n == 0 else "counted")
        q_uri, a_uri = (R + f"Q{k}", R + f"A{k}") if status == "counted" else (None, None)
        if status == "counted":
            docs = np_rng.choice(DOCS_IN_CORPUS, n, replace=False)
            for uri in (q_uri, a_uri):
                doc_parts.append(docs)
                entity_parts.append(np.full(n, entity_id(uri), np.int64))
        counts[qid] = n if status != "no answer entity" else None
        for name, value in zip(RELEVANT_DOCS.names, (
                qid, k, "synthetic-qa.jsonl", f"question {k}?", [f"answer {k}"], q_uri, a_uri,
                counts[qid] if status in ("counted", "zero") else None, None, None, status),
                strict=True):
            cols[name].append(value)
    doc_ids = np.concatenate(doc_parts)
    commit_stage(out, "index", {"doc_entities": pa.table({
        "doc_id": doc_ids, "entity_id": np.concatenate(entity_parts),
        "mentions": np.ones(len(doc_ids), np.int32)}, schema=DOC_ENTITIES)}, reads=["docs"])
    commit_stage(out, "count", {"relevant_docs": pa.table(cols, schema=RELEVANT_DOCS)},
                 reads=["doc_entities"])
    return counts


def predictions(path: Path, counts: dict[str, int], base: float, slope: float,
                rng: random.Random) -> str:
    """A model that is right with probability base + slope * log10(count + 1), capped."""
    with path.open("w", encoding="utf-8") as fh:
        for qid, n in counts.items():
            chance = min(0.95, base + slope * math.log10((n or 0) + 1))
            k = qid[1:].lstrip("0") or "0"
            answer = f"answer {k}" if rng.random() < chance else "something else"
            fh.write(json.dumps({"question_id": qid, "prediction": answer}) + "\n")
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "readme_plots"))
    parser.add_argument("--images", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    rng, np_rng = random.Random(args.seed), np.random.default_rng(args.seed)
    started = time.perf_counter()
    out = OutputFolder(str(work / "out"))
    counts = build(out, rng, np_rng)
    small = predictions(work / "small-model.jsonl", counts, 0.05, 0.12, rng)
    large = predictions(work / "large-model.jsonl", counts, 0.15, 0.16, rng)
    print(f"synthetic output folder in {time.perf_counter() - started:.1f} s")

    cli = argparse.ArgumentParser(prog="longtail")
    register(cli.add_subparsers(dest="command"))
    images = Path(args.images)
    for argv_ in (
        ["analyze", "accuracy", out.location, "--predictions", small, large,
         "--labels", "smaller model (synthetic)", "larger model (synthetic)",
         "--min-bin-size", "50", "--plot", str(images / "accuracy.png")],
        ["exposure", out.location, "--tokens-per-step", "125000", "--tokens-per-char", "0.25",
         "--plot", str(images / "exposure_gaps.png")],
    ):
        parsed = cli.parse_args(argv_)
        parsed.handler(parsed)
    print(f"done in {time.perf_counter() - started:.1f} s; pictures in {images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
