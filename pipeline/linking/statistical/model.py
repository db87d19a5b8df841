"""The model folder: raw little-endian arrays, memory-mapped on load, and a JSON header.

    model.json       format, version, counts, totals, parameters, every array's dtype/shape,
                     and every file's size, modification time and sha256 (`checksums`)
    stopwords.list   the stop words the model was built with (Spotlight keeps one per model)
    <name>.bin       one array each (see `StatisticalModel` for what they hold)

Loading checks every file's size (and the sha256 of a file whose modification time is not the
recorded one) and maps every array read-only, so it takes milliseconds and the pages that become
resident are shared between processes linking with the same model on one machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longtail.errors import UsageError
from longtail.linking.statistical.checksums import FILES, HashingWriter, check_files
from longtail.linking.statistical.checksums import entry as checksum_entry
from longtail.linking.statistical.tokenizer import read_stop_words, stable_hash

FORMAT = "longtail-statistical-model"
VERSION = 1
HEADER_FILE = "model.json"
STOP_WORDS_FILE = "stopwords.list"
LONGEST_SPELLING = "longest_spelling"

REQUIRED_ARRAYS = (
    "sf_hash", "sf_annotated", "sf_total", "sf_pair_offsets", "sf_names.data",
    "sf_names.offsets", "pair_entity", "pair_count", "fsa_accept", "fsa_prefixes",
    "lower_hash", "lower_count", "lower_offsets", "lower_sf", "entity_support",
    "entity_uris.data", "entity_uris.offsets", "entity_context_offsets",
    "entity_context_total", "context_token", "context_count", "vocab_hash", "vocab_count",
    "entity_type_offsets", "entity_type_ids",
)


def check_header(folder: str, data: bytes) -> dict:
    """The model header's contents, checked: format, version, and every required array."""
    try:
        header = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"unreadable {folder}/{HEADER_FILE}: {err}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f"{folder}/{HEADER_FILE} is not a {FORMAT} header")
    if header.get("version") != VERSION:
        raise UsageError(f"model format version {header.get('version')} in {folder} is not "
                         f"supported (this version reads {VERSION}); import it again")
    missing = [n for n in REQUIRED_ARRAYS if n not in header.get("arrays", {})]
    if missing:
        raise UsageError(f"model {folder} lacks arrays: {', '.join(missing)}")
    return header


def expand_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """All indices `starts[i] .. starts[i] + lengths[i] - 1`, concatenated (CSR gather)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shifts = np.asarray(starts, dtype=np.int64) - (np.cumsum(lengths) - lengths)
    return np.repeat(shifts, lengths) + np.arange(total, dtype=np.int64)


def index_dtype(largest: int) -> np.dtype:
    """The smallest unsigned dtype that can hold offsets up to `largest`."""
    return np.dtype(np.uint32) if largest < 2**32 else np.dtype(np.uint64)


class ModelWriter:
    """Writes arrays into a folder and records their layout and, for every file, its size,
    modification time and the sha256 of the bytes written (see `checksums`)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.layout: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}

    @contextmanager
    def output(self, filename: str) -> Iterator[HashingWriter]:
        """A file to write piecewise; its record is taken when it is closed."""
        path = self.folder / filename
        with open(path, "wb") as handle:
            writer = HashingWriter(handle)
            yield writer
        self.files[filename] = checksum_entry(path, writer.digest)

    def array(self, name: str, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values)
        little = values.astype(values.dtype.newbyteorder("<"), copy=False)
        with self.output(f"{name}.bin") as out:
            out.write(little.reshape(-1).view(np.uint8))
        self.layout[name] = {"dtype": little.dtype.str, "shape": list(values.shape)}

    def raw(self, name: str, dtype: np.dtype, length: int) -> None:
        """Record the layout of an array whose file the caller wrote through `output`."""
        self.layout[name] = {"dtype": np.dtype(dtype).newbyteorder("<").str, "shape": [length]}

    def strings(self, name: str, values: list[str]) -> None:
        """UTF-8 strings back to back in `<name>.data`, with `<name>.offsets` (n + 1)."""
        encoded = [v.encode("utf-8", "surrogatepass") for v in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.uint64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.uint64, count=len(encoded)),
                  out=offsets[1:])
        with self.output(f"{name}.data.bin") as out:
            for chunk in range(0, len(encoded), 100_000):
                out.write(b"".join(encoded[chunk:chunk + 100_000]))
        self.layout[f"{name}.data"] = {"dtype": "|u1", "shape": [int(offsets[-1])]}
        self.array(f"{name}.offsets", offsets.astype(index_dtype(int(offsets[-1]))))

    def text(self, filename: str, content: str) -> None:
        with self.output(filename) as out:
            out.write(content.encode("utf-8"))

    def finish(self, header: dict[str, Any]) -> None:
        header = {"format": FORMAT, "version": VERSION, **header, "arrays": self.layout,
                  FILES: dict(sorted(self.files.items()))}
        (self.folder / HEADER_FILE).write_text(json.dumps(header, indent=1, sort_keys=True),
                                               encoding="utf-8")


