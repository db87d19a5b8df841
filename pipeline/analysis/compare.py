"""`longtail compare`: the same questions counted over several corpora (Kandpal et al. 2022,
section 3: counts over C4, OpenWebText, Wikipedia, ROOTS and The Pile correlate strongly).

A question is keyed by its QA file's *content* (SHA-256) and its row, so the same file at
another path, or on another machine, still matches. Folders counted over different QA files
are refused unless questions are matched on their text instead (`--match-on question-text`:
whitespace-collapsed, case-folded question text; the k-th repeat of a text in one folder
matches the k-th in another).

For each pair of corpora, over the questions both counted (status counted or zero):
Spearman's rho and Pearson's r of log(1 + relevant documents), computed here with numpy
(average ranks for ties), questions with zero in one and not the other, and the largest
disagreements, |log(1 + a) - log(1 + b)|. Counts are also given per million documents of
each corpus (documents read: the `docs` table).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from longtail.analysis.tables import output_folder, read_table, require
from longtail.errors import UsageError
from longtail.output.checksums import file_sha256
from longtail.output.folder import OutputFolder
from longtail.output.storage import atomic_path

MATCH_ON = ("qa-content", "question-text")
OUTPUT_SUFFIXES = (".parquet", ".csv")
SHOWN_DISAGREEMENTS = 5
_HASH_CHUNK = 1 << 20
_QA_STAGES = ("qa", "import")  # stages whose record names the QA files they read


# -- stage records, read in one place ---------------------------------------------------


def _recorded_qa_files(out: OutputFolder) -> list[tuple[str, str | None]]:
    """The QA files the qa (or import) stage recorded: (where the file is now, its recorded
    sha256 or None)."""
    found = []
    records = out.records()
    for stage in _QA_STAGES:
        record = records.get(stage)
        for entry in record.inputs.get("qa", []) if record else []:
            found.append((out.locations.resolve(entry.location, entry.inside_out), entry.sha256))
    return found


def qa_file_digests(out: OutputFolder, sources: Sequence[str] = ()) -> dict[str, str]:
    """SHA-256 of every QA file of OUT, by its path as recorded (the `source` of its
    questions): the recorded digest when the qa stage's record holds one, else the file
    hashed now. `sources` not among the recorded files are hashed too. One line naming the
    file when one cannot be read."""
    digests: dict[str, str] = {}
    recorded = _recorded_qa_files(out)
    for path, sha256 in recorded:
        if sha256:
            digests[path] = sha256
    for path in [path for path, _ in recorded] + list(sources):
        if path in digests:
            continue
        try:
            digests[path] = file_sha256(path)
        except OSError as err:
            raise UsageError(
                f"cannot identify the QA file {path} of {out.display()} by its content "
                f"({err}); put it back, or pass --match-on question-text") from None
    return digests


# -- one folder -------------------------------------------------------------------------


@dataclass
class CountedCorpus:
    """One output folder's counts, keyed for matching."""

    name: str
    out: OutputFolder
    documents: int
    keys: list[tuple]
    counts: list[int | None]
    statuses: list[str]
    questions: list[str]
    qa_files: dict[str, str] = field(default_factory=dict)  # source -> sha256

    def by_key(self) -> dict[tuple, int]:
        return {key: i for i, key in enumerate(self.keys)}


def question_text_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def load_corpus(location: str, name: str, match_on: str = "qa-content") -> CountedCorpus:
    if match_on not in MATCH_ON:
        raise UsageError(f"unknown --match-on {match_on!r}; choose {' or '.join(MATCH_ON)}")
    out = output_folder(location)
    require(out, "relevant_docs", "docs")
    rd = read_table(out, "relevant_docs",
                    columns=["source", "row", "question", "relevant_docs", "status"])
    rd = rd.sort_by([("source", "ascending"), ("row", "ascending")])
    sources = rd["source"].to_pylist()
    rows = rd["row"].to_pylist()
    questions = rd["question"].to_pylist()
    digests: dict[str, str] = {}
    if match_on == "qa-content":
        digests = qa_file_digests(out, sorted(set(sources)))
        keys = [(digests[s], r) for s, r in zip(sources, rows, strict=True)]
    else:
        seen: dict[str, int] = {}
        keys = []
        for text in questions:
            norm = question_text_key(text)
            keys.append((norm, seen.get(norm, 0)))
            seen[norm] = seen.get(norm, 0) + 1
    used = {s: digests[s] for s in sources} if digests else {}
    return CountedCorpus(name, out, _documents(out), keys, rd["relevant_docs"].to_pylist(),
                         rd["status"].to_pylist(), questions, used)


