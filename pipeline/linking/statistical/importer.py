"""Compile Spotlight's wikistats files into a model folder, as Spotlight's `CreateSpotlightModel`
and `MemoryStoreIndexer` build their stores:

- surface forms linked fewer than `min_surface_form_count` times (2 for English) are dropped;
  duplicate names (after `’`→`'` and whitespace clean-up) are summed;
- the "here be dragons" correction: the text count of every sub-n-gram of a longer surface
  form is reduced by 1.25 x that form's linked count, longest forms first, while both counts
  are positive (so `York`'s count stops including the `York` of `New York`);
- the FSA dictionary holds the stemmed token sequences of forms with annotation probability
  >= 0.05; the lowercase map holds, for lowercase lines (linked count -1), the forms whose
  lowercase version is not itself a form linked more than `min_surface_form_count` times;
- pairs whose surface form or URI is unknown are dropped; pair counts are summed;
- context tokens counted fewer than `min_context_count` times (3 for English) are pruned; the
  vocabulary counts every kept context count plus 1 per token occurrence in a surface form.

Not reproduced: redirect and disambiguation resolution (`WikipediaToDBpediaClosure`; the
wikistats already use final URIs) and Spotlight's lossy count quantization (counts are exact).
"""

from __future__ import annotations

import os
import shutil
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from longtail.errors import UsageError
from longtail.linking.statistical.context_import import import_contexts
from longtail.linking.statistical.model import (
    LONGEST_SPELLING,
    STOP_WORDS_FILE,
    ModelWriter,
    index_dtype,
)
from longtail.linking.statistical.spotter import MIX, contains_sorted
from longtail.linking.statistical.tokenizer import (
    Tokenizer,
    default_stop_words,
    normalize_surface_form,
    stable_hash,
    stop_words_text,
)
from longtail.linking.statistical.wikistats import (
    PAIR_COUNTS,
    SF_AND_TOTAL_COUNTS,
    TOKEN_COUNTS,
    URI_COUNTS,
    ReadStats,
    find_wikistats_file,
    open_text,
    read_pair_counts,
    read_sf_and_total_counts,
    read_uri_counts,
)

DEFAULT_SPOT_WEIGHTS = (1.0, 0.2, -0.2, 0.1)
FSA_MIN_ANNOTATION_PROBABILITY = 0.05
SMOOTHING_LAMBDA = 0.2
MAX_CANDIDATES = 10
MAX_CONTEXT = 200
_MASK = (1 << 64) - 1
_TYPE_PREFIXES = (("http://dbpedia.org/ontology/", "DBpedia:"), ("http://schema.org/", "Schema:"),
                  ("http://www.wikidata.org/entity/", "Wikidata:"))


