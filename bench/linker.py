"""Benchmark of the embedded statistical linker on synthetic wikistats and a synthetic corpus.

    .venv/bin/python bench/linker.py [--before REF] [--surface-forms N] [--corpus-mb M]
    .venv/bin/python bench/linker.py --scale 1000000,3000000,13164312

Builds Spotlight-format wikistats (Zipf-like priors, 1-5 word surface forms, about 1.35 pairs
per form, context vectors for about half of the entities) and a corpus of 3 KB documents, then
for this checkout, and with --before for an older git revision on the same files, in fresh
processes: imports the model (time, peak memory), loads it (time, resident memory from /proc),
links the corpus in one process (MB/s; bench/linker_measure.py), scans the same text with a
bare pyahocorasick automaton of the same surface forms (the baseline), and links the first
documents of --long-mb sizes (1, 3 and 10 MB) as one document each, the largest also as 10 KB
documents. Prints each figure before and after.
--scale measures the model at full English size instead (bench/linker_scale.py).
Files go to bench/out/ (git-ignored) unless --out says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def make_forms(rng: np.random.Generator, n_forms: int) -> tuple[list[str], list[str]]:
    """Words, and `n_forms` distinct surface forms made of them: capitalised names (70%),
    lower-case phrases (25%) and acronyms."""
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
    return words, list(forms)[:n_forms]


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
    words, names = make_forms(rng, n_forms)
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
import json, resource, time
from longtail.linking.statistical import import_wikistats
started = time.perf_counter()
report = import_wikistats({src!r}, {out!r}, overwrite=True)
report["wall"] = time.perf_counter() - started
report["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(report))
"""


def run_python(code_root: Path | None, args: list[str]) -> dict:
    """A fresh interpreter whose `longtail` comes from code_root (None: this checkout)."""
    env = dict(os.environ)
    if code_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code_root), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True,
                          env=env)
    return json.loads(done.stdout)


def import_model(code_root: Path | None, src: Path, out: Path) -> dict:
    return run_python(code_root, ["-c", IMPORT.format(src=str(src), out=str(out))])


