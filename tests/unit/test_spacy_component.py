"""The `longtail_linker` spaCy component, with the embedded linker and against a real server."""

from __future__ import annotations

import spacy

from longtail.linking.spacy_component import LABEL
from tests.servers import FakeSpotlight
from tests.unit.test_statistical_linker import MYTH, PARIS_CONTEXTS, build

DBR = "http://dbpedia.org/resource/"


def test_embedded_linker_entities_land_on_doc_ents_with_kb_ids(tmp_path):
    build(tmp_path, **PARIS_CONTEXTS)
    nlp = spacy.blank("en")
    nlp.add_pipe("longtail_linker", config={"model": str(tmp_path / "model")})
    doc = nlp("Paris is the capital of France.")
    assert [(e.text, e.kb_id_, e.label_) for e in doc.ents] == [("Paris", DBR + "Paris", LABEL)]
    assert [s.kb_id_ for s in doc.spans["dbpedia_spotlight"]] == [DBR + "Paris"]
    assert doc.ents[0]._.longtail_annotation.similarity > 0.5
    myth = nlp(MYTH)
    assert myth.ents[0].kb_id_ == DBR + "Paris_(mythology)"


def test_pipe_and_keeping_existing_entities(tmp_path):
    build(tmp_path, **PARIS_CONTEXTS)
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "GPE", "pattern": "France"}])
    nlp.add_pipe("longtail_linker",
                 config={"model": str(tmp_path / "model"), "overwrite_ents": False})
    docs = list(nlp.pipe(["Paris is the capital of France.", "Nothing here."]))
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Paris", LABEL), ("France", "GPE")]
    assert list(docs[1].ents) == []


def test_spotlight_client_behind_the_component():
    with FakeSpotlight() as server:
        nlp = spacy.blank("en")
        nlp.add_pipe("longtail_linker", config={"spotlight": [server.url]})
        doc = nlp("Marie Curie won the Nobel Prize in physics in Paris.")
    assert [(e.text, e.kb_id_) for e in doc.ents] == [
        ("Marie Curie", DBR + "Marie_Curie"), ("Nobel Prize", DBR + "Nobel_Prize"),
        ("physics", DBR + "Physics"), ("Paris", DBR + "Paris")]