def _documents(out: OutputFolder) -> int:
    """Documents read into `docs` (linked or empty): the committed rows, no file read."""
    from longtail.output.lineage import Lineage

    lineage = Lineage(out)
    return sum(f.rows for f in lineage.committed_files("docs"))


def default_names(locations: Sequence[str]) -> list[str]:
    """Each folder's last path component, or the whole location when those repeat."""
    names = [os.path.basename(loc.rstrip("/")) or loc for loc in locations]
    return names if len(set(names)) == len(names) else list(locations)


def check_same_qa(corpora: Sequence[CountedCorpus]) -> None:
    """One line when the folders were counted over different QA files (by content)."""
    first = corpora[0]
    for other in corpora[1:]:
        if set(first.qa_files.values()) != set(other.qa_files.values()):
            raise UsageError(
                f"the QA inputs differ: {first.name} counted {_files(first)}, {other.name} "
                f"counted {_files(other)}; pass --match-on question-text to match questions "
                "by their text")


def _files(corpus: CountedCorpus) -> str:
    return " + ".join(f"{os.path.basename(p)} (sha256 {d[:12]})"
                      for p, d in sorted(corpus.qa_files.items()))


# -- the comparison ---------------------------------------------------------------------


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r; None for fewer than 3 values or a constant series."""
    if len(x) < 3:
        return None
    dx, dy = x - x.mean(), y - y.mean()
    norm = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    return None if norm == 0 else float((dx * dy).sum() / norm)


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    return pearson(average_ranks(x), average_ranks(y))


@dataclass
class PairComparison:
    a: str
    b: str
    common: int  # questions in both folders
    both_counted: int  # with a count (zero included) in both: what rho and r are over
    rho: float | None
    r: float | None
    zero_only_in_a: int  # zero in a, one or more in b
    zero_only_in_b: int
    counted_only_in_a: int  # a count in a, none (no entity, failed) in b
    counted_only_in_b: int
    disagreements: list[tuple[str, int, int]]  # (question, count in a, count in b)


def compare_pair(a: CountedCorpus, b: CountedCorpus, shown: int = SHOWN_DISAGREEMENTS
                 ) -> PairComparison:
    in_b = b.by_key()
    common = [(i, in_b[key]) for i, key in enumerate(a.keys) if key in in_b]
    both = [(i, j) for i, j in common if a.counts[i] is not None and b.counts[j] is not None]
    ca = np.array([a.counts[i] for i, _ in both], dtype=np.float64)
    cb = np.array([b.counts[j] for _, j in both], dtype=np.float64)
    la, lb = np.log1p(ca), np.log1p(cb)
    gap = np.abs(la - lb)
    order = sorted(range(len(both)), key=lambda k: (-gap[k], both[k][0]))
    disagreements = [(a.questions[both[k][0]], int(ca[k]), int(cb[k])) for k in order[:shown]
                     if gap[k] > 0]
    return PairComparison(
        a.name, b.name, len(common), len(both), spearman(la, lb), pearson(la, lb),
        int(((ca == 0) & (cb > 0)).sum()), int(((cb == 0) & (ca > 0)).sum()),
        sum(1 for i, j in common if a.counts[i] is not None and b.counts[j] is None),
        sum(1 for i, j in common if a.counts[i] is None and b.counts[j] is not None),
        disagreements)


def compare_all(corpora: Sequence[CountedCorpus]) -> list[PairComparison]:
    return [compare_pair(corpora[i], corpora[j])
            for i in range(len(corpora)) for j in range(i + 1, len(corpora))]


def per_million(count: int | None, documents: int) -> float | None:
    return None if count is None or documents == 0 else count * 1e6 / documents


def question_table(corpora: Sequence[CountedCorpus], match_on: str) -> pa.Table:
    """One row per question of any folder (in the first folder's order, then the others'
    new ones): its key, text and, per corpus NAME, the columns NAME (relevant documents),
    NAME_per_million and NAME_status (null where the folder lacks the question)."""
    keys: dict[tuple, str] = {}
    for corpus in corpora:
        for key, text in zip(corpus.keys, corpus.questions, strict=True):
            keys.setdefault(key, text)
    ordered = list(keys)
    if match_on == "qa-content":
        columns: dict[str, pa.Array] = {
            "qa_sha256": pa.array([k[0] for k in ordered], pa.string()),
            "row": pa.array([k[1] for k in ordered], pa.int64())}
    else:
        columns = {"occurrence": pa.array([k[1] for k in ordered], pa.int64())}
    columns["question"] = pa.array([keys[k] for k in ordered], pa.string())
    for corpus in corpora:
        at = corpus.by_key()
        found = [at.get(k) for k in ordered]
        counts = [None if i is None else corpus.counts[i] for i in found]
        columns[corpus.name] = pa.array(counts, pa.int64())
        columns[f"{corpus.name}_per_million"] = pa.array(
            [per_million(c, corpus.documents) for c in counts], pa.float64())
        columns[f"{corpus.name}_status"] = pa.array(
            [None if i is None else corpus.statuses[i] for i in found], pa.string())
    return pa.table(columns)


def check_output(path: str) -> None:
    if Path(path).suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--output must end in {' or '.join(OUTPUT_SUFFIXES)}: {path}")


def write_question_table(table: pa.Table, path: str) -> Path:
    check_output(path)
    final = Path(path)
    with atomic_path(final) as tmp:
        if final.suffix.lower() == ".parquet":
            pq.write_table(table, tmp, compression="zstd")
        else:
            pacsv.write_csv(table, tmp)
    return final


def check_names(names: Sequence[str], count: int) -> None:
    if len(names) != count:
        raise UsageError(f"{len(names)} names for {count} output folders")
    if len(set(names)) != len(names):
        raise UsageError(f"names repeat: {', '.join(names)}")
    reserved = {"qa_sha256", "row", "occurrence", "question"}
    for name in names:
        if not name or name in reserved or name.endswith(("_per_million", "_status")):
            raise UsageError(f"cannot use {name!r} as a corpus name (it names a column)")


def load_all(locations: Sequence[str], names: Sequence[str] | None, match_on: str
             ) -> list[CountedCorpus]:
    """The folders' counts, checked to be comparable (one line when they are not)."""
    if len(locations) < 2:
        raise UsageError("compare needs at least two output folders")
    names = list(names) if names else default_names(locations)
    check_names(names, len(locations))
    corpora = [load_corpus(loc, name, match_on) for loc, name in zip(locations, names,
                                                                     strict=True)]
    if match_on == "qa-content":
        check_same_qa(corpora)
    return corpora