def checkout(ref: str, out: Path) -> Path:
    """The `pipeline/` of a git revision, unpacked as an importable `longtail` package."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], check=True,
                         capture_output=True, text=True).stdout.strip()
    root = out / f"code-{sha}"
    if not (root / "longtail").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "pipeline"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        (root / "pipeline").rename(root / "longtail")
    return root


def build(out: Path, surface_forms: int, corpus_mb: float) -> dict:
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
    (out / "build.json").write_text(json.dumps(stats), encoding="utf-8")
    return stats


def ratio(before: float | None, after: float, unit: str, better: str = "higher") -> str:
    if before is None:
        return f"{after:,.2f} {unit}"
    times = after / before if better == "higher" else before / after
    return f"{before:,.2f} -> {after:,.2f} {unit} ({times:.2f}x)"


def report(name: str, run: dict, imported: dict) -> dict:
    mb = run["bytes"] / 1e6
    figures = {
        "import_seconds": imported["wall"], "import_peak_gib": imported["peak_rss"] / 2**30,
        "load_ms": run["load_seconds"] * 1000,
        "link_mb_s": mb / run["link_seconds"], "link_mb_cpu_s": mb / run["link_cpu"],
        "annotate_mb_cpu_s": run["single_bytes"] / 1e6 / run["single_cpu"],
        "scan_mb_cpu_s": mb / run["scan_cpu"],
        "linker_over_scan": run["link_cpu"] / run["scan_cpu"],
        "rss_after_mib": run["after"]["VmRSS"] / 2**20,
        "find_all_mb_cpu_s": mb / run["spotter_cpu"],
    }
    if "long" in run:
        for size, one in run["long"].items():
            figures[f"long_s_per_mb {size}"] = one["cpu"] / (one["bytes"] / 1e6)
        largest = run["long"][max(run["long"], key=float)]
        figures["pieces_s_per_mb"] = run["pieces"]["cpu"] / (largest["bytes"] / 1e6)
        figures["long_over_pieces"] = (largest["cpu"] / run["pieces"]["cpu"])
    print(f"{name}: {run['docs']:,} documents, {run['annotations']:,} annotations, "
          f"{mb:.1f} MB linked in {run['link_seconds']:.1f} s"
          + (f"; longest document {largest['annotations']:,} annotations, as 10 KB pieces "
             f"{run['pieces']['annotations']:,}" if "long" in run else ""))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--surface-forms", type=int, default=1_000_000)
    parser.add_argument("--corpus-mb", type=float, default=50.0)
    parser.add_argument("--long-mb", default="1,3,10",
                        help="one document of each of these sizes in MB; the largest against "
                        "the same text in 10 KB documents ('': skip)")
    parser.add_argument("--before", metavar="REF",
                        help="also measure this git revision's linker and importer in the same "
                        "run, on the same files (e.g. the commit before a change)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "linker")
    parser.add_argument("--reuse", action="store_true",
                        help="measure again with the files of a previous run in --out")
    parser.add_argument("--scale", help="comma-separated numbers of surface forms: measure "
                        "import, disk, load and linking memory at each (bench/linker_scale.py)")
    args = parser.parse_args()
    out: Path = args.out
    if args.scale:
        import linker_scale

        return linker_scale.main([int(n) for n in args.scale.split(",")], out.parent / "scale")
    if args.reuse and (out / "build.json").is_file():
        stats = json.loads((out / "build.json").read_text(encoding="utf-8"))
        print(f"reusing {out}: {stats['sf_lines']:,} sfAndTotalCounts lines")
    else:
        build(out, args.surface_forms, args.corpus_mb)
    versions: dict[str, Path | None] = {"this checkout": None}
    if args.before:
        versions = {f"before ({args.before})": checkout(args.before, out), **versions}
    measure = [str(ROOT / "bench" / "linker_measure.py"), str(out / "model"),
               str(out / "corpus.txt"), str(out / "lexicon.txt"), "--long-mb",
               str(args.long_mb)]
    figures = {}
    for name, code in versions.items():
        imported = import_model(code, out / "wikistats", out / "model")
        print(f"{name}: import {imported['wall']:.1f} s, peak RSS "
              f"{imported['peak_rss'] / 2**20:,.0f} MiB; {imported['surface_forms']:,} surface "
              f"forms, {imported['pairs']:,} pairs, {imported['entities']:,} entities, "
              f"{imported['context_vectors']:,} context vectors", flush=True)
        figures[name] = report(name, run_python(code, measure), imported)
    before = figures[next(iter(figures))] if args.before else {}
    after = figures["this checkout"]
    after_sizes = [key.split(" ")[1] for key in after if key.startswith("long_s_per_mb ")]
    rows = [
        ("link, annotate_many (MB per CPU second: per core)", "link_mb_cpu_s", "MB/s",
         "higher"),
        ("link, annotate_many (MB per wall second)", "link_mb_s", "MB/s", "higher"),
        ("link, annotate one text at a time (MB per CPU second)", "annotate_mb_cpu_s", "MB/s",
         "higher"),
        ("baseline: bare pyahocorasick scan (MB per CPU second)", "scan_mb_cpu_s", "MB/s",
         "higher"),
        ("linker CPU time / scan CPU time", "linker_over_scan", "x", "lower"),
        *((f"one document of {m} MB (CPU s per MB)", f"long_s_per_mb {m}", "s/MB", "lower")
          for m in after_sizes),
        ("the largest in 10 KB documents (CPU s per MB)", "pieces_s_per_mb", "s/MB", "lower"),
        ("largest document / 10 KB documents", "long_over_pieces", "x", "lower"),
        ("model import (s)", "import_seconds", "s", "lower"),
        ("model import peak RSS", "import_peak_gib", "GiB", "lower"),
        ("model load, fresh process", "load_ms", "ms", "lower"),
        ("RSS after linking", "rss_after_mib", "MiB", "lower"),
        ("Spotter.find_all (MB per CPU second)", "find_all_mb_cpu_s", "MB/s", "higher"),
    ]
    print("figure: before -> after (improvement)" if before else "figure")
    for label, key, unit, better in rows:
        if key in after:
            print(f"  {label}: {ratio(before.get(key), after[key], unit, better)}")
    (out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
