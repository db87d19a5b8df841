"""Matplotlib on the Agg backend (no display needed), and writing a figure as a PNG."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.figure import Figure  # noqa: E402

from longtail.errors import UsageError  # noqa: E402


def new_figure(width: float = 8.0, height: float = 5.0) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def new_grid(rows: int, cols: int, size: float = 3.0) -> tuple[Figure, list[list[plt.Axes]]]:
    """A grid of axes, `size` inches per panel, as a list of rows."""
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size), dpi=110,
                             squeeze=False)
    for ax in axes.flat:
        ax.grid(True, which="major", alpha=0.3)
    return fig, [list(row) for row in axes]


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes (for pages that inline their images), then closed."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def save_png(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"plot file must end in .png: {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
