"""What a load reports: rejected rows with their reason, notes, and the checked Dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dibx.auth import markings
from dibx.graph.records import Dataset


class RowError(ValueError):
    """A row's fault; the message is the rejection reason."""


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    row: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} {self.row}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportResult:
    dataset: Dataset
    rejected: list[Rejection]
    # Not errors: e.g. a marking stored in canonical order that was written in another.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


def kind_name(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


class Context:
    """Collects rejections and notes for one load, and canonicalizes markings once each."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.rejected: list[Rejection] = []
        self.notes: list[str] = []
        self._canonical: dict[str, str | markings.MarkingError] = {}

    def name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.base))
        except ValueError:
            return str(path)

    def reject(self, file: str, row: str, reason: str) -> None:
        self.rejected.append(Rejection(file, row, reason))

    def marking(self, value: object, what: str) -> str:
        if not isinstance(value, str):
            raise RowError(f"marking of {what} must be text, got {kind_name(value)}")
        hit = self._canonical.get(value)
        if hit is None:
            try:
                hit = markings.canonicalize(value)
            except markings.MarkingError as err:
                hit = err
            self._canonical[value] = hit
            if isinstance(hit, str) and hit != value.strip():
                self.notes.append(f"marking {value!r} stored in canonical form {hit!r}")
        if isinstance(hit, markings.MarkingError):
            raise RowError(f"malformed marking for {what}: {hit}")
        return hit

    def result(self, dataset: Dataset) -> ImportResult:
        return ImportResult(dataset, self.rejected, self.notes)
