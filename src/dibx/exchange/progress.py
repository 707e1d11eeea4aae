"""Progress of an import: a bar (rows/s, ETA) on a terminal, plain log lines otherwise.

`for_stream(stream)` picks one. Both take `start(total)` (bytes of all sources, None if
unknown), `update(rows, consumed)` and `finish()`, as `dibx.exchange.importer` calls them.
"""

from __future__ import annotations

import time
from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class BarProgress:
    """A rich progress bar over the bytes read, with rows and rows/s beside it."""

    def __init__(self, stream: IO[str]) -> None:
        self.bar = Progress(
            TextColumn("[bold]import"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.task: TaskID | None = None
        self.began = time.monotonic()

    def start(self, total: int | None) -> None:
        self.began = time.monotonic()
        self.bar.start()
        self.task = self.bar.add_task("import", total=total, rows=0, rate=0.0)

    def update(self, rows: int, consumed: int) -> None:
        if self.task is None:
            return
        rate = rows / max(time.monotonic() - self.began, 1e-6)
        self.bar.update(self.task, completed=consumed, rows=rows, rate=rate)

    def finish(self) -> None:
        self.bar.stop()


class LogProgress:
    """One plain line every `every` seconds: rows, rows/s, percent and ETA when known."""

    def __init__(self, stream: IO[str], every: float = 5.0) -> None:
        self.stream = stream
        self.every = every
        self.total: int | None = None
        self.began = self.last = time.monotonic()
        self.rows = 0
        self.consumed = 0

    def start(self, total: int | None) -> None:
        self.total = total
        self.began = self.last = time.monotonic()

    def update(self, rows: int, consumed: int) -> None:
        self.rows, self.consumed = rows, consumed
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self.began, 1e-6)
        rate = self.rows / elapsed
        text = f"import: {self.rows:,} rows, {rate:,.0f} rows/s"
        if self.total:
            done = min(self.consumed / self.total, 1.0)
            left = elapsed * (1 - done) / done if done > 0 else None
            text += f", {done:.0%}" + (f", ETA {left:,.0f} s" if left is not None else "")
        print(text, file=self.stream, flush=True)

    def finish(self) -> None:
        self._line(time.monotonic())


def for_stream(stream: IO[str]) -> BarProgress | LogProgress:
    return BarProgress(stream) if stream.isatty() else LogProgress(stream)
