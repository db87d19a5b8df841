"""Exact and near duplicates in the corpus, and relevant documents counted once per cluster.

Chang et al. (2024) found that facts seen in duplicated data are forgotten faster; counting a
fact's relevant documents once per duplicate cluster shows how much of a count is repetition.

- Exact: the same normalised text (lower case, whitespace runs collapsed, stripped), found by
  a BLAKE2b hash of it.
- Near: MinHash (datasketch, fixed seed) over shingles of `shingle` consecutive words (a text
  shorter than that is one shingle), LSH at `threshold` with bands that favour recall (about
  95% of pairs at the threshold, 99% at 0.05 above it, become candidates); every candidate is
  checked with the MinHash estimate of Jaccard similarity >= threshold before two documents
  are joined.
Clusters are the connected components; a cluster's id is its smallest doc_id. Texts that are
empty after normalisation are not clustered. The report shows each cluster's first document
as written (its whitespace runs shown as one space), not normalised.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from datasketch import LeanMinHash, MinHash, MinHashLSH

from longtail.analysis.relevant_sets import relevant_doc_pairs
from longtail.analysis.tables import read_table, require
from longtail.corpus import Document
from longtail.corpus.linked import LinkedCorpus
from longtail.errors import UsageError
from longtail.output.folder import OutputFolder
from longtail.schemas.analysis import DUPLICATES, RELEVANT_DOCS_UNIQUE
from longtail.schemas.tables import STATUS_COUNTED, STATUS_ZERO

MINHASH_SEED = 1
# LSH bands tuned to miss few pairs at the threshold (datasketch weighs false positives
# against false negatives); the extra candidates are dropped by the Jaccard check.
LSH_WEIGHTS = (0.05, 0.95)
SNIPPET_CHARS = 70
_WORD = re.compile(r"\w+")


def normalise_text(text: str) -> str:
    return " ".join(text.lower().split())


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    """The start of a document's own text on one line, "..." where it was cut."""
    words = text[:chars * 4].split()
    line = " ".join(words)
    cut = len(line) > chars or len(text) > chars * 4
    return line[:chars].rstrip() + "..." if cut else line


def shingles(normalised: str, size: int) -> list[bytes]:
    words = _WORD.findall(normalised)
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")] if words else []
    return [" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)]


class _Components:
    """Union-find over doc ids; the root of a component is its smallest doc id."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class DuplicateReport:
    table: pa.Table  # the `duplicates` table
    documents: int
    empty: int
    snippets: dict[int, str] = field(default_factory=dict)  # of each cluster's first document

    @property
    def clusters(self) -> list[tuple[int, int, int]]:
        """(cluster_id, size, exact members), largest first."""
        sizes = Counter(self.table["cluster_id"].to_pylist())
        exact = Counter(c for c, k in zip(self.table["cluster_id"].to_pylist(),
                                          self.table["kind"].to_pylist(), strict=True)
                        if k == "exact")
        return sorted(((c, n, exact[c]) for c, n in sizes.items()), key=lambda t: (-t[1], t[0]))


def find_duplicates(documents: Iterable[Document], *, threshold: float = 0.8,
                    num_perm: int = 128, shingle: int = 5) -> DuplicateReport:
    """Cluster the documents; see the module docstring."""
    if not 0.0 < threshold <= 1.0:
        raise UsageError(f"--threshold must be in (0, 1], not {threshold}")
    if num_perm < 16:
        raise UsageError(f"--num-perm must be at least 16, not {num_perm}")
    if shingle < 1:
        raise UsageError(f"--shingle must be at least 1, not {shingle}")
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
    signatures: dict[int, LeanMinHash] = {}
    first_by_hash: dict[bytes, int] = {}
    exact_hash: dict[int, bytes] = {}
    components = _Components()
    snippets: dict[int, str] = {}
    scanned = empty = 0
    for doc in documents:
        scanned += 1
        normalised = normalise_text(doc.text)
        if not normalised:
            empty += 1
            continue
        snippets[doc.doc_id] = snippet(doc.text)
        digest = hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).digest()
        exact_hash[doc.doc_id] = digest
        if digest in first_by_hash:
            components.union(first_by_hash[digest], doc.doc_id)
            continue
        first_by_hash[digest] = doc.doc_id
        m = MinHash(num_perm=num_perm, seed=MINHASH_SEED)
        m.update_batch(shingles(normalised, shingle))
        lean = LeanMinHash(m)
        for other in lsh.query(lean):
            if lean.jaccard(signatures[other]) >= threshold:
                components.union(other, doc.doc_id)
        lsh.insert(doc.doc_id, lean)
        signatures[doc.doc_id] = lean

    members: dict[int, list[int]] = defaultdict(list)
    for doc_id in components.parent:
        members[components.find(doc_id)].append(doc_id)
    rows: list[tuple[int, int, str]] = []
    for cluster_id, docs in members.items():
        if len(docs) < 2:
            continue
        hashes = Counter(exact_hash[d] for d in docs)
        rows.extend((d, cluster_id, "exact" if hashes[exact_hash[d]] > 1 else "near")
                    for d in docs)
    rows.sort()
    table = pa.table({"doc_id": [r[0] for r in rows], "cluster_id": [r[1] for r in rows],
                      "kind": [r[2] for r in rows]}, schema=DUPLICATES)
    kept = {c: snippets[c] for c in set(table["cluster_id"].to_pylist())}
    return DuplicateReport(table, scanned, empty, kept)


def corpus_duplicates(out: OutputFolder, **options) -> DuplicateReport:
    return find_duplicates(LinkedCorpus.from_record(out).documents(), **options)


def relevant_docs_unique(out: OutputFolder, duplicates: pa.Table) -> pa.Table:
    """Per question with a count: relevant documents and distinct clusters among them.

    Questions are keyed by (source, row), as the count stage keys them: ids may repeat."""
    require(out, "relevant_docs", "doc_entities")
    rd = read_table(out, "relevant_docs", columns=[
        "question_id", "source", "row", "q_uri", "a_uri", "relevant_docs", "status"])
    rd = rd.filter(pc.is_in(rd["status"], pa.array([STATUS_COUNTED, STATUS_ZERO])))
    rd = rd.sort_by([("source", "ascending"), ("row", "ascending")])
    cluster_of = dict(zip(duplicates["doc_id"].to_pylist(),
                          duplicates["cluster_id"].to_pylist(), strict=True))
    # each question's position in `rd` stands in for its id, which may be shared
    keyed = pa.table({"question_id": [str(i) for i in range(rd.num_rows)],
                      "q_uri": rd["q_uri"], "a_uri": rd["a_uri"]})
    pairs = relevant_doc_pairs(out, keyed)
    clusters: dict[int, set[int]] = defaultdict(set)
    for key, doc_id in zip(pairs["question_id"].to_pylist(), pairs["doc_id"].to_pylist(),
                           strict=True):
        clusters[int(key)].add(cluster_of.get(doc_id, doc_id))
    return pa.table({
        "question_id": rd["question_id"],
        "source": rd["source"],
        "row": rd["row"],
        "relevant_docs": rd["relevant_docs"],
        "relevant_docs_unique": [len(clusters.get(i, ())) for i in range(rd.num_rows)],
    }, schema=RELEVANT_DOCS_UNIQUE)
