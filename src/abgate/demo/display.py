"""Refreshing the live view: a rich ``Live`` on a terminal, plain progress lines otherwise.

The run loop calls :meth:`Display.update` with a fresh snapshot several times a second; this
class decides what reaches the screen. On a terminal every update redraws the view; in a pipe or
a CI log one line is printed at most every ``plain_every_s`` seconds, plus the final one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.live import Live

from abgate.demo.snapshot import Snapshot
from abgate.demo.view import plain_line, render


class Display:
    """Context manager owning the terminal while a run is in progress."""

    def __init__(
        self,
        console: Console,
        *,
        plain_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.plain_every_s = plain_every_s
        self.clock = clock
        self._live: Live | None = None
        self._last_line = -math.inf

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=False)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def update(self, snapshot: Snapshot) -> None:
        if self._live is not None:
            self._live.update(render(snapshot), refresh=True)
            return
        now = self.clock()
        if snapshot.finished or now - self._last_line >= self.plain_every_s:
            self.console.print(plain_line(snapshot), highlight=False, soft_wrap=True)
            self._last_line = now