def import_wikistats(src_dir: str | Path, out_dir: str | Path,
                     progress: Callable[[str], None] | None = None, *,
                     instance_types: str | Path | None = None,
                     stop_words: Iterable[str] | None = None,
                     min_surface_form_count: int = 2, min_context_count: int = 3,
                     spot_weights: tuple[float, float, float, float] = DEFAULT_SPOT_WEIGHTS,
                     overwrite: bool = False) -> dict:
    """Build a model folder from uriCounts, pairCounts, sfAndTotalCounts and (optionally)
    tokenCounts in `src_dir`; returns a report of counts, skipped lines and seconds.

    `instance_types` is an optional TSV of `URI \\t type[,type...]` (one or more lines per URI).
    `stop_words` defaults to `default_stop_words()`; they are saved with the model.
    `spot_weights` weigh (annotation probability, abbreviation, number, bias) into the spot
    score, Spotlight's `spotter_thresholds.txt` (its default is 1.0 0.2 -0.2 0.1).
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    for name, value in (("min_surface_form_count", min_surface_form_count),
                        ("min_context_count", min_context_count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"{name} must be an integer >= 0, got {value!r}")
    if len(spot_weights) != 4:
        raise UsageError(f"spot_weights needs 4 numbers (probability, abbreviation, number, "
                         f"bias), got {spot_weights!r}")
    src, out = Path(src_dir), Path(out_dir)
    files = _input_files(src)
    if instance_types is not None and not Path(instance_types).is_file():
        raise UsageError(f"instance types file not found: {instance_types}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"output folder exists and is not empty: {out} (choose another)")
    words = frozenset(default_stop_words() if stop_words is None else stop_words)
    tokenizer = Tokenizer(words)
    work = out.parent / f".{out.name}.importing-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        report = _build(files, work, tokenizer, say, instance_types, min_surface_form_count,
                        min_context_count, spot_weights)
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report["seconds"] = round(time.perf_counter() - started, 3)
    say(f"model written to {out} in {report['seconds']:.1f} s")
    return report


def _input_files(src: Path) -> dict[str, Path | None]:
    if not src.is_dir():
        raise UsageError(f"wikistats folder not found: {src}")
    files = {name: find_wikistats_file(src, name)
             for name in (URI_COUNTS, PAIR_COUNTS, SF_AND_TOTAL_COUNTS, TOKEN_COUNTS)}
    missing = [n for n in (URI_COUNTS, PAIR_COUNTS, SF_AND_TOTAL_COUNTS) if files[n] is None]
    if missing:
        raise UsageError(f"{src} lacks wikistats files: {', '.join(missing)} "
                         f"(plain, .bz2 or .gz)")
    return files


def _build(files: dict[str, Path | None], work: Path, tokenizer: Tokenizer,
           say: Callable[[str], None], instance_types: str | Path | None, min_sf: int,
           min_context: int, spot_weights: tuple[float, ...]) -> dict:
    writer = ModelWriter(work)
    stats = {name: ReadStats() for name in files}

    sf = _read_surface_forms(files[SF_AND_TOTAL_COUNTS], stats[SF_AND_TOTAL_COUNTS], min_sf)
    if not len(sf["hash"]):
        _empty(files[SF_AND_TOTAL_COUNTS], stats[SF_AND_TOTAL_COUNTS],
               f"no surface form linked at least {min_sf} times")
    say(f"surface forms: {sf['read']:,} read, {len(sf['hash']):,} kept "
        f"(linked >= {min_sf}), {len(sf['lower_hash']):,} lowercase lines")
    tokens = _tokenize_surface_forms(sf["names"], tokenizer)
    _correct_total_counts(sf, tokens)
    fsa_accept, fsa_prefixes = _fsa(sf, tokens)
    say(f"surface forms tokenized; FSA: {len(fsa_accept):,} sequences, "
        f"{len(fsa_prefixes):,} prefixes")
    lower = _lowercase_map(sf, min_sf)

    entities = _read_entities(files[URI_COUNTS], stats[URI_COUNTS])
    if not len(entities["uris"]):
        _empty(files[URI_COUNTS], stats[URI_COUNTS], "no entity")
    say(f"entities: {len(entities['uris']):,}")
    pairs = _read_pairs(files[PAIR_COUNTS], stats[PAIR_COUNTS], sf["hash"], entities)
    if not len(pairs["entity"]):
        _empty(files[PAIR_COUNTS], stats[PAIR_COUNTS],
               f"no pair of a kept surface form and a known entity ({pairs['dropped_sf']:,} "
               f"with an unknown or rare surface form, {pairs['dropped_entity']:,} with an "
               f"unknown entity)")
    say(f"pairs: {len(pairs['entity']):,} kept, {pairs['dropped_sf']:,} with unknown surface "
        f"form, {pairs['dropped_entity']:,} with unknown entity")
    contexts = import_contexts(files[TOKEN_COUNTS], stats[TOKEN_COUNTS], writer,
                               entities["hash"], entities["id_by_hash"], len(entities["uris"]),
                               tokens["extra_vocabulary"], min_context)
    say(f"context vectors: {contexts['context_vectors']:,}, vocabulary "
        f"{contexts['vocabulary']:,}")
    types, type_offsets, type_ids, typed, unmatched = _read_types(instance_types, entities)

    writer.array("sf_hash", sf["hash"])
    writer.array("sf_annotated", _narrow(sf["annotated"]))
    writer.array("sf_total", _narrow(sf["total"]))
    writer.strings("sf_names", sf["names"])
    writer.array("sf_pair_offsets", pairs["offsets"])
    writer.array("pair_entity", pairs["entity"])
    writer.array("pair_count", _narrow(pairs["count"]))
    writer.array("fsa_accept", fsa_accept)
    writer.array("fsa_prefixes", fsa_prefixes)
    for name, values in lower.items():
        writer.array(name, values)
    writer.array("entity_support", _narrow(entities["support"]))
    writer.strings("entity_uris", entities["uris"])
    writer.array("entity_type_offsets", type_offsets)
    writer.array("entity_type_ids", type_ids)
    skipped = sum(s.skipped for s in stats.values())
    report = {
        "surface_forms": len(sf["hash"]), "pairs": len(pairs["entity"]),
        "entities": len(entities["uris"]), "context_vectors": contexts["context_vectors"],
        "skipped_lines": skipped, "seconds": 0.0,
        "surface_forms_read": sf["read"], "surface_forms_below_min_count": sf["below_min"],
        "lowercase_forms": len(lower["lower_hash"]), "fsa_sequences": len(fsa_accept),
        "pairs_dropped_unknown_surface_form": pairs["dropped_sf"],
        "pairs_dropped_unknown_entity": pairs["dropped_entity"],
        "context_vectors_dropped_unknown_entity": contexts["dropped_entity"],
        "vocabulary": contexts["vocabulary"], "typed_entities": typed,
        "types_unmatched_uris": unmatched,
    }
    for name, stat in stats.items():
        report[f"skipped_{name}"] = stat.skipped
    details = "; ".join(f"{n}: {s.describe()}" for n, s in stats.items() if s.skipped)
    report["skipped_detail"] = details or "none"
    for name, stat in stats.items():
        if stat.skipped:
            say(f"{name}: skipped {stat.skipped:,} malformed lines ({stat.describe()}); "
                f"first: line {stat.examples[0][0]} {stat.examples[0][2]!r}")
    writer.text(STOP_WORDS_FILE, stop_words_text(tokenizer.stop_words))
    writer.finish({
        "surface_forms": len(sf["hash"]), "pairs": len(pairs["entity"]),
        "entities": len(entities["uris"]), "context_vectors": contexts["context_vectors"],
        "vocabulary": contexts["vocabulary"], "lowercase_forms": len(lower["lower_hash"]),
        "total_annotated": int(sf["annotated"].sum()),
        "total_support": int(entities["support"].sum()),
        "total_tokens": contexts["total_tokens"], "types": types,
        "min_surface_form_count": min_sf, "min_context_count": min_context,
        "spot_weights": list(spot_weights),
        "fsa_min_annotation_probability": FSA_MIN_ANNOTATION_PROBABILITY,
        "smoothing_lambda": SMOOTHING_LAMBDA, "max_candidates": MAX_CANDIDATES,
        "max_context": MAX_CONTEXT,
        LONGEST_SPELLING: max((len(n.lower()) for n in sf["names"]), default=0),
        "sources": {n: (str(p) if p else None) for n, p in files.items()},
    })
    return report


def _empty(path: Path, stats: ReadStats, what: str) -> None:
    """An empty model links nothing: stop with what was read instead of writing one."""
    skipped = f", skipped {stats.skipped:,} ({stats.describe()})" if stats.skipped else ""
    raise UsageError(f"the model would be empty: {what} in {path} ({stats.lines:,} lines "
                     f"read{skipped})")


def _narrow(counts: np.ndarray) -> np.ndarray:
    """int32 when every count fits (they do for Wikipedia), else int64."""
    fits = len(counts) == 0 or (counts.min() >= -(2**31) and counts.max() < 2**31)
    return counts.astype(np.int32 if fits else np.int64)


def _as_numpy(values: array, dtype: type) -> np.ndarray:
    return np.frombuffer(values, dtype=dtype) if len(values) else np.zeros(0, dtype=dtype)


def _group_starts(sorted_values: np.ndarray) -> np.ndarray:
    """Index of the first element of each run of equal values in a sorted array."""
    if len(sorted_values) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))


def _read_surface_forms(path: Path, stats: ReadStats, min_sf: int) -> dict:
    names: list[str] = []
    linked, totals = array("q"), array("q")
    lower_hash, lower_count = array("Q"), array("q")
    for row in read_sf_and_total_counts(path, stats):
        name = normalize_surface_form(row.surface_form)
        if row.linked == -1:
            lower_hash.append(stable_hash(name))
            lower_count.append(row.total)
        else:
            names.append(name)
            linked.append(row.linked)
            totals.append(row.total)
    hashes = np.fromiter((stable_hash(n) for n in names), dtype=np.uint64, count=len(names))
    order = np.argsort(hashes, kind="stable")
    starts = _group_starts(hashes[order])
    linked_np = _as_numpy(linked, dtype=np.int64)[order]
    totals_np = _as_numpy(totals, dtype=np.int64)[order]
    full_hash = hashes[order][starts]
    full_linked = np.add.reduceat(linked_np, starts) if len(starts) else linked_np[:0]
    full_total = np.add.reduceat(totals_np, starts) if len(starts) else totals_np[:0]
    if len(starts):
        unknown = np.maximum.reduceat((totals_np == -1).astype(np.int8), starts).astype(bool)
        full_total[unknown] = -1
    first = order[starts]
    kept = np.flatnonzero(full_linked >= min_sf)
    lh = _as_numpy(lower_hash, dtype=np.uint64)
    lorder = np.argsort(lh, kind="stable")
    lstarts = _group_starts(lh[lorder])
    lends = np.append(lstarts[1:], len(lorder)) - 1 if len(lstarts) else lstarts  # last wins
    return {
        "read": len(names), "below_min": int(len(full_hash) - len(kept)),
        "hash": full_hash[kept], "annotated": full_linked[kept], "total": full_total[kept],
        "names": [names[i] for i in first[kept].tolist()],
        "full_hash": full_hash, "full_linked": full_linked,
        "lower_hash": lh[lorder][lstarts],
        "lower_count": _as_numpy(lower_count, dtype=np.int64)[lorder][lends],
    }


def _tokenize_surface_forms(names: list[str], tokenizer: Tokenizer) -> dict:
    """Per surface form: stem keys (CSR), whole-sequence hash, proper-prefix hashes and all
    sub-n-gram hashes, and the stems to add to the vocabulary."""
    keys_of: dict[str, int] = {}
    extra: Counter[str] = Counter()
    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    seq = array("Q")
    prefix_hash, prefix_sf = array("Q"), array("q")
    sub_hash, sub_sf = array("Q"), array("q")
    n_keys = 0
    for i, name in enumerate(names):
        stems = tokenizer.surface_form_stems(name)
        extra.update(stems)
        keys = []
        for stem in stems:
            key = keys_of.get(stem)
            if key is None:
                key = keys_of[stem] = stable_hash(stem)
            keys.append(key)
        n = len(keys)
        n_keys += n
        offsets[i + 1] = n_keys
        value = 0
        for j, key in enumerate(keys):
            value = (value * MIX + key) & _MASK
            if j < n - 1:
                prefix_hash.append(value)
                prefix_sf.append(i)
        seq.append(value)
        if n > 1:
            for a in range(n):
                value = 0
                for b in range(a, n - 1 if a == 0 else n):  # every n-gram but the whole
                    value = (value * MIX + keys[b]) & _MASK
                    sub_hash.append(value)
                    sub_sf.append(i)
    return {
        "lengths": np.diff(offsets), "seq": _as_numpy(seq, dtype=np.uint64),
        "prefix_hash": _as_numpy(prefix_hash, dtype=np.uint64),
        "prefix_sf": _as_numpy(prefix_sf, dtype=np.int64),
        "sub_hash": _as_numpy(sub_hash, dtype=np.uint64),
        "sub_sf": _as_numpy(sub_sf, dtype=np.int64), "extra_vocabulary": extra,
    }


def _correct_total_counts(sf: dict, tokens: dict) -> None:
    """Spotlight's sub-n-gram total count correction, in place on `sf["total"]`."""
    seq, annotated = tokens["seq"], sf["annotated"]
    if len(tokens["sub_hash"]) == 0:
        return
    ids = np.arange(len(seq))
    order = np.lexsort((ids, -annotated, seq))  # per sequence: most linked form, then lowest id
    starts = _group_starts(seq[order])
    table, best = seq[order][starts], order[starts]
    found, pos = contains_sorted(table, tokens["sub_hash"])
    parents = tokens["sub_sf"][found]
    subs = best[pos[found]]
    by_length = np.argsort(-tokens["lengths"][parents], kind="stable")
    total = sf["total"].tolist()
    linked = annotated.tolist()
    for parent, sub in zip(parents[by_length].tolist(), subs[by_length].tolist(), strict=True):
        if total[sub] > 0 and total[parent] > 0:
            total[sub] = int(total[sub] - 1.25 * linked[parent])
    sf["total"] = np.array(total, dtype=np.int64)


