"""One summary line per stage, the same from the CLI and from spark-submit."""

from __future__ import annotations


def stage_line(stage: str, seconds: float, **counts: int) -> str:
    """`[longtail] link      12.3 s  documents=1,000 linked=990 ...`"""
    shown = " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items())
    return f"[longtail] {stage:<8} {seconds:7.1f} s  {shown}"
