"""The embedded linker's model at full English size: import, disk, load and linking memory.

    .venv/bin/python bench/linker.py --scale 1000000,3000000,13164312 [--out DIR]

For each number of surface forms, writes synthetic wikistats whose other cardinalities follow
the real May-2021 English files (per surface form: 1.36 pairs, 0.34 entities, 0.18 context
vectors of 238 entries on average, heavy-tailed, so some tokenCounts lines are very long), then
imports them in a fresh process (wall time, peak RSS), and in another fresh process loads the
model (time), links a 10 MB synthetic corpus and reads its resident memory from /proc. The
generated files are deleted after each size; the figures go to `scale.json` in --out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

FULL = {"surface_form_lines": 13_164_312, "pairs": 17_844_070, "entities": 4_487_385,
        "context_vectors": 2_387_035, "context_entries": round(2_387_035 * 238.1)}
_CHUNK_LINES = 20_000


def _lines(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= 100_000:
                handle.write("".join(batch))
                batch.clear()
        handle.write("".join(batch))


def write_wikistats_at_scale(folder: Path, n_forms: int, seed: int = 7) -> dict:
    """Synthetic wikistats with the full English proportions; returns the surface forms, their
    weights for a corpus, and the line counts written."""
    from linker import make_forms, zipf_weights

    from longtail.linking.statistical.tokenizer import Tokenizer

    rng = np.random.default_rng(seed)
    words, names = make_forms(rng, n_forms)
    n_entities = max(1, round(n_forms * FULL["entities"] / FULL["surface_form_lines"]))
    entity_names = [f"{words[i % len(words)].capitalize()}_({i})" for i in range(n_entities)]
    # pairs: a geometric number of candidates per form, Zipf-like entities, Pareto counts
    n_pairs = round(n_forms * FULL["pairs"] / FULL["surface_form_lines"])
    candidates = rng.geometric(1 - (n_pairs - n_forms) / n_pairs, size=n_forms)
    pair_sf = np.repeat(np.arange(n_forms), candidates)
    pair_entity = rng.choice(n_entities, size=len(pair_sf), p=zipf_weights(n_entities))
    _, first = np.unique(pair_sf * n_entities + pair_entity, return_index=True)
    pair_sf, pair_entity = pair_sf[first], pair_entity[first]
    pair_count = np.minimum(1 + (rng.pareto(1.1, size=len(pair_sf)) * 3).astype(np.int64),
                            500_000) + 1
    linked = np.bincount(pair_sf, weights=pair_count, minlength=n_forms).astype(np.int64)
    support = np.bincount(pair_entity, weights=pair_count, minlength=n_entities).astype(np.int64)
    probability = np.clip(rng.beta(0.6, 2.0, size=n_forms), 0.005, 1.0)
    totals = np.maximum(linked, (linked / probability).astype(np.int64))
    totals[rng.random(n_forms) < 0.05] = -1
    folder.mkdir(parents=True, exist_ok=True)
    _lines(folder / "uriCounts", (f"{e}\t{s + 1}\n" for e, s in
                                  zip(entity_names, support.tolist(), strict=True)))
    _lines(folder / "pairCounts", (f"{names[s]}\t{entity_names[e]}\t{c}\n" for s, e, c in
                                   zip(pair_sf.tolist(), pair_entity.tolist(),
                                       pair_count.tolist(), strict=True)))
    lowercase = rng.random(n_forms) < 0.2
    _lines(folder / "sfAndTotalCounts", (
        f"{n}\t{a}\t{t}\n" + (f"{n.lower()}\t-1\t{t * 3 + 5}\n" if low and n != n.lower()
                              else "")
        for n, a, t, low in zip(names, linked.tolist(), totals.tolist(), lowercase.tolist(),
                                strict=True)))
    sf_lines = n_forms + sum(1 for n, low in zip(names, lowercase.tolist(), strict=True)
                             if low and n != n.lower())
    n_pair_lines = len(pair_sf)
    del pair_sf, pair_entity, pair_count
    # context vectors: stems of the words, Zipf-like; sizes log-normal with mean 238
    tokenizer = Tokenizer(stop_words=())
    stems = sorted({tokenizer.stem(w) for w in words})
    opening = [f"({s}," for s in stems]
    stem_p = zipf_weights(len(stems), 0.8)
    n_vectors = round(n_forms * FULL["context_vectors"] / FULL["surface_form_lines"])
    with_context = np.sort(rng.choice(n_entities, size=min(n_vectors, n_entities),
                                      replace=False))
    sizes = np.maximum(5, rng.lognormal(np.log(238.1) - 0.72, 1.2, size=len(with_context))
                       .astype(np.int64))
    entries = 0
    with open(folder / "tokenCounts", "w", encoding="utf-8") as handle:
        for begin in range(0, len(with_context), _CHUNK_LINES):
            chunk = sizes[begin:begin + _CHUNK_LINES]
            owner = np.repeat(np.arange(len(chunk)), chunk)
            tokens = rng.choice(len(stems), size=len(owner), p=stem_p)
            _, first = np.unique(owner * len(stems) + tokens, return_index=True)
            owner, tokens = owner[first], tokens[first]
            counts = 1 + (rng.pareto(1.0, size=len(tokens)) * 2).astype(np.int64)
            bounds = np.searchsorted(owner, np.arange(len(chunk) + 1)).tolist()
            pairs = [o + str(c) + ")" for o, c in
                     zip(map(opening.__getitem__, tokens.tolist()), counts.tolist(),
                         strict=True)]
            entries += len(pairs)
            handle.write("".join(
                f"http://en.wikipedia.org/wiki/{entity_names[e]}\t"
                f"{{{','.join(pairs[bounds[i]:bounds[i + 1]])}}}\n"
                for i, e in enumerate(with_context[begin:begin + _CHUNK_LINES].tolist())))
    weights = linked.astype(np.float64) ** 0.8
    return {"names": names, "weights": weights / weights.sum(), "sf_lines": sf_lines,
            "pairs": n_pair_lines, "entities": n_entities, "context_vectors": len(with_context),
            "context_entries": entries}


IMPORT = """
import json, resource, sys, time
from longtail.linking.statistical import import_wikistats
started = time.perf_counter()
report = import_wikistats({src!r}, {out!r})
report["wall"] = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
report["peak_rss"] = usage.ru_maxrss * 1024
report["cpu"] = usage.ru_utime + usage.ru_stime
print(json.dumps(report))
"""

LINK = r"""
import json, sys, time

