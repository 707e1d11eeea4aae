"""Bulk import of exchange files: the engine the CLI and the HTTP import jobs share.

    report = await run_import(
        graph, policy, principal,
        [Source("gbr.suppliers.csv", open(path, "rb")), Source("x.jsonl", body_chunks)],
        audit=WriteAudit(sink, operation="import", policy_version=policy.version),
        dry_run=False, batch_size=1000, progress=None, on_reject=None,
    )

* `sources`: each a `Source(name, chunks, size=None)`; `name` says the format (`.csv`,
  `.jsonl`) and, for CSV, the entity (`suppliers.csv`, `gbr.provides.csv`); `chunks` is any
  iterable of text lines/chunks or bytes chunks (a file opened in binary mode, a request body
  kept elsewhere and read back). Sources are read one after the other, CSV sources in the
  model's write order (records before the edges that need them), never held whole.
* `principal`: who imports: its nation is the originator of everything created, its scopes
  must include the policy's `[stewardship.scopes]` for each entity written.
* `audit`: every batch transaction writes one `graph_write` record (action `import`) through it
  before COMMIT; a failed record rolls the batch back and the import stops: the report's
  `stopped` says why (so does a database that became unavailable), its counts are what
  committed before.
* `dry_run`: every row is read and checked (values, markings, floors, scopes, dependencies
  between rows of the run) and nothing is written or read from the graph beyond the release
  scope; a real run also reports what the database refuses (missing ends, others' records).
* `progress`: an object with `update(rows, consumed)` (rows read so far, bytes/characters read
  so far of all sources) and `total` set from the sources' sizes; see `dibx.exchange.progress`.
* `on_reject`: called with every `Reject` as it happens (a report file); `ImportReport.rejects`
  keeps the first `max_rejects` of them.

* `parallel`: how many batches of one entity may be written at once (default 2, the
  `DIBX_IMPORT_PARALLEL` setting, `dibx import --parallel`); 1 writes one batch at a time.

`ImportReport` has read, created, updated, unchanged and rejected counts and the rejects
(source, line, column, code, reason). Each batch holds at most `batch_size` rows of one
entity; the engine keeps up to `parallel` batches being written plus the one being read and
checked, the keys of rejected records and a hash of every record key seen (to refuse a row
repeating an earlier one), so memory stays bounded by the batches, not the file. A
`FormatError` (unknown entity, bad header, not UTF-8) stops that source and is reported as a
reject of line 1 (or the line reached); the other sources go on.

Parallel batches: the rows of a run are distinct (`_Run.seen`: a record key, an edge's pair
of ends), so two batches of one entity never write the same record or edge; batches sharing
end nodes queue on the owners' tally locks, taken in one order (`dibx.exchange.writer`).
Acyclic edges (REQUIRES) are written one batch at a time: a batch's cycle check must see the
edges of the batch before it. A row of another entity waits until every batch in flight has
committed (an edge row must know which records the database refused), and so does the end of
each source. Batches commit in the order they finish, so change numbers (`seq`,
docs/changes.md) follow commit order, not file order (`parallel=1` keeps file order).
Results are counted, and the database's rejects reported, batch by batch in file order, once
a batch and every one before it finished; the rejects of one run are the same whatever
`parallel`, reported in another order only where a batch's database rejects come among the
checker's rejects of later rows. On a failure (an audit record, the database) the batches
already in flight are awaited, not cancelled: each commits or rolls back whole, and the
report counts exactly those that committed, which may include one after the failed one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Protocol

from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.errors import Unavailable
from dibx.exchange.format import ENTITIES, KEY, Entity, FormatError, entity_of
from dibx.exchange.reader import BadRow, Chunk, Counter, Row, read
from dibx.exchange.validate import (
    DEPENDS_ON_REJECTED,
    DUPLICATE_ROW,
    MALFORMED,
    Item,
    Reject,
    RowChecker,
)
from dibx.exchange.writer import BatchResult, BatchWriter
from dibx.graph.driver import Graph
from dibx.services.audit import AuditError, WriteAudit
from dibx.services.memberships import MembershipDirectory
from dibx.services.stewardship import StewardshipService

DEFAULT_BATCH: Final = 2000
DEFAULT_PARALLEL: Final = 2  # batches of one entity written at once (two cores: one each)
CATALOGUE: Final = ("Capability", "REQUIRES")  # written by the policy's catalogue steward
MAX_REJECTS: Final = 10_000
PAUSE_EVERY: Final = 32  # rows checked between two turns of the event loop


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    chunks: Iterable[Chunk]
    size: int | None = None  # bytes (or characters) in all, for progress; None if unknown


class Progress(Protocol):
    def start(self, total: int | None) -> None: ...

    def update(self, rows: int, consumed: int) -> None: ...

    def finish(self) -> None: ...


@dataclass
class ImportReport:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    valid: int = 0  # dry run: rows that passed every check
    dry_run: bool = False
    rejects: list[Reject] = field(default_factory=list)
    # Why the import stopped before the end (an audit record or the database failed): the
    # batches counted above committed, the failing one did not, nothing after it ran.
    stopped: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "valid": self.valid,
            "dryRun": self.dry_run,
            "stopped": self.stopped,
        }


def operator(policy: Policy, nation: str, org: str | None = None) -> Principal:
    """The principal of an operator's import (`dibx import --nation GBR`): that nation's
    steward with the write scopes the policy gives its types; the catalogue's scope only for
    the catalogue steward."""
    steward = policy.stewardship
    scopes = {
        scope
        for owner, scope in steward.scopes.items()
        if owner not in CATALOGUE or nation == steward.catalogue_steward
    }
    return Principal(
        subject=f"import-{nation.lower()}",
        client_id="dibx-import",
        nation=nation,
        org=org,
        scopes=frozenset(scopes),
        attributes=frozenset(),
        token_id=None,
    )


def _order(source: Source) -> int:
    entity = entity_of(source.name)
    return 0 if entity is None else list(ENTITIES).index(entity.name)


class _Run:
    """One import's state: the pending batch, rejected keys, keys seen, counts."""

    def __init__(
        self,
        checker: RowChecker,
        writer: BatchWriter | None,
        report: ImportReport,
        *,
        batch_size: int,
        max_rejects: int,
        on_reject: Callable[[Reject], None] | None,
        parallel: int = 1,
    ) -> None:
        self.checker = checker
        self.writer = writer
        self.report = report
        self.batch_size = batch_size
        self.max_rejects = max_rejects
        self.on_reject = on_reject
        self.nation = checker.nation
        self.batch: list[Item] = []
        self.entity: Entity | None = None
        self.rejected_keys: dict[str, str] = {}  # stored key of a rejected record -> file:line
        self.seen: set[int] = set()  # hashes of the records and edges of this run
        self.parallel = parallel
        # The batches in flight, oldest first: counted (and their rejects reported) in order.
        self.writing: deque[asyncio.Task[BatchResult]] = deque()

    def reject(self, reject: Reject) -> None:
        self.report.rejected += 1
        if len(self.report.rejects) < self.max_rejects:
            self.report.rejects.append(reject)
        if self.on_reject is not None:
            self.on_reject(reject)

    def own_key(self, raw: object) -> str | None:
        key = self.checker.key_of(raw)
        return f"{self.nation}:{key}" if isinstance(key, str) else None

    async def row(self, row: Row | BadRow) -> None:
        self.report.read += 1
        if isinstance(row, BadRow):
            self.reject(Reject(row.source, row.line, row.column, MALFORMED, row.message))
            return
        entity = row.entity
        if self.entity is not entity:
            # Before this row is checked: an edge row must know every record the database
            # refused, the last batch of records included.
            await self.flush()
            await self.drain()
            self.entity = entity
        own: str | None = None
        if entity.node is not None:
            own = self.own_key(row.values.get(KEY))
            identity: tuple[str, ...] = (entity.name, str(own))
        else:
            assert entity.ends is not None
            ends = [self.own_key(row.values.get(role)) for role in entity.ends]
            for role, end in zip(entity.ends, ends, strict=True):
                where = self.rejected_keys.get(str(end))
                if where is not None:
                    self.reject(
                        Reject(
                            row.source,
                            row.line,
                            role,
                            DEPENDS_ON_REJECTED,
                            f"{row.values.get(role)} was rejected at {where}; fix that row first",
                        )
                    )
                    return
            identity = (entity.name, str(ends[0]), str(ends[1]))
        checked = self.checker.check(row)
        if isinstance(checked, list):
            for r in checked:
                self.reject(r)
            if entity.node is not None and own is not None:
                self.rejected_keys[own] = row.where
            return
        mark = hash(identity)
        if mark in self.seen:
            self.reject(
                Reject(
                    row.source,
                    row.line,
                    "",
                    DUPLICATE_ROW,
                    "an earlier row of this import has the same key: keep one",
                )
            )
            return
        self.seen.add(mark)
        self.batch.append(checked)
        if len(self.batch) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        """Hand the pending batch to the writer and go on reading: batches are written while
        the next is read and checked (validation is Python's CPU, writing mostly the
        database's). At most `parallel` batches are in flight (one for acyclic edges: the
        cycle check of a batch must see the edges of the one before); when they are, the
        oldest is waited for. `drain` waits for all."""
        if not self.batch or self.entity is None:
            return
        batch, self.batch = self.batch, []
        if self.writer is None:
            self.report.valid += len(batch)
            return
        edge = self.entity.edge
        room = 1 if edge is not None and edge.acyclic else self.parallel
        await self._settle(room - 1)
        self.writing.append(asyncio.create_task(self.writer.write(self.entity, batch)))

    async def drain(self) -> None:
        """Wait for every batch in flight and count what each did. Called before a row of
        another entity is checked (an edge row needs its ends' rejects) and at the end."""
        await self._settle(0)

    async def _settle(self, room: int) -> None:
        """Wait for the oldest batches, in order, until at most `room` are in flight, and
        count them. When one fails, every other batch in flight is still waited for (each
        commits or rolls back whole; cancelling one mid-COMMIT would leave its outcome
        unknown) and counted if it committed; then the first failure is raised."""
        failure: Exception | None = None
        while len(self.writing) > room or (failure is not None and self.writing):
            writing = self.writing.popleft()
            try:
                result = await writing
            except Exception as exc:  # noqa: BLE001 - raised below, after the others settle
                failure = failure or exc
                continue
            self.report.created += result.created
            self.report.updated += result.updated
            self.report.unchanged += result.unchanged
            for r in result.rejects:
                self.reject(r)
            self.rejected_keys.update(result.rejected_keys)
        if failure is not None:
            raise failure

    async def pause(self) -> None:
        """Hand the event loop back: the batch in flight advances (its driver I/O runs on
        this loop), and in the API process requests are served while an import job checks
        its rows, dry runs and the first batch (nothing in flight yet) included."""
        await asyncio.sleep(0)

    async def cancel(self) -> None:
        """Stop the batches in flight when the import itself is stopped (cancelled, or an
        error no batch raised): each transaction rolls back unless it already committed."""
        writing, self.writing = list(self.writing), deque()
        for task in writing:
            task.cancel()  # a no-op once it is done
        for task in writing:
            with contextlib.suppress(BaseException):  # what it raised is moot after the stop
                await task


