"""The analyses: each a stage (declared in `longtail.stages`) whose entry reads fresh tables of
OUT, writes its own tables as one commit, records itself, and prints what it found; plus
`longtail export paper`, which writes files outside OUT (`register` adds it to the CLI).
"""

from __future__ import annotations

import argparse
import importlib

from longtail.analysis.configs import (
    AccuracyConfig,
    CounterfactualConfig,
    DuplicatesConfig,
    ExportLongtailConfig,
    ExposureConfig,
)
from longtail.console import print_rows
from longtail.errors import UsageError
from longtail.output.context import StageContext
from longtail.output.folder import OutputFolder
from longtail.output.lineage import Lineage
from longtail.output.records import StageRecord


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _needs(*modules: str) -> None:
    """Import a command's optional packages before it does any work, so a missing extra is
    one line at once (`longtail.jobs.errors` names the extra)."""
    for module in modules:
        importlib.import_module(module)


def run_accuracy(ctx: StageContext, args: AccuracyConfig) -> StageRecord:
    from longtail.analysis.accuracy import plot_accuracy, score_predictions

    _needs("scipy.stats", *(["matplotlib"] if args.plot else []))
    out = ctx.out
    tables = ("accuracy", "accuracy_summary", "accuracy_questions")
    with ctx.whole(args) as run:
        result = score_predictions(out, args.predictions, min_bin_size=args.min_bin_size,
                                   style=args.normalization, labels=args.labels,
                                   formats=args.predictions_format, metric=args.metric)
        for name, table in zip(tables, (result.bins, result.summary, result.questions),
                               strict=True):
            run.write(name, table)
        run.stats.update({"files": len(args.predictions),
                          "scored": sum(len(p.by_question) for p in result.predictions),
                          "ambiguous": sum(len(p.ambiguous) for p in result.predictions)})
    print("accuracy by relevant documents (bin = [low, high); CI = 95% Wilson interval)")
    print_rows(["predictions", "bin", "n", "correct", "accuracy", "CI", "note"], [
        (r["predictions"], r["bin"], r["questions"], r["correct"], _percent(r["accuracy"]),
         f"{100 * r['ci_low']:.1f}-{_percent(r['ci_high'])}",
         f"n < {args.min_bin_size}" if r["small"] else "")
        for r in result.bins.to_pylist()])
    print_rows(["predictions", "scored", "accuracy", "spearman rho", "p", "no prediction"], [
        (s["predictions"], s["scored"],
         _percent(s["correct"] / s["scored"] if s["scored"] else None),
         "n/a" if s["spearman_rho"] is None else f"{s['spearman_rho']:.3f}",
         "n/a" if s["spearman_p"] is None else f"{s['spearman_p']:.2g}", s["missing"])
        for s in result.summary.to_pylist()])
    for preds in result.predictions:
        _print_matching(preds)
    if args.plot:
        print(f"plot: {plot_accuracy(result, args.plot, args.min_bin_size)}")
    return run.record


def _print_matching(preds) -> None:
    """How one predictions file's lines matched questions, and what was skipped."""
    from longtail.analysis.accuracy import SHOWN_PROBLEMS

    def shown(items: list[str]) -> str:
        more = " ..." if len(items) > SHOWN_PROBLEMS else ""
        return ", ".join(map(repr, items[:SHOWN_PROBLEMS])) + more

    how = ", ".join(f"{n:,} by {way}" for way, n in sorted(preds.matched_by.items()))
    print(f"{preds.path} ({preds.format}): {preds.lines:,} lines, {len(preds.by_question):,} "
          f"matched a question{f' ({how})' if how else ''}")
    if preds.ambiguous:
        print(f"{preds.path}: {len(preds.ambiguous):,} lines skipped as ambiguous: their id "
              f"names several questions (ids are not unique; key lines by source and row): "
              f"{shown(preds.ambiguous)}")
    if preds.unmatched:
        print(f"{preds.path}: {len(preds.unmatched):,} lines match no question of the output "
              f"folder (skipped): {shown(preds.unmatched)}")
    if preds.duplicates:
        print(f"{preds.path}: {preds.duplicates:,} lines repeat a question (first kept)")
    for number, problem in preds.bad_lines[:SHOWN_PROBLEMS]:
        print(f"{preds.path}:{number}: skipped: {problem}")