def _annotation_probability(sf: dict) -> np.ndarray:
    total = sf["total"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = sf["annotated"] / total
    p[sf["total"] == -1] = 1.0
    p[sf["total"] == 0] = 0.0
    return p


def _fsa(sf: dict, tokens: dict) -> tuple[np.ndarray, np.ndarray]:
    keep = ((sf["annotated"] > 0) & (_annotation_probability(sf) >= FSA_MIN_ANNOTATION_PROBABILITY)
            & (tokens["lengths"] > 0))
    accept = np.unique(tokens["seq"][keep])
    prefixes = np.unique(tokens["prefix_hash"][keep[tokens["prefix_sf"]]])
    return accept, prefixes


def _lowercase_map(sf: dict, min_sf: int) -> dict[str, np.ndarray]:
    lowered = np.fromiter((stable_hash(n.lower()) for n in sf["names"]), dtype=np.uint64,
                          count=len(sf["names"]))
    found, pos = contains_sorted(sf["full_hash"], lowered)
    rare = ~found | (sf["full_linked"][pos] <= min_sf)
    ids = np.flatnonzero(rare)
    keys = lowered[ids]
    listed, lpos = contains_sorted(sf["lower_hash"], keys)
    ids, keys, lpos = ids[listed], keys[listed], lpos[listed]
    order = np.lexsort((ids, keys))
    ids, keys, lpos = ids[order], keys[order], lpos[order]
    starts = _group_starts(keys)
    offsets = np.append(starts, len(keys)).astype(index_dtype(len(keys)))
    return {"lower_hash": keys[starts], "lower_count": _narrow(sf["lower_count"][lpos[starts]]),
            "lower_offsets": offsets, "lower_sf": ids.astype(np.int32)}


def _read_entities(path: Path, stats: ReadStats) -> dict:
    uris: list[str] = []
    support = array("q")
    for row in read_uri_counts(path, stats):
        uris.append(row.uri)
        support.append(row.count)
    hashes = np.fromiter((stable_hash(u) for u in uris), dtype=np.uint64, count=len(uris))
    order = np.argsort(hashes, kind="stable")
    starts = _group_starts(hashes[order])
    summed = np.add.reduceat(_as_numpy(support, dtype=np.int64)[order], starts) \
        if len(starts) else np.zeros(0, dtype=np.int64)
    unique_uris = [uris[i] for i in order[starts].tolist()]
    by_uri = sorted(range(len(unique_uris)), key=unique_uris.__getitem__)
    entity_of_group = np.empty(len(unique_uris), dtype=np.int64)
    entity_of_group[by_uri] = np.arange(len(unique_uris))
    return {"uris": [unique_uris[i] for i in by_uri],
            "support": summed[by_uri].astype(np.int64) if len(by_uri) else summed,
            "hash": hashes[order][starts], "id_by_hash": entity_of_group}


def _read_pairs(path: Path, stats: ReadStats, sf_hash: np.ndarray, entities: dict) -> dict:
    sf_ids, entity_ids, counts = [], [], []
    dropped_sf = dropped_entity = 0
    batch: list[tuple[int, int, int]] = []

    def flush() -> None:
        nonlocal dropped_sf, dropped_entity
        if not batch:
            return
        sh, uh, cn = (np.array(col, dtype=dt) for col, dt in
                      zip(zip(*batch, strict=True), (np.uint64, np.uint64, np.int64), strict=True))
        batch.clear()
        sf_found, sf_pos = contains_sorted(sf_hash, sh)
        e_found, e_pos = contains_sorted(entities["hash"], uh)
        ok = sf_found & e_found
        dropped_sf += int((~sf_found).sum())
        dropped_entity += int((sf_found & ~e_found).sum())
        sf_ids.append(sf_pos[ok])
        entity_ids.append(entities["id_by_hash"][e_pos[ok]])
        counts.append(cn[ok])

    for row in read_pair_counts(path, stats):
        batch.append((stable_hash(normalize_surface_form(row.surface_form)),
                      stable_hash(row.uri), row.count))
        if len(batch) >= 500_000:
            flush()
    flush()
    n_sf, n_entities = len(sf_hash), max(len(entities["uris"]), 1)
    sfs = np.concatenate(sf_ids) if sf_ids else np.zeros(0, dtype=np.int64)
    ents = np.concatenate(entity_ids) if entity_ids else np.zeros(0, dtype=np.int64)
    cnts = np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)
    key = sfs.astype(np.int64) * n_entities + ents
    unique_keys, inverse = np.unique(key, return_inverse=True)
    summed = np.bincount(inverse, weights=cnts, minlength=len(unique_keys)).astype(np.int64)
    sfs, ents = unique_keys // n_entities, unique_keys % n_entities
    order = np.lexsort((ents, -summed, sfs))
    sfs, ents, summed = sfs[order], ents[order], summed[order]
    offsets = np.searchsorted(sfs, np.arange(n_sf + 1)).astype(index_dtype(len(sfs)))
    return {"offsets": offsets, "entity": ents.astype(np.int32),
            "count": summed.astype(np.int64), "dropped_sf": dropped_sf,
            "dropped_entity": dropped_entity}


