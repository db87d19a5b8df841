"""The embedded Spotlight-compatible statistical linker, its model import and its spotter.

    report = import_wikistats("wikistats/", "model/")          # uriCounts, pairCounts, ...
    linker = StatisticalLinker.load("model/", confidence=0.4, support=20)
    linker.annotate("Paris is the capital of France.")          # list[Annotation]
    linker.candidates(text)                                      # every spot, every candidate
    Spotter.build(surface_forms).find_all(text)                  # exact occurrence counting
    verify_model("model/")                                       # damaged files, every sha256

It follows DBpedia Spotlight's statistical backend (`FSASpotter`/`DBSpotter`,
`DBTwoStepDisambiguator` with `GenerativeContextSimilarity`, `DBCandidateSearcher`, the
confidence, percentage-of-second and support filters) and its model builder
(`CreateSpotlightModel`, `MemoryStoreIndexer`). Where it simplifies, the module says so:
`tokenizer` (BreakIterator approximations; `scanning` runs its rules with numpy), `importer`
(no redirect closure, exact counts), `spotting` (spot lookups read `’` as `'`),
`disambiguation` (stop words left out of the context). One difference applies throughout:
Spotlight's English model can ship OpenNLP tokenizer, sentence, POS and chunker models, and
then spots noun-phrase chunks instead of FSA matches; those models are not used here, so
spotting is always Spotlight's FSA configuration (the one it uses for languages without OpenNLP
models).
"""

from longtail.linking.statistical.checksums import verify_model
from longtail.linking.statistical.disambiguation import ScoredCandidate, Scores, SpotCandidates
from longtail.linking.statistical.importer import import_wikistats
from longtail.linking.statistical.linker import StatisticalLinker
from longtail.linking.statistical.model import StatisticalModel
from longtail.linking.statistical.spotter import Spotter
from longtail.linking.statistical.spotting import Spot
from longtail.linking.statistical.tokenizer import (
    TokenizedText,
    Tokenizer,
    default_stop_words,
    stable_hash,
)

__all__ = [
    "ScoredCandidate", "Scores", "Spot", "SpotCandidates", "Spotter", "StatisticalLinker",
    "StatisticalModel", "TokenizedText", "Tokenizer", "default_stop_words", "import_wikistats",
    "stable_hash", "verify_model",
]