def cmd_compare(args: argparse.Namespace) -> int:
    from longtail.analysis import compare

    _needs(*(["matplotlib"] if args.plot else []))
    if args.output:
        compare.check_output(args.output)
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"plot file must end in .png: {args.plot}")
    corpora = compare.load_all(args.out_dirs, args.names, args.match_on)
    pairs = compare.compare_all(corpora)
    how = ("QA file content (sha256) and row" if args.match_on == "qa-content"
           else "question text")
    print(f"compare: {len(corpora)} output folders, questions matched by {how}")
    print_rows(["corpus", "folder", "documents", "questions", "counted (zero included)"], [
        (c.name, c.out.display(), c.documents, len(c.keys),
         sum(1 for n in c.counts if n is not None)) for c in corpora])
    print("pairs (rho: Spearman, r: Pearson, both on log(1 + relevant documents) over the "
          "questions counted in both)")
    print_rows(["A", "B", "in common", "counted in both", "spearman rho", "pearson r",
                "zero in A only", "zero in B only", "counted in A only", "counted in B only"], [
        (p.a, p.b, p.common, p.both_counted, _correlation(p.rho), _correlation(p.r),
         p.zero_only_in_a, p.zero_only_in_b, p.counted_only_in_a, p.counted_only_in_b)
        for p in pairs])
    documents = {c.name: c.documents for c in corpora}
    for p in pairs:
        if not p.disagreements:
            continue
        print(f"largest disagreements, {p.a} vs {p.b} (relevant documents, and per million "
              "documents of each corpus)")
        print_rows(["question", p.a, f"{p.a} per M", p.b, f"{p.b} per M"], [
            (question, a, _number(compare.per_million(a, documents[p.a])), b,
             _number(compare.per_million(b, documents[p.b])))
            for question, a, b in p.disagreements])
    table = None
    if args.output or args.plot:
        table = compare.question_table(corpora, args.match_on)
    if args.output:
        written = compare.write_question_table(table, args.output)
        print(f"per-question table ({table.num_rows:,} rows, one column per corpus): {written}")
    if args.plot:
        print(f"plot: {compare.plot_matrix(table, corpora, pairs, args.plot)}")
    return 0


