"""tokenCounts into the vocabulary and the per-entity context vectors of a model folder.

As Spotlight's `TokenSource` and `TokenOccurrenceSource`: tokens (already stemmed by whoever
wrote the file) counted fewer than `min_count` times for an entity are pruned; the vocabulary
count of a token is the sum of its kept counts over every line, plus 1 for each occurrence of
the stem in a surface form; a line whose entity is not in uriCounts adds to the vocabulary but
gives no context vector; two lines for one entity are merged by summing.

Vectors are first appended to scratch files in file order, then regrouped by entity in chunks,
so memory stays bounded by the vocabulary, not by the 500M+ (entity, token) entries of the full
English file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import chain, compress, count
from pathlib import Path

import numpy as np

from longtail.linking.statistical.model import ModelWriter, expand_ranges, index_dtype
from longtail.linking.statistical.spotter import contains_sorted
from longtail.linking.statistical.tokenizer import stable_hash
from longtail.linking.statistical.wikistats import ReadStats, read_token_counts

_FLUSH_ENTRIES = 1_000_000
_CHUNK_ENTRIES = 4_000_000


def import_contexts(path: Path | None, stats: ReadStats, writer: ModelWriter,
                    entity_hash: np.ndarray, entity_id_by_hash: np.ndarray, n_entities: int,
                    extra_vocabulary: Counter, min_count: int) -> dict:
    """Write vocab_hash, vocab_count, entity_context_offsets, entity_context_total,
    context_token and context_count; return their counts."""
    folder = writer.folder
    token_index: defaultdict[str, int] = defaultdict(count().__next__)  # new token: next id
    vocab_counts = np.zeros(0, dtype=np.int64)
    segments: list[np.ndarray] = []
    written = dropped = 0
    lines: list[tuple[str, tuple[str, ...], tuple[int, ...]]] = []
    scratch_tokens, scratch_counts = folder / ".context_tokens.tmp", folder / ".context_counts.tmp"
    with open(scratch_tokens, "wb") as out_tokens, open(scratch_counts, "wb") as out_counts:
        def flush() -> None:
            """Vocabulary counts and scratch vectors for a chunk of lines, vectorised."""
            nonlocal written, dropped, vocab_counts
            if not lines:
                return
            lengths = np.fromiter((len(t) for _, t, _ in lines), dtype=np.int64,
                                  count=len(lines))
            counts = np.fromiter(chain.from_iterable(c for _, _, c in lines), dtype=np.int64,
                                 count=int(lengths.sum()))
            kept = counts >= min_count
            tokens = compress(chain.from_iterable(t for _, t, _ in lines), kept.tolist())
            ids = np.fromiter(map(token_index.__getitem__, tokens), dtype=np.int64,
                              count=int(kept.sum()))
            counts = counts[kept]
            if len(token_index) > len(vocab_counts):
                vocab_counts = np.concatenate(
                    [vocab_counts, np.zeros(len(token_index) - len(vocab_counts), np.int64)])
            vocab_counts += np.bincount(ids, weights=counts,
                                        minlength=len(vocab_counts)).astype(np.int64)
            owner = np.repeat(np.arange(len(lines)), lengths)[kept]
            kept_per_line = np.bincount(owner, minlength=len(lines))
            found, pos = contains_sorted(entity_hash, np.fromiter(
                (stable_hash(uri) for uri, _, _ in lines), dtype=np.uint64, count=len(lines)))
            dropped += int((~found).sum())
            useful = found[owner]
            ids.astype(np.uint32)[useful].tofile(out_tokens)
            counts.astype(np.uint64)[useful].tofile(out_counts)
            with_vector = np.flatnonzero(found & (kept_per_line > 0))
            starts = written + np.cumsum(kept_per_line * found) - kept_per_line * found
            segments.append(np.stack([entity_id_by_hash[pos[with_vector]],
                                      starts[with_vector], kept_per_line[with_vector]]))
            written += int(useful.sum())
            lines.clear()

        size = 0
        for row in (read_token_counts(path, stats) if path is not None else ()):
            if row.tokens:
                tokens, counts = zip(*row.tokens, strict=True)
                lines.append((row.uri, tokens, counts))
                size += len(tokens)
            else:
                lines.append((row.uri, (), ()))
            if size >= _FLUSH_ENTRIES:
                flush()
                size = 0
        flush()

    extra = np.fromiter(map(token_index.__getitem__, extra_vocabulary), dtype=np.int64,
                        count=len(extra_vocabulary))
    counts_np = np.zeros(len(token_index), dtype=np.int64)
    counts_np[:len(vocab_counts)] = vocab_counts
    np.add.at(counts_np, extra, np.fromiter(extra_vocabulary.values(), dtype=np.int64,
                                            count=len(extra)))
    strings = sorted(token_index, key=token_index.__getitem__)
    vocab_hash = np.fromiter(map(stable_hash, strings), dtype=np.uint64, count=len(strings))
    order = np.argsort(vocab_hash, kind="stable")
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    writer.array("vocab_hash", vocab_hash[order])
    writer.array("vocab_count", counts_np[order])

    table = np.concatenate(segments, axis=1) if segments else np.zeros((3, 0), np.int64)
    vectors = _regroup(folder, writer, scratch_tokens, scratch_counts, written, remap,
                       table[0], table[1], table[2], n_entities)
    scratch_tokens.unlink()
    scratch_counts.unlink()
    return {"context_vectors": vectors, "vocabulary": len(order),
            "total_tokens": int(counts_np.sum()), "dropped_entity": dropped}


def _regroup(folder: Path, writer: ModelWriter, scratch_tokens: Path, scratch_counts: Path,
             written: int, remap: np.ndarray, seg_entity: np.ndarray, seg_start: np.ndarray,
             seg_length: np.ndarray, n_entities: int) -> int:
    tokens_in = (np.memmap(scratch_tokens, dtype=np.uint32, mode="r") if written
                 else np.zeros(0, np.uint32))
    counts_in = (np.memmap(scratch_counts, dtype=np.uint64, mode="r") if written
                 else np.zeros(0, np.uint64))
    vocabulary = max(len(remap), 1)
    lengths = np.zeros(n_entities, dtype=np.int64)
    totals = np.zeros(n_entities, dtype=np.int64)
    order = np.argsort(seg_entity, kind="stable")
    entity_sorted = seg_entity[order]
    largest_count = 0
    out_entries = 0
    with writer.output("context_token.bin") as out_tokens, \
            writer.output("context_count.bin") as out_counts:
        begin = 0
        while begin < len(order):
            end = _chunk_end(entity_sorted, seg_length[order], begin)
            chunk = order[begin:end]
            index = expand_ranges(seg_start[chunk], seg_length[chunk])
            entity = np.repeat(seg_entity[chunk], seg_length[chunk])
            key = entity * vocabulary + remap[tokens_in[index].astype(np.int64)]
            unique_keys, inverse = np.unique(key, return_inverse=True)
            summed = np.bincount(inverse, weights=counts_in[index].astype(np.float64),
                                 minlength=len(unique_keys)).astype(np.int64)
            owner = unique_keys // vocabulary
            out_tokens.write((unique_keys % vocabulary).astype(np.uint32))
            out_counts.write(summed.astype(np.uint32))
            lengths += np.bincount(owner, minlength=n_entities)
            totals += np.bincount(owner, weights=summed, minlength=n_entities).astype(np.int64)
            largest_count = max(largest_count, int(summed.max()))
            out_entries += len(unique_keys)
            begin = end
    del tokens_in, counts_in
    writer.raw("context_token", np.uint32, out_entries)
    if largest_count < 2**16:
        narrow = np.fromfile(folder / "context_count.bin", dtype=np.uint32).astype(np.uint16)
        writer.array("context_count", narrow)
    else:
        writer.raw("context_count", np.uint32, out_entries)
    offsets = np.zeros(n_entities + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    writer.array("entity_context_offsets", offsets.astype(index_dtype(out_entries)))
    writer.array("entity_context_total",
                 totals.astype(np.uint32 if totals.max(initial=0) < 2**32 else np.uint64))
    return int((lengths > 0).sum())


def _chunk_end(entity_sorted: np.ndarray, lengths_sorted: np.ndarray, begin: int) -> int:
    """End of a chunk of segments of about `_CHUNK_ENTRIES` entries, never splitting an entity."""
    cumulative = np.cumsum(lengths_sorted[begin:begin + _CHUNK_ENTRIES])
    end = begin + int(np.searchsorted(cumulative, _CHUNK_ENTRIES)) + 1
    end = min(end, len(entity_sorted))
    while end < len(entity_sorted) and entity_sorted[end] == entity_sorted[end - 1]:
        end += 1
    return end
