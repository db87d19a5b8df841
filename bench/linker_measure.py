"""One measurement of the embedded linker, run by bench/linker.py in a fresh process.

    python bench/linker_measure.py MODEL CORPUS LEXICON [--long-mb M]

Whichever `longtail` is first on the path is measured (bench/linker.py puts an older version's
source first to measure it next to this one). Prints one JSON object: load time, resident
memory, annotate_many and annotate throughput, a bare pyahocorasick scan of the same text and
lexicon, Spotter.find_all, and with --long-mb the time per MB of one long document of short
sentences (the corpus with a full stop every 12 words) at each size, against the text of the
largest cut into 10 KB documents. Times are wall and CPU seconds of this one process.
"""

from __future__ import annotations

import argparse
import json
import time


def memory() -> dict[str, int]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out


def cut(text: str, size: int) -> list[str]:
    """The text in pieces of about `size` characters, each cut after a space."""
    pieces, start = [], 0
    while start < len(text):
        end = text.find(" ", start + size)
        end = len(text) if end < 0 else end + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def timed(linker, docs: list[str]) -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    annotations = sum(len(r.annotations) for r in linker.annotate_many(enumerate(docs)))
    return time.perf_counter() - started, time.process_time() - cpu, annotations


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("corpus")
    parser.add_argument("lexicon")
    parser.add_argument("--long-mb", default="", help="comma-separated sizes in MB")
    args = parser.parse_args()

    import ahocorasick

    import longtail
    from longtail.linking.statistical import Spotter, StatisticalLinker

    result: dict = {"code": str(longtail.__file__), "base": memory()}
    started = time.perf_counter()
    linker = StatisticalLinker.load(args.model, confidence=0.4, support=20)
    result["load_seconds"] = time.perf_counter() - started
    result["loaded"] = memory()
    with open(args.corpus, encoding="utf-8") as handle:
        docs = handle.read().splitlines()
    result["bytes"] = sum(len(d.encode("utf-8")) for d in docs)
    result["docs"] = len(docs)
    linker.annotate(docs[0])
    result["link_seconds"], result["link_cpu"], result["annotations"] = timed(linker, docs)
    result["after"] = memory()
    sample = docs[: max(1, len(docs) // 10)]
    result["single_bytes"] = sum(len(d.encode("utf-8")) for d in sample)
    cpu = time.process_time()
    for d in sample:
        linker.annotate(d)
    result["single_cpu"] = time.process_time() - cpu

    sizes = [float(m) for m in args.long_mb.split(",") if m]
    if sizes:
        words, size = [], 0
        for d in docs:
            words.extend(d.split(" "))
            size += len(d) + 1
            if size >= max(sizes) * 1e6:
                break
        # sentences of 12 words, as dense with mentions as the corpus: many context windows
        text = " ".join(w + ("." if i % 12 == 11 and w[-1:].isalnum() else "")
                        for i, w in enumerate(words))
        pieces = cut(text, 10_000)
        fresh = StatisticalLinker.load(args.model, confidence=0.4, support=20)
        fresh.annotate(docs[0])
        seconds, cpu, found = timed(fresh, pieces)
        result["pieces"] = {"docs": len(pieces), "seconds": seconds, "cpu": cpu,
                            "annotations": found}
        del fresh
        result["long"] = {}
        for mb in sizes:
            part = text[:text.find(" ", int(mb * 1e6)) % (len(text) + 1)]
            fresh = StatisticalLinker.load(args.model, confidence=0.4, support=20)
            fresh.annotate(docs[0])
            seconds, cpu, found = timed(fresh, [part])
            result["long"][mb] = {"bytes": len(part.encode("utf-8")), "seconds": seconds,
                                  "cpu": cpu, "annotations": found}

    with open(args.lexicon, encoding="utf-8") as handle:
        names = [line.rstrip("\n") for line in handle]
    automaton = ahocorasick.Automaton()
    for i, n in enumerate(names):
        automaton.add_word(n, i)
    automaton.make_automaton()
    started, cpu = time.perf_counter(), time.process_time()
    result["matches"] = sum(1 for d in docs for _ in automaton.iter(d))
    result["scan_seconds"] = time.perf_counter() - started
    result["scan_cpu"] = time.process_time() - cpu
    del automaton
    started = time.perf_counter()
    spotter = Spotter.build(names)
    result["spotter_build"] = time.perf_counter() - started
    cpu = time.process_time()
    result["occurrences"] = sum(1 for d in docs for _ in spotter.find_all(d))
    result["spotter_cpu"] = time.process_time() - cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