def _correlation(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run_counterfactual(ctx: StageContext, args: CounterfactualConfig) -> StageRecord:
    from longtail.analysis.counterfactual import build_counterfactual, write_corpus
    from longtail.corpus.linked import LinkedCorpus

    out = ctx.out
    corpus = LinkedCorpus.from_record(out) if args.write_corpus else None
    with ctx.whole(args) as run:
        result = build_counterfactual(out, args.per_bin, args.seed)
        run.write("counterfactual_questions", result.questions)
        run.write("counterfactual_removed", result.removed)
        run.stats.update({"questions": result.questions.num_rows,
                          "removed_docs": result.removed_docs,
                          "removed_chars": result.removed_chars,
                          "doc_fraction": result.doc_fraction,
                          "char_fraction": result.char_fraction})
    chosen = dict.fromkeys(result.available, 0)
    for label in result.questions["bin"].to_pylist():
        chosen[label] += 1
    print(f"counterfactual corpus: {args.per_bin} questions per bin, seed {args.seed}")
    print_rows(["bin", "counted questions", "chosen"],
               [(label, n, chosen[label]) for label, n in result.available.items()])
    print_rows(["", "removed", "of", "fraction"], [
        ("documents", result.removed_docs, result.total_docs, _percent(result.doc_fraction)),
        ("characters", result.removed_chars, result.total_chars,
         _percent(result.char_fraction))])
    if corpus is not None:
        removed = set(result.removed["doc_id"].to_pylist())
        written = write_corpus(corpus, removed, args.write_corpus)
        rows = [(f.path, f.rows_read, f.rows_read - f.rows_kept, f.rows_kept,
                 "" if f.unreadable_from is None else f"unreadable from row {f.unreadable_from}")
                for f in written]
        print(f"corpus written to {args.write_corpus}")
        print_rows(["file", "rows", "removed", "kept", "note"], rows)
    return run.record


def run_duplicates(ctx: StageContext, args: DuplicatesConfig) -> StageRecord:
    from longtail.analysis.duplicates import corpus_duplicates, relevant_docs_unique

    out = ctx.out
    counted = bool(ctx.lineage.writers("relevant_docs"))
    with ctx.whole(args, ["docs", *(["relevant_docs", "doc_entities"] if counted else [])]) \
            as run:
        report = corpus_duplicates(out, threshold=args.threshold, num_perm=args.num_perm,
                                   shingle=args.shingle)
        run.write("duplicates", report.table)
        unique = relevant_docs_unique(out, report.table) if counted else None
        run.stats.update({"documents": report.documents, "clusters": len(report.clusters),
                          "documents_in_clusters": report.table.num_rows})
        if unique is not None:
            run.write("relevant_docs_unique", unique)
            lower = sum(1 for a, b in zip(unique["relevant_docs"].to_pylist(),
                                          unique["relevant_docs_unique"].to_pylist(),
                                          strict=True) if b < a)
            run.stats["questions_with_duplicate_relevant_docs"] = lower
    clusters = report.clusters
    in_clusters = report.table.num_rows
    kinds = report.table["kind"].to_pylist()
    print(f"duplicates: threshold {args.threshold}, {args.num_perm} permutations, "
          f"{args.shingle}-word shingles")
    print_rows(["", "count"], [
        ("documents read", report.documents), ("empty after normalisation", report.empty),
        ("clusters", len(clusters)), ("documents in clusters", in_clusters),
        ("  with an exact duplicate", kinds.count("exact")),
        ("  near duplicates only", kinds.count("near")),
        ("documents beyond one per cluster", in_clusters - len(clusters))])
    if clusters:
        print(f"largest clusters (of {len(clusters)})")
        print_rows(["cluster_id", "documents", "exact", "first document"], [
            (c, n, exact, report.snippets.get(c, "")) for c, n, exact in clusters[:args.top]])
    if unique is not None:
        print(f"relevant_docs_unique: {unique.num_rows} questions with a count, {lower} of them "
              "count fewer distinct clusters than documents")
    return run.record


def run_exposure(ctx: StageContext, args: ExposureConfig) -> StageRecord:
    from longtail.analysis.exposure import StepSize, exposure_table, plot_gaps, summary_rows

    _needs(*(["matplotlib"] if args.plot else []))
    out = ctx.out
    size = StepSize(args.docs_per_step, args.tokens_per_step, args.tokens_per_char)
    with ctx.whole(args) as run:
        table = exposure_table(out, size)
        run.write("exposure", table)
        run.stats["questions"] = table.num_rows
    print(f"exposure of counted questions' relevant documents, in {size.unit} "
          "(medians over questions; gaps over all consecutive pairs)")
    print_rows(["bin", "questions", "first", "last", "gap (median)", "gap (max)"],
               [(label, n, *(_number(v) for v in values))
                for label, n, *values in summary_rows(table, size)])
    if args.plot:
        print(f"plot: {plot_gaps(table, size, args.plot)}")
    return run.record


def cmd_report(args: argparse.Namespace) -> int:
    from longtail.report.page import write_report

    _needs("matplotlib", *(["scipy.stats"] if args.predictions else []))
    written = write_report(args.out_dir, args.html, args.predictions or (), labels=args.labels,
                           formats=args.predictions_format, metric=args.metric,
                           doc_questions=args.doc_questions,
                           docs_per_question=args.docs_per_question)
    print(f"report: {written.path} ({written.bytes:,} bytes; {written.questions:,} questions in "
          f"the explorer, documents for {written.doc_questions:,}); it opens offline in a "
          "browser")
    return 0


def run_export_longtail(ctx: StageContext, args: ExportLongtailConfig) -> StageRecord:
    from longtail.analysis import longtail_sets as sets
    from longtail.corpus.linked import LinkedCorpus

    out = ctx.out
    with ctx.whole(args) as run:
        table = sets.longtail_set(out, args.max_docs, args.include_uncounted)
        n_facts = sets.write_jsonl(sets.fact_records(table), args.out)
        run.write("longtail_set", table)
        run.stats["facts"] = n_facts
    statuses: dict[str, int] = {}
    for status in table["status"].to_pylist():
        statuses[status] = statuses.get(status, 0) + 1
    print(f"{n_facts} QA pairs with at most {args.max_docs} relevant documents -> {args.out}")
    print_rows(["status", "questions"], sorted(statuses.items()))
    if args.mix:
        corpus = LinkedCorpus.from_record(out)
        n = sets.mix_size(args.ratio, n_facts)
        if args.mix == "random":
            records = sets.random_word_records(sets.corpus_vocabulary(corpus), n,
                                               args.mix_length, args.seed)
        else:
            records = sets.generic_records(out, corpus, table, n, args.seed)
        written = sets.write_jsonl(records, args.mix_out)
        note = "" if written == n else f" (asked for {n}; the corpus has no more)"
        print(f"{written} {args.mix} mixing records (ratio {args.ratio}) -> {args.mix_out}{note}")
    return run.record


def cmd_export_paper(args: argparse.Namespace) -> int:
    from longtail.analysis.paper_export import export_entity_map, export_qa_entities

    out = OutputFolder(args.out_dir)
    out.check_exists()
    lineage = Lineage(out)  # one reading of the records for every table the export reads
    if not (args.entity_map or args.qa_entities):
        raise UsageError("give --entity-map and/or --qa-entities")
    if args.entity_map:
        s = export_entity_map(out, args.entity_map, lineage)
        print(f"{args.entity_map}: {s['entities']:,} entities, {s['entries']:,} document "
              f"entries, {s['markers']} failure markers")
    if args.qa_entities:
        s = export_qa_entities(out, args.qa_entities, lineage, args.values, args.qa_source)
        print(f"{args.qa_entities}: {s['lines']:,} lines for {s['questions']:,} questions")
    return 0


def register(groups) -> None:
    """Add the analysis commands that are not stages (they write no table into OUT) to the
    `longtail` command line; `groups(name)` is the subparsers of `longtail NAME`."""
    from longtail.analysis import commands_args as define

    p = groups("export").add_parser(
        "paper", help=define.EXPORT_PAPER_HELP, description=define.EXPORT_PAPER_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handler=cmd_export_paper)
    define.export_paper(p)
    for name, handler, define_flags in (("compare", cmd_compare, define.compare),
                                        ("report", cmd_report, define.report)):
        upper = name.upper()
        p = groups(None).add_parser(
            name, help=getattr(define, f"{upper}_HELP"),
            description=getattr(define, f"{upper}_DESCRIPTION"),
            formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        define_flags(p)
