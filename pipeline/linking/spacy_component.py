"""A spaCy pipeline component that puts either linker's entities on `doc.ents` and `doc.spans`.

    nlp = spacy.blank("en")
    nlp.add_pipe("longtail_linker", config={"model": "MODEL_DIR"})
    # or config={"spotlight": ["http://127.0.0.1:2222/rest"], "confidence": 0.4}
    doc = nlp("Paris is the capital of France.")
    [(e.text, e.kb_id_) for e in doc.ents]

It behaves like spacy-dbpedia-spotlight: label `DBPEDIA_ENT`, `kb_id_` the DBpedia URI,
every entity also in `doc.spans[span_group]`, the original entities kept in
`doc.spans["ents_original"]` when `overwrite_ents` replaces them, and the annotation on
`span._.longtail_annotation`.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from longtail.linking.annotation import SPOTLIGHT_CONFIDENCE, SPOTLIGHT_SUPPORT, Annotation, Linker
from longtail.linking.spec import LinkerSpec

LABEL = "DBPEDIA_ENT"

if not Span.has_extension("longtail_annotation"):
    Span.set_extension("longtail_annotation", default=None)


class LongtailLinker:
    """Links each doc's text and sets entities on it."""

    def __init__(self, linker: Linker, span_group: str = "dbpedia_spotlight",
                 overwrite_ents: bool = True):
        self.linker = linker
        self.span_group = span_group
        self.overwrite_ents = overwrite_ents

    def __call__(self, doc: Doc) -> Doc:
        return self._set_entities(doc, self.linker.annotate(doc.text))

    def pipe(self, docs, batch_size: int = 32):
        docs = list(docs)
        results = self.linker.annotate_many((i, d.text) for i, d in enumerate(docs))
        for doc, result in zip(docs, results, strict=True):
            if result.error is not None:
                raise result.error
            yield self._set_entities(doc, result.annotations)

    def _set_entities(self, doc: Doc, annotations: list[Annotation]) -> Doc:
        spans = []
        for a in annotations:
            span = doc.char_span(a.offset, a.offset + len(a.surface_form), label=LABEL,
                                 kb_id=a.uri, alignment_mode="expand")
            if span is None:
                continue
            span._.longtail_annotation = a
            spans.append(span)
        doc.spans[self.span_group] = spans
        if self.overwrite_ents:
            doc.spans["ents_original"] = list(doc.ents)
            doc.ents = filter_spans(spans)
        else:
            taken = {i for e in doc.ents for i in range(e.start, e.end)}
            free = [s for s in filter_spans(spans) if not taken & set(range(s.start, s.end))]
            doc.ents = list(doc.ents) + free
        return doc


@Language.factory(
    "longtail_linker",
    default_config={
        "model": None,
        "spotlight": None,
        "confidence": SPOTLIGHT_CONFIDENCE,
        "support": SPOTLIGHT_SUPPORT,
        "span_group": "dbpedia_spotlight",
        "overwrite_ents": True,
    },
)
def make_longtail_linker(
    nlp: Language,
    name: str,
    model: str | None,
    spotlight: list[str] | None,
    confidence: float,
    support: int,
    span_group: str,
    overwrite_ents: bool,
) -> LongtailLinker:
    spec = LinkerSpec(model=model, spotlight=tuple(spotlight or ()), confidence=confidence,
                      support=support)
    return LongtailLinker(spec.build(), span_group=span_group, overwrite_ents=overwrite_ents)