async def run_import(
    graph: Graph,
    policy: Policy,
    principal: Principal,
    sources: Iterable[Source],
    *,
    audit: WriteAudit,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    on_reject: Callable[[Reject], None] | None = None,
    max_rejects: int = MAX_REJECTS,
    service: StewardshipService | None = None,
    memberships: MembershipDirectory | None = None,
    parallel: int = DEFAULT_PARALLEL,
) -> ImportReport:
    """Import `sources` as `principal` (see the module docstring); returns the report."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    today = datetime.now(UTC).date()
    directory = memberships or MembershipDirectory(graph)
    scope = policy.scope_for(principal, await directory.groups_of(principal.nation, today), today)
    tetragraphs = await directory.released_to(scope)
    base = service or StewardshipService(graph, policy)
    bound = base.for_import(audit, tetragraphs)
    checker = RowChecker(bound, principal, scope)
    writer = (
        None
        if dry_run
        else BatchWriter(graph, bound, principal, scope, audit, nations=await directory.nations())
    )
    report = ImportReport(dry_run=dry_run)
    run = _Run(
        checker,
        writer,
        report,
        batch_size=batch_size,
        max_rejects=max_rejects,
        on_reject=on_reject,
        parallel=parallel,
    )
    ordered = sorted(sources, key=_order)
    total = None
    if all(s.size is not None for s in ordered):
        total = sum(s.size or 0 for s in ordered)
    counter = Counter()
    if progress is not None:
        progress.start(total)
    try:
        for source in ordered:
            line = 1
            try:
                for row in read(source.name, source.chunks, counter):
                    line = row.line
                    await run.row(row)
                    if report.read % PAUSE_EVERY == 0:
                        await run.pause()
                    if progress is not None and report.read % 256 == 0:
                        progress.update(report.read, counter.consumed)
            except FormatError as exc:
                run.reject(Reject(source.name, line, "", MALFORMED, str(exc)))
            await run.flush()
            await run.drain()
            run.entity = None
    except (AuditError, Unavailable) as exc:
        report.stopped = str(exc)
    finally:
        await run.cancel()
        if progress is not None:
            progress.update(report.read, counter.consumed)
            progress.finish()
    return report
