"""`longtail annotate` prints Spotlight's /rest/annotate JSON, whichever linker produced it."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.servers import FakeSpotlight
from tests.unit.test_statistical_linker import PARIS_CONTEXTS, build

KEYS = ["@text", "@confidence", "@support", "@types", "@sparql", "@policy"]
RESOURCE_KEYS = ["@URI", "@support", "@types", "@surfaceForm", "@offset", "@similarityScore",
                 "@percentageOfSecondRank"]


def annotate(*args: str, stdin: str | None = None) -> dict:
    result = subprocess.run([sys.executable, "-m", "longtail.jobs.cli", "annotate", *args],
                            input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout, object_pairs_hook=lambda pairs: dict(pairs))


def test_embedded_linker_prints_spotlight_shape_with_utf16_offsets(tmp_path):
    build(tmp_path, **PARIS_CONTEXTS)
    text = "😀 Paris is the capital of France."
    out = annotate("--model", str(tmp_path / "model"), "--confidence", "0.3", stdin=text + "\n")
    assert list(out) == [*KEYS, "Resources"]
    assert out["@text"] == text and out["@confidence"] == "0.3" and out["@support"] == "0"
    [paris] = out["Resources"]
    assert list(paris) == RESOURCE_KEYS
    assert all(isinstance(v, str) for v in paris.values())
    assert paris["@URI"] == "http://dbpedia.org/resource/Paris"
    assert paris["@offset"] == "3"  # the emoji is two UTF-16 units, as Spotlight counts


def test_nothing_found_has_no_resources_key(tmp_path):
    build(tmp_path, **PARIS_CONTEXTS)
    out = annotate("--model", str(tmp_path / "model"), "Nothing to see here.")
    assert list(out) == KEYS


def test_spotlight_client_prints_the_same_shape():
    with FakeSpotlight() as server:
        out = annotate("--spotlight", server.url, "Marie Curie lived in Paris.")
    assert list(out) == [*KEYS, "Resources"]
    assert [r["@surfaceForm"] for r in out["Resources"]] == ["Marie Curie", "Paris"]
    assert [r["@offset"] for r in out["Resources"]] == ["0", "21"]
