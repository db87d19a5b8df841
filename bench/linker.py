"""Benchmark of the embedded statistical linker on synthetic wikistats and a synthetic corpus.

    .venv/bin/python bench/linker.py [--surface-forms N] [--corpus-mb M] [--out DIR]

Builds Spotlight-format wikistats (Zipf-like priors, 1-5 word surface forms, about 1.35 pairs
per form, context vectors for about half of the entities), imports them (import time, peak
memory), then in a fresh process loads the model (load time, resident memory from /proc),
links the corpus in a single process (MB/s) and scans the same text with a bare pyahocorasick
automaton of the same surface forms (the baseline), and projects memory to the full English
model (13.2M surface forms, 17.8M pairs, 4.49M entities, 2.39M context vectors).
Files go to bench/out/ (git-ignored) unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FULL = {"surface_form_lines": 13_164_312, "pairs": 17_844_070, "entities": 4_487_385,
        "context_entries": round(2_387_035 * 238.1)}
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
FILLER = [
    "the", "of", "and", "in", "to", "a", "was", "is", "for", "on", "as", "with", "by", "he",
    "at", "from", "his", "an", "were", "are", "which", "this", "also", "be", "had", "has", "its",
    "first", "new", "after", "who", "they", "not", "their", "one", "two", "been", "people",
    "year", "years", "time", "city", "world", "during", "between", "most", "other", "over",
    "into", "school", "team", "film", "season", "later", "under", "known", "called", "made",
    "used", "such", "both", "three", "part", "since", "some", "many", "including", "series",
    "while", "where", "there", "than", "only", "game", "album", "several", "history",
    "national", "around", "early", "well", "before", "government", "became", "life", "work",
    "second", "state", "same",
]


def zipf_weights(n: int, exponent: float = 1.05) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def make_words(rng: np.random.Generator, n: int) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        parts = rng.integers(0, len(SYLLABLES), size=(n, 4))
        lengths = rng.integers(2, 5, size=n)
        for row, k in zip(parts, lengths, strict=True):
            words.add("".join(SYLLABLES[i] for i in row[:k]))
    return sorted(words)[:n]


def write_wikistats(folder: Path, n_forms: int, seed: int = 7) -> dict:
    """Synthetic wikistats in Spotlight's formats; returns the surface forms and their weights."""
    from longtail.linking.statistical.tokenizer import Tokenizer
    from longtail.linking.statistical.wikistats import (
        write_pair_counts,
        write_sf_and_total_counts,
        write_token_counts,
        write_uri_counts,
    )

    rng = np.random.default_rng(seed)
    words = make_words(rng, max(50_000, n_forms // 5))
    word_p = zipf_weights(len(words), 0.9)
    forms: dict[str, None] = {}
    while len(forms) < n_forms:
        batch = n_forms - len(forms) + 1000
        lengths = rng.choice([1, 2, 3, 4, 5], size=batch, p=[0.35, 0.40, 0.17, 0.06, 0.02])
        picks = rng.choice(len(words), size=int(lengths.sum()), p=word_p)
        style = rng.random(batch)
        at = 0
        for k, s in zip(lengths.tolist(), style.tolist(), strict=True):
            tokens = [words[i] for i in picks[at:at + k]]
            at += k
            if s < 0.70:
                form = " ".join(t.capitalize() for t in tokens)
            elif s < 0.95:
                form = " ".join(tokens)
            else:
                form = tokens[0][:4].upper()
            forms[form] = None
    names = list(forms)[:n_forms]
    n_entities = max(1, int(n_forms * 4_487_385 / 13_164_312))
    entity_names = [f"{words[i % len(words)].capitalize()}_({i})" for i in range(n_entities)]
    entity_p = zipf_weights(n_entities)
    candidates = np.minimum(1 + rng.geometric(0.75, size=n_forms) - 1, 40)
    pair_entities = rng.choice(n_entities, size=int(candidates.sum()), p=entity_p)
    pair_counts = np.maximum(1, (rng.pareto(1.1, size=len(pair_entities)) * 3).astype(np.int64))
    pair_counts = np.minimum(pair_counts, 500_000)
    pair_rows, linked = [], np.zeros(n_forms, dtype=np.int64)
    support = np.zeros(n_entities, dtype=np.int64)
    at = 0
    for i, k in enumerate(candidates.tolist()):
        seen = set()
        for e, c in zip(pair_entities[at:at + k].tolist(), pair_counts[at:at + k].tolist(),
                        strict=True):
            if e in seen:
                continue
            seen.add(e)
            pair_rows.append((names[i], entity_names[e], c + 1))
            linked[i] += c + 1
            support[e] += c + 1
        at += k
    probability = np.clip(rng.beta(0.6, 2.0, size=n_forms), 0.005, 1.0)
    totals = np.maximum(linked, (linked / probability).astype(np.int64))
    totals[rng.random(n_forms) < 0.05] = -1
    sf_rows = list(zip(names, linked.tolist(), totals.tolist(), strict=True))
    sf_rows += [(n.lower(), -1, int(t) * 3 + 5) for n, t in zip(names, totals.tolist(),
                                                                strict=True)
                if n != n.lower() and rng.random() < 0.2]
    tokenizer = Tokenizer(stop_words=())
    stems = sorted({tokenizer.stem(w) for w in words} | {tokenizer.stem(w) for w in FILLER})
    stem_p = zipf_weights(len(stems), 0.8)
    with_context = np.flatnonzero(rng.random(n_entities) < 2_387_035 / 4_487_385)
    sizes = np.maximum(5, rng.poisson(120, size=len(with_context)))
    context_tokens = rng.choice(len(stems), size=int(sizes.sum()), p=stem_p)
    context_counts = np.maximum(1, (rng.pareto(1.0, size=len(context_tokens)) * 2).astype(int))

    def vectors():
        at = 0
        for e, k in zip(with_context.tolist(), sizes.tolist(), strict=True):
            chosen = dict(zip(context_tokens[at:at + k].tolist(),
                              context_counts[at:at + k].tolist(), strict=True))
            at += k
            yield entity_names[e], [(stems[t], c) for t, c in chosen.items()]

    folder.mkdir(parents=True, exist_ok=True)
    write_uri_counts(folder / "uriCounts", zip(entity_names, (support + 1).tolist(), strict=True))
    write_pair_counts(folder / "pairCounts", pair_rows)
    write_sf_and_total_counts(folder / "sfAndTotalCounts", sf_rows)
    write_token_counts(folder / "tokenCounts", vectors())
    weights = linked.astype(np.float64) ** 0.8
    return {"names": names, "weights": weights / weights.sum(), "sf_lines": len(sf_rows),
            "pairs": len(pair_rows), "entities": n_entities,
            "context_entries": int(sizes.sum())}


def write_corpus(path: Path, names: list[str], weights: np.ndarray, megabytes: float,
                 seed: int = 11) -> int:
    """Documents of about 3 KB, one per line (newlines inside as \\n escapes are avoided:
    paragraphs are joined by a space), mixing filler words and mentions."""
    rng = np.random.default_rng(seed)
    target = int(megabytes * 1_000_000)
    written = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < target:
            mentions = rng.choice(len(names), size=20_000, p=weights)
            fillers = rng.choice(len(FILLER), size=160_000)
            f = 0
            parts: list[str] = []
            doc_len = 0
            for m in mentions.tolist():
                k = int(rng.integers(3, 12))
                chunk = " ".join(FILLER[i] for i in fillers[f:f + k])
                f += k
                parts.append(chunk)
                parts.append(names[m] + ("." if rng.random() < 0.15 else
                                         "," if rng.random() < 0.2 else ""))
                doc_len += len(chunk) + len(names[m]) + 2
                if doc_len > 3000:
                    doc = " ".join(parts)
                    doc = doc[0].upper() + doc[1:] + ".\n"
                    handle.write(doc)
                    written += len(doc.encode("utf-8"))
                    parts, doc_len = [], 0
                    if written >= target:
                        break
                if f > len(fillers) - 20:
                    break
    return written


IMPORT = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from longtail.linking.statistical import import_wikistats
started = time.perf_counter()
report = import_wikistats({src!r}, {out!r})
report["wall"] = time.perf_counter() - started
report["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(report))
"""

MEASURE = r"""
import json, sys, time, resource
sys.path.insert(0, {root!r})

def memory():
    out = {{}}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out

import numpy, ahocorasick
from longtail.linking.statistical import StatisticalLinker
base = memory()
started = time.perf_counter()
linker = StatisticalLinker.load({model!r}, confidence=0.4, support=20)
load_seconds = time.perf_counter() - started
loaded = memory()
docs = open({corpus!r}, encoding="utf-8").read().splitlines()
size = sum(len(d.encode("utf-8")) for d in docs)
linker.annotate(docs[0])
started, cpu = time.perf_counter(), time.process_time()
annotations = sum(len(r.annotations) for r in linker.annotate_many(enumerate(docs)))
link_seconds, link_cpu = time.perf_counter() - started, time.process_time() - cpu
after = memory()
sample = docs[: max(1, len(docs) // 10)]
sample_size = sum(len(d.encode("utf-8")) for d in sample)
cpu = time.process_time()
for d in sample:
    linker.annotate(d)
single_cpu = time.process_time() - cpu
names = [l.rstrip("\n") for l in open({lexicon!r}, encoding="utf-8")]
automaton = ahocorasick.Automaton()
for i, n in enumerate(names):
    automaton.add_word(n, i)
automaton.make_automaton()
started = time.perf_counter()
matches = 0
for d in docs:
    for _ in automaton.iter(d):
        matches += 1
scan_seconds = time.perf_counter() - started
del automaton
from longtail.linking.statistical import Spotter
started = time.perf_counter()
spotter = Spotter.build(names)
spotter_build = time.perf_counter() - started
cpu = time.process_time()
occurrences = sum(1 for d in docs for _ in spotter.find_all(d))
spotter_cpu = time.process_time() - cpu
print(json.dumps(dict(spotter_build=spotter_build, spotter_cpu=spotter_cpu,
    occurrences=occurrences, base=base, loaded=loaded, after=after, load_seconds=load_seconds,
    link_seconds=link_seconds, link_cpu=link_cpu, bytes=size, docs=len(docs),
    annotations=annotations, scan_seconds=scan_seconds, matches=matches,
    single_cpu=single_cpu, single_bytes=sample_size)))
"""


def model_sizes(model: Path) -> dict[str, int]:
    header = json.loads((model / "model.json").read_text())
    return {name: (model / f"{name}.bin").stat().st_size for name in header["arrays"]}


GROUPS = {
    "surface_form_lines": ("sf_hash", "sf_annotated", "sf_total", "sf_pair_offsets",
                           "sf_names.offsets", "fsa_accept", "fsa_prefixes", "lower_hash",
                           "lower_count", "lower_offsets", "lower_sf", "vocab_hash",
                           "vocab_count"),
    "pairs": ("pair_entity", "pair_count"),
    "entities": ("entity_support", "entity_uris.offsets", "entity_context_offsets",
                 "entity_context_total", "entity_type_offsets", "entity_type_ids"),
}
MAPPED = {"surface_form_lines": ("sf_names.data",), "entities": ("entity_uris.data",),
          "context_entries": ("context_token", "context_count")}


def build(out: Path, surface_forms: int, corpus_mb: float) -> tuple[dict, dict]:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = time.perf_counter()
    stats = write_wikistats(out / "wikistats", surface_forms)
    names, weights = stats.pop("names"), stats.pop("weights")
    (out / "lexicon.txt").write_text("".join(n + "\n" for n in names), encoding="utf-8")
    corpus_bytes = write_corpus(out / "corpus.txt", names, weights, corpus_mb)
    print(f"synthetic wikistats: {stats['sf_lines']:,} sfAndTotalCounts lines "
          f"({surface_forms:,} surface forms), {stats['pairs']:,} pairs, "
          f"{stats['entities']:,} entities, {stats['context_entries']:,} context entries; "
          f"corpus {corpus_bytes / 1e6:.1f} MB ({time.perf_counter() - started:.0f} s)")
    code = IMPORT.format(root=str(ROOT), src=str(out / "wikistats"), out=str(out / "model"))
    report = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    print(f"import: {report['wall']:.1f} s, peak RSS {report['peak_rss'] / 2**20:,.0f} MiB; "
          f"{report['surface_forms']:,} surface forms, {report['pairs']:,} pairs, "
          f"{report['entities']:,} entities, {report['context_vectors']:,} context vectors, "
          f"vocabulary {report['vocabulary']:,}")
    (out / "build.json").write_text(json.dumps([stats, report]), encoding="utf-8")
    return stats, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface-forms", type=int, default=1_000_000)
    parser.add_argument("--corpus-mb", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "linker")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again with the files of a previous run in --out")
    args = parser.parse_args()
    out: Path = args.out
    if args.reuse and (out / "build.json").is_file():
        stats, report = json.loads((out / "build.json").read_text(encoding="utf-8"))
        print(f"reusing {out}: {stats['sf_lines']:,} sfAndTotalCounts lines, import took "
              f"{report['wall']:.1f} s")
    else:
        stats, report = build(out, args.surface_forms, args.corpus_mb)
    measure = MEASURE.format(root=str(ROOT), model=str(out / "model"),
                             corpus=str(out / "corpus.txt"), lexicon=str(out / "lexicon.txt"))
    run = json.loads(subprocess.run([sys.executable, "-c", measure], check=True,
                                    capture_output=True, text=True).stdout)
    mib = 2**20
    mb = run["bytes"] / 1e6
    print(f"load (fresh process): {run['load_seconds'] * 1000:.0f} ms; RSS after load "
          f"{run['loaded']['VmRSS'] / mib:,.0f} MiB (anon {run['loaded']['RssAnon'] / mib:,.0f}, "
          f"file {run['loaded']['RssFile'] / mib:,.0f}); interpreter + libraries before load "
          f"{run['base']['VmRSS'] / mib:,.0f} MiB")
    speed = mb / run["link_seconds"]
    print(f"link (annotate_many): {mb:.1f} MB, {run['docs']:,} documents, "
          f"{run['annotations']:,} annotations "
          f"in {run['link_seconds']:.1f} s wall / {run['link_cpu']:.1f} s CPU = "
          f"{speed:.2f} MB/s per core (one process; {mb / run['link_cpu']:.2f} MB/s per CPU "
          f"second)")
    print(f"  annotate() one document at a time (first tenth of the corpus): "
          f"{run['single_bytes'] / 1e6 / run['single_cpu']:.2f} MB per CPU second")
    print(f"RSS after linking: {run['after']['VmRSS'] / mib:,.0f} MiB "
          f"(anon {run['after']['RssAnon'] / mib:,.0f}, file {run['after']['RssFile'] / mib:,.0f})")
    scan = mb / run["scan_seconds"]
    print(f"baseline pyahocorasick scan: {run['matches']:,} raw matches in "
          f"{run['scan_seconds']:.1f} s = {scan:.1f} MB/s; linker / scan time = "
          f"{run['link_seconds'] / run['scan_seconds']:.1f}x")

    print(f"Spotter.build (exact, for counting occurrences): {run['spotter_build']:.1f} s; "
          f"find_all: {run['occurrences']:,} occurrences at word boundaries, "
          f"{mb / run['spotter_cpu']:.2f} MB per CPU second")

    sizes = model_sizes(out / "model")
    header = json.loads((out / "model" / "model.json").read_text())
    measured = {"surface_form_lines": stats["sf_lines"], "pairs": report["pairs"],
                "entities": report["entities"],
                "context_entries": max(1, header["arrays"]["context_token"]["shape"][0])}
    hot = 0.0
    print("projection to the full English model: bytes per unit measured here x full size")
    for group, names in GROUPS.items():
        total = sum(sizes[n] for n in names)
        per_unit = total / measured[group]
        projected = per_unit * FULL[group]
        hot += projected
        print(f"  {group:<20} {per_unit:6.1f} B x {FULL[group]:>12,} = "
              f"{projected / 2**30:5.2f} GiB  ({', '.join(names)})")
    mapped = 0.0
    for group, names in MAPPED.items():
        total = sum(sizes[n] for n in names)
        per_unit = total / measured[group]
        projected = per_unit * FULL[group]
        mapped += projected
        print(f"  {group:<20} {per_unit:6.1f} B x {FULL[group]:>12,} = "
              f"{projected / 2**30:5.2f} GiB  mapped, read on demand ({', '.join(names)})")
    anon = run["after"]["RssAnon"]
    resident = anon + hot
    print(f"projected resident = RSS anon after linking ({anon / mib:,.0f} MiB: interpreter, "
          f"caches) + every per-form/pair/entity array fully resident ({hot / 2**30:.2f} GiB) "
          f"= {resident / 2**30:.2f} GiB (target < 4 GiB)")
    kept = measured["context_entries"] / stats["context_entries"]
    per_entry = sum(sizes[n] for n in MAPPED["context_entries"]) / measured["context_entries"]
    unpruned = resident + mapped
    pruned = unpruned - per_entry * FULL["context_entries"] * (1 - kept)
    print(f"worst case, every mapped page resident too: {unpruned / 2**30:.2f} GiB if no "
          f"context entry is pruned, {pruned / 2**30:.2f} GiB if the real file prunes like this "
          f"one (count >= 3 kept {kept:.0%}); mapped pages are page cache, shared by every "
          f"process using the model and evictable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
