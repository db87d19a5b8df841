"""The analyses' configurations: one dataclass per analysis stage, whose fields make its flags
(see `longtail.stage_config.option`) and are what the stage records as its parameters."""

from __future__ import annotations

from dataclasses import dataclass

from longtail.analysis.accuracy import NORMALISATIONS
from longtail.analysis.longtail_sets import MIX_KINDS
from longtail.analysis.predictions import DEFAULT_METRIC
from longtail.analysis.predictions import FORMATS as PREDICTION_FORMATS
from longtail.errors import UsageError
from longtail.qa.readers import FORMATS as QA_FORMATS
from longtail.stage_config import non_negative, option


@dataclass(frozen=True)
class AccuracyConfig:
    predictions: tuple[str, ...] = option(
        (), "--predictions", nargs="+", required=True, metavar="FILE", input=True,
        help="predictions files: our JSON Lines, or lm-evaluation-harness --log_samples files")
    predictions_format: str | None = option(
        None, "--predictions-format", choices=PREDICTION_FORMATS,
        help="the files' format (default: detected from each file's first line)")
    metric: str = option(DEFAULT_METRIC, "--metric", metavar="NAME",
                         help="the lm-eval sample field holding 0/1 correctness")
    labels: tuple[str, ...] | None = option(
        None, "--labels", nargs="+", metavar="NAME",
        help="a name per predictions file for the table and legend (default: file names)")
    min_bin_size: int = option(0, "--min-bin-size", type=non_negative, metavar="N",
                               help="mark bins with fewer questions (shown, hollow in the plot)")
    normalization: str = option("squad", "--normalization", choices=NORMALISATIONS,
                                help="answer normalisation: squad removes punctuation, "
                                     "triviaqa turns it into spaces")
    plot: str | None = option(None, "--plot", metavar="PNG", output=True,
                              help="write the accuracy plot here")

    def __post_init__(self) -> None:
        if self.labels and len(self.labels) != len(self.predictions):
            raise UsageError(f"{len(self.labels)} labels for {len(self.predictions)} "
                             "predictions files")


@dataclass(frozen=True)
class CounterfactualConfig:
    per_bin: int = option(0, "--per-bin", type=int, required=True, metavar="N",
                          help="counted questions to draw per bin (all of a smaller bin)")
    seed: int = option(0, "--seed", type=int, help="random seed")
    write_corpus: str | None = option(
        None, "--write-corpus", metavar="DIR", output=True,
        help="write the corpus without the removed documents into this new folder")


@dataclass(frozen=True)
class DuplicatesConfig:
    threshold: float = option(0.8, "--threshold", type=float,
                              help="Jaccard similarity of word shingles for near duplicates")
    num_perm: int = option(128, "--num-perm", type=int, help="MinHash permutations")
    shingle: int = option(5, "--shingle", type=int, help="words per shingle")
    top: int = option(10, "--top", type=int, output=True, help="largest clusters to show")


@dataclass(frozen=True)
class ExposureConfig:
    docs_per_step: int | None = option(None, "--docs-per-step", type=int, metavar="N",
                                       help="documents per training step")
    tokens_per_step: int | None = option(
        None, "--tokens-per-step", type=int, metavar="N",
        help="tokens per training step (tokens estimated from characters)")
    tokens_per_char: float = option(0.25, "--tokens-per-char", type=float,
                                    help="tokens per character for --tokens-per-step")
    plot: str | None = option(None, "--plot", metavar="PNG", output=True,
                              help="write a histogram of the gaps here")

    def __post_init__(self) -> None:
        if self.docs_per_step is not None and self.tokens_per_step is not None:
            raise UsageError("give --docs-per-step or --tokens-per-step, not both")


@dataclass(frozen=True)
class ExportLongtailConfig:
    max_docs: int = option(0, "--max-docs", type=non_negative, required=True, metavar="K",
                           help="keep questions with at most K relevant documents (0 included)")
    out: str = option("", "--out", required=True, metavar="FILE.jsonl", output=True,
                      help="facts file to write")
    include_uncounted: bool = option(
        False, "--include-uncounted", action="store_true",
        help="also write questions without a count (relevant_docs null)")
    mix: str | None = option(None, "--mix", choices=MIX_KINDS,
                             help="also write mixing data: random word sequences or generic "
                                  "documents")
    ratio: float = option(1.0, "--ratio", type=float, help="mixing records per fact written")
    mix_out: str | None = option(None, "--mix-out", metavar="FILE.jsonl", output=True,
                                 help="mixing data file to write")
    mix_length: int = option(32, "--mix-length", type=int, help="words per random sequence")
    seed: int = option(0, "--seed", type=int, help="random seed")

    def __post_init__(self) -> None:
        if (self.mix is None) != (self.mix_out is None):
            raise UsageError("--mix and --mix-out go together")


@dataclass(frozen=True)
class ImportPaperConfig:
    entity_map: str = option("", "--entity-map", required=True, metavar="NPZ", input=True,
                             help="*_entity_map.npz: URI -> int32 array of document indices")
    qa_entities: str | None = option(
        None, "--qa-entities", metavar="JSONL", input=True,
        help="QA entity file: line i holds the entities of QA row i")
    qa: tuple[str, ...] = option((), "--qa", nargs="+", metavar="FILE", input=True,
                                 help="the QA file the entity lines belong to (with "
                                      "--qa-entities)")
    qa_format: str = option("nq-open", "--qa-format", choices=QA_FORMATS,
                            help="format of --qa")
    question_field: str = option("question", "--question-field",
                                 help="question field for --qa-format jsonl")
    answers_field: str = option("answer", "--answers-field",
                                help="answers field for --qa-format jsonl")
    num_docs: int | None = option(None, "--num-docs", type=non_negative, metavar="N",
                                  help="documents in the corpus (default: largest index in "
                                       "the map + 1)")
    source: str | None = option(None, "--source",
                                help="the documents' source name (default: the .npz path)")

    def __post_init__(self) -> None:
        if (self.qa_entities is None) != (not self.qa):
            raise UsageError("--qa-entities and --qa go together: the QA file gives the "
                             "questions and answers the entity lines belong to")