def plot_matrix(table: pa.Table, corpora: Sequence[CountedCorpus],
                pairs: Sequence[PairComparison], path: str | Path) -> Path:
    """A scatter matrix of relevant-document counts on log axes (0 drawn at the axis' start,
    symlog): off the diagonal one point per question counted in both, on the diagonal the
    histogram of one corpus' counts."""
    from longtail.analysis.figures import new_grid, save_png

    names = [c.name for c in corpora]
    k = len(names)
    fig, axes = new_grid(k, k, size=max(2.6, 7.5 / k))
    by_pair = {(p.a, p.b): p for p in pairs}
    values = {n: table[n].to_numpy(zero_copy_only=False) for n in names}
    top = max([1.0] + [float(np.nanmax(v.astype(np.float64))) for v in values.values()
                       if np.isfinite(v.astype(np.float64)).any()])
    for i, yname in enumerate(names):
        for j, xname in enumerate(names):
            ax = axes[i][j]
            if i == j:
                v = values[xname].astype(np.float64)
                v = v[np.isfinite(v)]
                edges = [0, 1] + [10 ** (e / 2) for e in range(1, 2 * len(str(int(top))) + 1)]
                ax.hist(v, bins=edges, color="tab:blue", alpha=0.7)
                ax.set_xscale("symlog", linthresh=1)
                ax.set_title(f"{xname}: {len(v):,} counted", fontsize=9)
            else:
                x = values[xname].astype(np.float64)
                y = values[yname].astype(np.float64)
                keep = np.isfinite(x) & np.isfinite(y)
                ax.scatter(x[keep], y[keep], s=12, alpha=0.6, edgecolors="none")
                for scale in (ax.set_xscale, ax.set_yscale):
                    scale("symlog", linthresh=1)
                ax.plot([0, top], [0, top], color="gray", linewidth=0.8, linestyle="--")
                ax.set_xlim(-0.2, top * 1.5)
                ax.set_ylim(-0.2, top * 1.5)
                pair = by_pair.get((xname, yname)) or by_pair.get((yname, xname))
                if pair is not None:
                    ax.text(0.03, 0.97, f"rho {_fmt(pair.rho)}\nr {_fmt(pair.r)}\n"
                            f"n {pair.both_counted:,}", transform=ax.transAxes, va="top",
                            fontsize=8, bbox={"facecolor": "white", "alpha": 0.8,
                                              "edgecolor": "none"})
            if i == k - 1:
                ax.set_xlabel(f"{xname} (relevant docs)", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{yname} (relevant docs)" if i != j else "questions",
                              fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("Relevant documents per question across corpora (log axes; rho and r on "
                 "log(1 + count))", fontsize=10)
    return save_png(fig, path)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
