"""A picklable description of a linker, built once in each process that uses it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from longtail.errors import UsageError
from longtail.linking.annotation import SPOTLIGHT_CONFIDENCE, SPOTLIGHT_SUPPORT, Linker
from longtail.output.storage import Storage, is_remote

KANDPAL_CONFIDENCE = 0.4
KANDPAL_SUPPORT = 20

_BUILT: dict[LinkerSpec, Linker] = {}
MODEL_HEADER = "model.json"


def check_model_folder(folder: str) -> None:
    """Stop with one line, before any work starts, when `folder` is not a loadable model."""
    from longtail.linking.statistical.model import StatisticalModel, check_header

    if is_remote(folder):  # its header here; the arrays are checked where it is copied to
        storage = Storage(folder)
        try:
            data = storage.read_bytes(MODEL_HEADER) if storage.stat(MODEL_HEADER) else None
        except OSError as err:
            raise storage.error(err, "cannot read the model at") from None
        if data is None:
            raise UsageError(f"not a statistical linker model (no {MODEL_HEADER}): "
                             f"{storage.display()}")
        check_header(storage.display(), data)
        return
    StatisticalModel.load(folder)  # memory-maps the arrays: milliseconds, and every check


def model_id(folder: str) -> str | None:
    """A digest of the model's header, which lists every file's sha256: it changes with any
    change of content, not when the same data is imported again (the files' modification
    times are left out); None when there is no header."""
    try:
        if is_remote(folder):
            header = Storage(folder).read_bytes(MODEL_HEADER)
        else:
            header = (Path(folder) / MODEL_HEADER).read_bytes()
    except OSError:
        return None
    try:
        parsed = json.loads(header.decode("utf-8"))
        files = parsed.get("files")
    except (ValueError, AttributeError):
        files = None
    if isinstance(files, dict):
        parsed["files"] = {name: {k: v for k, v in entry.items() if k != "mtime_ns"}
                           if isinstance(entry, dict) else entry
                           for name, entry in files.items()}
        header = json.dumps(parsed, sort_keys=True).encode("utf-8")
    return hashlib.sha256(header).hexdigest()[:16]


@dataclass(frozen=True)
class LinkerSpec:
    """Either an embedded model folder or a list of Spotlight endpoints, plus the filters."""

    model: str | None = None
    spotlight: tuple[str, ...] = ()
    confidence: float = SPOTLIGHT_CONFIDENCE
    support: int = SPOTLIGHT_SUPPORT
    max_in_flight: int = 5
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if bool(self.model) == bool(self.spotlight):
            raise UsageError("give exactly one of --model DIR or --spotlight URL [URL ...]")
        if not 0.0 <= self.confidence <= 1.0:
            raise UsageError(f"--confidence must be between 0 and 1, got {self.confidence}")
        if self.support < 0:
            raise UsageError(f"--support must be >= 0, got {self.support}")
        if self.model:
            check_model_folder(self.model)

    @property
    def kind(self) -> str:
        return "statistical" if self.model else "spotlight"

    def describe(self) -> dict:
        return {"linker": self.kind, **asdict(self), "spotlight": list(self.spotlight)}

    def parameters(self) -> dict:
        """The linker as a stage records its parameters: everything but the model folder,
        which is recorded as an input (where it is, and a digest of what it is)."""
        found = self.describe()
        found.pop("model")
        return found

    def fingerprint(self) -> dict | None:
        """The model's identity, recorded by the stages that link with it (None for Spotlight,
        a server whose model longtail cannot see)."""
        if not self.model:
            return None
        return {"path": self.model, "id": model_id(self.model)}

    def build(self) -> Linker:
        """The linker, loaded once per process and reused by every task that runs there."""
        linker = _BUILT.get(self)
        if linker is None:
            linker = self._load()
            _BUILT[self] = linker
        return linker

    def _load(self) -> Linker:
        if self.model:
            from longtail.linking.statistical import StatisticalLinker

            folder = self.model
            if is_remote(folder):  # memory-mapped: a local copy, made once per machine
                from longtail.linking.model_copy import local_model

                folder = str(local_model(folder, MODEL_HEADER))
            return StatisticalLinker.load(folder, confidence=self.confidence,
                                          support=self.support)
        from longtail.linking.spotlight import SpotlightClient

        return SpotlightClient(
            list(self.spotlight),
            confidence=self.confidence,
            support=self.support,
            max_in_flight=self.max_in_flight,
            read_timeout=self.timeout,
        )