class StringTable:
    """Strings stored back to back, fetched by index."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray):
        self.data = data
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return bytes(self.data[start:end]).decode("utf-8", "surrogatepass")


@dataclass
class StatisticalModel:
    """Every store of a Spotlight statistical model, as arrays.

    Surface forms are numbered in `sf_hash` order (the hash of the exact name); entities in
    URI order; vocabulary tokens in `vocab_hash` order. Pairs, context vectors and types are
    CSR slices per surface form / entity. Pairs of one surface form are sorted by count
    descending, then by entity, so the first ten are Spotlight's ten candidates by prior.
    """

    folder: Path
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]
    sf_names: StringTable
    entity_uris: StringTable
    stop_words: frozenset[str]
    types: list[str]

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(name)

    @property
    def total_annotated(self) -> int:
        return int(self.header["total_annotated"])

    @property
    def total_support(self) -> int:
        return int(self.header["total_support"])

    @classmethod
    def load(cls, folder: str | Path) -> StatisticalModel:
        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(f"model folder not found: {folder}")
        header_path = folder / HEADER_FILE
        if not header_path.is_file():
            raise UsageError(f"not a statistical linker model (no {HEADER_FILE}): {folder}; "
                             f"build one with `longtail model import`")
        header = check_header(str(folder), header_path.read_bytes())
        check_files(folder, header)
        layout = header["arrays"]
        arrays = {name: _map_array(folder, name, spec) for name, spec in layout.items()}
        _check_shapes(folder, header, arrays)
        stop_path = folder / STOP_WORDS_FILE
        stop_words = read_stop_words(stop_path) if stop_path.is_file() else frozenset()
        model = cls(folder, header, arrays,
                    StringTable(arrays["sf_names.data"], arrays["sf_names.offsets"]),
                    StringTable(arrays["entity_uris.data"], arrays["entity_uris.offsets"]),
                    stop_words, list(header.get("types", [])))
        for name, values in arrays.items():
            if name.isidentifier():
                setattr(model, name, values)  # plain attribute access on the hot paths
        return model

    # -- lookups -------------------------------------------------------------------------

    def surface_form_id(self, name: str) -> int:
        """The id of a surface form by its exact name, or -1."""
        return _lookup(self.arrays["sf_hash"], stable_hash(name))

    def annotation_probability(self, sf: int) -> float:
        """Spotlight's `SurfaceForm.annotationProbability`: linked / total, 1.0 when the total is
        unknown (-1), 0.0 when it is 0 (or was corrected to 0 or below)."""
        total = int(self.arrays["sf_total"][sf])
        if total == -1:
            return 1.0
        if total == 0:
            return 0.0
        return int(self.arrays["sf_annotated"][sf]) / total

    def annotation_probabilities(self, sf: np.ndarray) -> np.ndarray:
        """`annotation_probability` of many surface forms at once."""
        total = self.arrays["sf_total"][sf].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = self.arrays["sf_annotated"][sf] / total
        p[total == -1] = 1.0
        p[total == 0] = 0.0
        return p

    def lowercase_entry(self, lowercase: str) -> tuple[int, np.ndarray] | None:
        """(lowercase count, surface form ids) for a lowercased spot, or None."""
        index = _lookup(self.arrays["lower_hash"], stable_hash(lowercase))
        if index < 0:
            return None
        off = self.arrays["lower_offsets"]
        return (int(self.arrays["lower_count"][index]),
                self.arrays["lower_sf"][int(off[index]):int(off[index + 1])])

    def pair_slice(self, sf: int) -> tuple[int, int]:
        off = self.arrays["sf_pair_offsets"]
        return int(off[sf]), int(off[sf + 1])

    def entity_types(self, entity: int) -> tuple[str, ...]:
        if not self.types:
            return ()
        off = self.arrays["entity_type_offsets"]
        ids = self.arrays["entity_type_ids"][int(off[entity]):int(off[entity + 1])]
        return tuple(self.types[int(t)] for t in ids)

    @property
    def longest_spelling(self) -> int:
        """An upper bound on the length (code points) of any spelling that can be found as a
        surface form, exactly or through the lowercase map: the longest lowercased name, from
        the header, else the longest name's UTF-8 bytes (a name's lowercase never has more
        code points than the name has bytes). Computed once."""
        found = self.__dict__.get("_longest_spelling")
        if found is None:
            found = self.header.get(LONGEST_SPELLING)
            if not isinstance(found, int):
                offsets = self.arrays["sf_names.offsets"]
                found = 0
                for at in range(0, max(len(offsets) - 1, 0), 1 << 20):
                    piece = offsets[at:at + (1 << 20) + 1].astype(np.int64)
                    found = max(found, int(np.diff(piece).max(initial=0)))
            self.__dict__["_longest_spelling"] = found
        return found

    def log_prior(self, support: np.ndarray) -> np.ndarray:
        """ln P(e) = ln(support / total support)."""
        with np.errstate(divide="ignore"):
            return np.log(support.astype(np.float64)) - math.log(max(self.total_support, 1))


def _lookup(table: np.ndarray, value: int) -> int:
    if len(table) == 0:
        return -1
    pos = int(table.searchsorted(np.uint64(value)))
    return pos if pos < len(table) and int(table[pos]) == value else -1


def _map_array(folder: Path, name: str, spec: dict[str, Any]) -> np.ndarray:
    path = folder / f"{name}.bin"
    try:
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(s) for s in spec["shape"])
    except (KeyError, TypeError, ValueError) as err:
        raise UsageError(f"bad layout for array {name} in {folder / HEADER_FILE}: {err}") from None
    if not path.is_file():
        raise UsageError(f"model {folder} is incomplete: {path.name} is missing")
    expected = int(np.prod(shape)) * dtype.itemsize
    if path.stat().st_size != expected:
        raise UsageError(f"model {folder} is damaged: {path.name} has {path.stat().st_size} "
                         f"bytes, the header says {expected}")
    if expected == 0:
        return np.zeros(shape, dtype=dtype)
    # A plain ndarray view of the mapping: indexing a np.memmap subclass costs microseconds.
    return np.memmap(path, dtype=dtype, mode="r", shape=shape).view(np.ndarray)


def _check_shapes(folder: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    counts = {
        "sf_hash": header.get("surface_forms"), "sf_pair_offsets": _plus1(header, "surface_forms"),
        "pair_entity": header.get("pairs"), "entity_support": header.get("entities"),
        "entity_context_offsets": _plus1(header, "entities"),
        "vocab_hash": header.get("vocabulary"),
    }
    for name, expected in counts.items():
        if expected is None or len(arrays[name]) != expected:
            raise UsageError(f"model {folder} is inconsistent: {name} has {len(arrays[name])} "
                             f"rows, the header says {expected}")


def _plus1(header: dict[str, Any], key: str) -> int | None:
    value = header.get(key)
    return value + 1 if isinstance(value, int) else None