def memory():
    out = {{}}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out

from longtail.linking.statistical import StatisticalLinker
started = time.perf_counter()
linker = StatisticalLinker.load({model!r}, confidence=0.4, support=20)
load_seconds = time.perf_counter() - started
loaded = memory()
docs = open({corpus!r}, encoding="utf-8").read().splitlines()
size = sum(len(d.encode("utf-8")) for d in docs)
started = time.perf_counter()
annotations = sum(len(r.annotations) for r in linker.annotate_many(enumerate(docs)))
seconds = time.perf_counter() - started
print(json.dumps(dict(load_seconds=load_seconds, loaded=loaded, after=memory(), bytes=size,
                      seconds=seconds, annotations=annotations)))
"""


def _disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure_size(out: Path, n_forms: int, corpus_mb: float) -> dict:
    from linker import write_corpus

    root = out / f"scale-{n_forms}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    started = time.perf_counter()
    stats = write_wikistats_at_scale(root / "wikistats", n_forms)
    names, weights = stats.pop("names"), stats.pop("weights")
    write_corpus(root / "corpus.txt", names, weights, corpus_mb)
    del names, weights
    stats["generate_seconds"] = time.perf_counter() - started
    stats["wikistats_bytes"] = _disk(root / "wikistats")
    print(f"{n_forms:,} surface forms: wikistats {stats['wikistats_bytes'] / 1e9:.1f} GB "
          f"({stats['sf_lines']:,} sfAndTotalCounts lines, {stats['entities']:,} entities, "
          f"{stats['context_vectors']:,} context vectors, {stats['context_entries']:,} "
          f"entries) written in {stats['generate_seconds']:.0f} s", flush=True)
    code = IMPORT.format(src=str(root / "wikistats"), out=str(root / "model"))
    report = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                       capture_output=True, text=True).stdout)
    shutil.rmtree(root / "wikistats")
    model_bytes = _disk(root / "model")
    print(f"  import {report['wall']:.0f} s wall ({report['cpu']:.0f} s CPU), peak RSS "
          f"{report['peak_rss'] / 2**30:.2f} GiB; {report['surface_forms']:,} surface forms, "
          f"{report['pairs']:,} pairs, {report['entities']:,} entities, "
          f"{report['context_vectors']:,} context vectors; model {model_bytes / 2**30:.2f} GiB "
          f"on disk", flush=True)
    code = LINK.format(model=str(root / "model"), corpus=str(root / "corpus.txt"))
    run = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                    capture_output=True, text=True).stdout)
    print(f"  load {run['load_seconds'] * 1000:.0f} ms; linking {run['bytes'] / 1e6:.1f} MB "
          f"at {run['bytes'] / 1e6 / run['seconds']:.2f} MB/s; RSS after linking "
          f"{run['after']['VmRSS'] / 2**30:.2f} GiB (anon {run['after']['RssAnon'] / 2**30:.2f},"
          f" file-backed {run['after']['RssFile'] / 2**30:.2f}), peak "
          f"{run['after']['VmHWM'] / 2**30:.2f} GiB", flush=True)
    shutil.rmtree(root)
    return {"surface_forms": n_forms, "generated": stats, "import": report,
            "model_bytes": model_bytes, "link": run}


def main(sizes: list[int], out: Path, corpus_mb: float = 10.0) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for n in sizes:
        results.append(measure_size(out, n, corpus_mb))
        (out / "scale.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("surface forms | import wall | import peak RSS | model on disk | load | "
          "RSS after linking")
    for r in results:
        print(f"{r['surface_forms']:>13,} | {r['import']['wall']:>9.0f} s | "
              f"{r['import']['peak_rss'] / 2**30:>11.2f} GiB | "
              f"{r['model_bytes'] / 2**30:>9.2f} GiB | "
              f"{r['link']['load_seconds'] * 1000:>4.0f} ms | "
              f"{r['link']['after']['VmRSS'] / 2**30:.2f} GiB")
    return 0
