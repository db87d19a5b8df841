"""Real servers for tests: a DBpedia Spotlight look-alike that can misbehave on purpose.

Names are loaded on first use so that `python -m tests.servers.fake_spotlight` runs cleanly.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    name: "tests.servers.fake_spotlight"
    for name in ("DICTIONARY", "DictionaryAnnotator", "FakeSpotlight", "Faults",
                 "SpotlightProcess", "unused_port")
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
