"""How well a model built from Wikipedia finds Wikipedia's own links again.

    .venv/bin/python bench/model_quality.py [--dump DUMP] [--out DIR]

Builds a model from the 206-page enwiki sample (local Spark, 2 cores), then annotates the
plain text of those same articles (link markup removed) and compares the annotations with the
articles' original links after redirect resolution (links to disambiguation pages and dead
redirects left out). A prediction is correct when its span and URI are those of an original
link. Wikipedia links a name only at its first mention, so precision against the original
links is a floor: `precision (linked forms)` also counts as correct a prediction whose span
text and URI match an original link of the same article elsewhere in it.
Printed for confidence 0.4 (what Kandpal et al. used) and 0.0, support 0.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT.parent / "shared" / "data" / "wikipedia" / "enwiki-sample-206pages.xml.bz2"
RESOURCE = "http://dbpedia.org/resource/"


def gold_links(dump: Path) -> dict[str, tuple[str, set[tuple[int, int, str]]]]:
    """Per article: its plain text and its links as (start, end, resolved title)."""
    from longtail.wikipedia.dump import DumpSplit
    from longtail.wikipedia.pages import ARTICLE, DISAMBIGUATION, REDIRECT, page_rows
    from longtail.wikipedia.redirects import resolve_redirects

    rows = list(page_rows(DumpSplit(str(dump))))
    redirects = resolve_redirects({r["title"]: r["redirect_target"] for r in rows
                                   if r["kind"] == REDIRECT})
    disambiguation = {r["title"] for r in rows if r["kind"] == DISAMBIGUATION}
    gold = {}
    for row in rows:
        if row["kind"] != ARTICLE:
            continue
        links = set()
        for link in row["links"]:
            target = redirects.resolve(link["target"])
            if target is not None and target not in disambiguation:
                links.add((link["start"], link["end"], target))
        gold[row["title"]] = (row["text"], links)
    return gold


def reachable(model: Path, gold: dict) -> float:
    """The share of original links whose surface form and URI are a pair of the model: the
    most any confidence can find (surface forms linked once are pruned)."""
    from longtail.linking.statistical.wikistats import read_pair_counts

    pairs = {(p.surface_form, p.uri[len(RESOURCE):])
             for p in read_pair_counts(model / "wikistats" / "pairCounts")}
    total = sum(len(links) for _, links in gold.values())
    hits = sum(1 for text, links in gold.values() for s, e, uri in links
               if (text[s:e], uri) in pairs)
    return round(hits / total, 4) if total else 0.0


def evaluate(model: Path, gold: dict, confidence: float) -> dict:
    from longtail.linking.statistical import StatisticalLinker

    linker = StatisticalLinker.load(model, confidence=confidence, support=0)
    correct = correct_forms = predicted = 0
    started = time.perf_counter()
    characters = 0
    for text, links in gold.values():
        characters += len(text)
        predictions = {(a.offset, a.offset + len(a.surface_form), a.uri[len(RESOURCE):])
                       for a in linker.annotate(text) if a.uri.startswith(RESOURCE)}
        linked_forms = {(text[s:e], uri) for s, e, uri in links}
        predicted += len(predictions)
        correct += len(predictions & links)
        correct_forms += sum(1 for s, e, uri in predictions if (text[s:e], uri) in linked_forms)
    seconds = time.perf_counter() - started
    gold_total = sum(len(links) for _, links in gold.values())
    return {
        "confidence": confidence,
        "original_links": gold_total,
        "annotations": predicted,
        "correct": correct,
        "precision": round(correct / predicted, 4) if predicted else 0.0,
        "precision_linked_forms": round(correct_forms / predicted, 4) if predicted else 0.0,
        "recall": round(correct / gold_total, 4) if gold_total else 0.0,
        "annotate_seconds": round(seconds, 2),
        "chars_per_second": round(characters / seconds) if seconds else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", type=Path, default=SAMPLE)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "model_quality")
    args = parser.parse_args()
    if not args.dump.is_file():
        print(f"dump not found: {args.dump}", file=sys.stderr)
        return 2

    from longtail.jobs.build_model import BuildOptions, build_model
    from longtail.jobs.session import spark_session

    shutil.rmtree(args.out, ignore_errors=True)
    spark = spark_session("bench model quality", "local[2]", **{
        "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false"})
    try:
        report = build_model(spark, [str(args.dump)], args.out / "model", BuildOptions())
    finally:
        spark.stop()
    print(f"model: {report['entities']:,} entities, {report['surface_forms']['kept']:,} surface "
          f"forms, {report['pairs']:,} pairs, {report['context_vectors']:,} context vectors, "
          f"built in {report['seconds_total']:.1f} s")
    gold = gold_links(args.dump)
    results = [evaluate(args.out / "model", gold, c) for c in (0.4, 0.0)]
    ceiling = reachable(args.out / "model", gold)
    print(f"original links whose (surface form, entity) is a model pair: {ceiling:.3f}")
    for r in results:
        print(f"confidence {r['confidence']}: precision {r['precision']:.3f} "
              f"(linked forms {r['precision_linked_forms']:.3f}), recall {r['recall']:.3f} "
              f"({r['correct']:,} of {r['annotations']:,} annotations correct, "
              f"{r['original_links']:,} original links), "
              f"{r['chars_per_second']:,} chars/s")
    (args.out / "results.json").write_text(json.dumps(
        {"reachable_recall": ceiling, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
