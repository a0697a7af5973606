"""A dependency-free progress bar for long work (import, export, large demo plans).

It draws only when its stream is a terminal: piped or captured output (CI logs, `leanplan export >
file`, tests) stays free of carriage returns and escape codes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

_WIDTH = 30


class Progress:
    """Counts work done out of `total` and redraws one line on a TTY when the percentage changes."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = self._stream.isatty()
        self._shown_percent = -1

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._draw()

    def close(self) -> None:
        """Ends the bar's line, so whatever is written next starts on a fresh one."""
        if self._enabled and self._shown_percent >= 0:
            self._stream.write("\n")
            self._stream.flush()

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _draw(self) -> None:
        percent = 100 if self.total == 0 else min(100, self.done * 100 // self.total)
        if not self._enabled or percent == self._shown_percent:
            return
        self._shown_percent = percent
        filled = _WIDTH * percent // 100
        bar = "#" * filled + "-" * (_WIDTH - filled)
        self._stream.write(f"\r{self.label} [{bar}] {percent:3d}% ({self.done}/{self.total})")
        self._stream.flush()


ProgressFactory = Callable[[str, int], Progress]
"""Makes the bar for one piece of work; callers and tests swap it to watch or silence progress."""