def _short_type(name: str) -> str:
    for prefix, short in _TYPE_PREFIXES:
        if name.startswith(prefix):
            return short + name[len(prefix):]
    return name


def _read_types(path: str | Path | None, entities: dict
                ) -> tuple[list[str], np.ndarray, np.ndarray, int, int]:
    n = len(entities["uris"])
    if path is None:
        return [], np.zeros(n + 1, dtype=np.uint32), np.zeros(0, dtype=np.uint16), 0, 0
    from longtail.linking.annotation import canonical_uri

    per_entity: dict[int, list[str]] = {}
    unmatched = 0
    with open_text(path) as handle:
        for line in handle:
            uri, _, names = line.rstrip("\n").partition("\t")
            if not uri.strip() or not names.strip():
                continue
            found, pos = contains_sorted(entities["hash"], np.array(
                [stable_hash(canonical_uri(uri))], dtype=np.uint64))
            if not found[0]:
                unmatched += 1
                continue
            entity = int(entities["id_by_hash"][pos[0]])
            bucket = per_entity.setdefault(entity, [])
            for name in names.split(","):
                if (name := _short_type(name.strip())) and name not in bucket:
                    bucket.append(name)
    types = sorted({t for names in per_entity.values() for t in names})
    if len(types) >= 2**16:
        raise UsageError(f"too many distinct types in {path}: {len(types):,} (limit 65,535)")
    type_id = {t: i for i, t in enumerate(types)}
    lengths = np.zeros(n, dtype=np.int64)
    for entity, names in per_entity.items():
        lengths[entity] = len(names)
    offsets = np.zeros(n + 1, dtype=np.uint32)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.zeros(int(offsets[-1]), dtype=np.uint16)
    for entity, names in per_entity.items():
        ids[int(offsets[entity]):int(offsets[entity + 1])] = [type_id[t] for t in names]
    return types, offsets, ids, len(per_entity), unmatched
