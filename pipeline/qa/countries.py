"""The country list behind --exclude-countries: countries dropped from question entities."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from longtail.errors import UsageError
from longtail.linking.annotation import canonical_uri


def _parse(text: str) -> set[str]:
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {canonical_uri(n) for n in names if n}


def load_countries(path: str | None = None) -> set[str]:
    """Country URIs from `path` (one URI or resource name per line), or the built-in list.

    The built-in list holds today's sovereign states; pass the reference code's own list with
    `--countries FILE` to reproduce its exclusions exactly.
    """
    if path is None:
        return _parse(resources.files("longtail.qa").joinpath("countries.txt").read_text("utf-8"))
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"country list not found: {path}")
    return _parse(file.read_text(encoding="utf-8"))
