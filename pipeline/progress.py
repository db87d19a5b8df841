"""What the console shows while a stage runs and when it ends, the same from the CLI and from
spark-submit: one progress line on a terminal, then one summary line per stage."""

from __future__ import annotations

import sys
import threading


def stage_line(stage: str, seconds: float, **counts: int) -> str:
    """`[longtail] link      12.3 s  documents=1,000 linked=990 ...`"""
    shown = " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items())
    return f"[longtail] {stage:<8} {seconds:7.1f} s  {shown}"


class ProgressLine:
    """One line on stderr rewritten in place (`\\r`), cleared before anything else prints."""

    _lock = threading.Lock()

    def __init__(self, description: str):
        self.description = description
        self.shown = False

    def show(self, text: str) -> None:
        with self._lock:
            sys.stderr.write(f"\r\033[K[longtail] {self.description}: {text}")
            sys.stderr.flush()
            self.shown = True

    def clear(self) -> None:
        with self._lock:
            if self.shown:
                sys.stderr.write("\r\033[K")
                sys.stderr.flush()
                self.shown = False
