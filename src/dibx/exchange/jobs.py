"""Import jobs: a body accepted at once, imported in the background by any API process.

`ImportJobs.submit` stores the job and its whole body in the graph in one transaction whose
audit record is durable before it commits (`WriteAudit`): once the caller has its job id, the
job survives any process. Each API process runs `ImportJobs.start`: a loop that claims queued
jobs and orphaned running ones (their lease ran out: the process running them died) with a
lease in a transaction (`dibx.graph.import_jobs`), renews the lease while the engine runs,
and finishes the job (counts, the first rejects in full, error) in a transaction audited like
the submission. A resumed job re-runs the engine from the start of its stored body: the
engine is idempotent (a row already written comes back "unchanged"), so nothing is written
twice, and a job that keeps failing is reported failed after `max_attempts` claims. No
checkpoint of rows written is kept (the stored progress is rows read, for display only), so
parallel batches (`JobSettings.parallel`: a later batch may commit before an earlier one)
cannot make a resume skip a row.

`run_rows` is the small synchronous path (the `importRows` mutation): the same engine on at
most `rows_max` rows, audited by the request's own `WriteAudit`.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import socket
import uuid
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.errors import Conflict, DibxError, Invalid, LimitExceeded, TimedOut, Unavailable
from dibx.exchange.format import ENTITIES, FORMATS
from dibx.exchange.importer import (
    DEFAULT_BATCH,
    DEFAULT_PARALLEL,
    ImportReport,
    Progress,
    Source,
    run_import,
)
from dibx.graph import import_jobs as store
from dibx.graph.driver import Graph, Rows
from dibx.services.audit import AuditError, AuditSink, WriteAudit

log = structlog.get_logger("dibx.imports")
COUNTS = store.COUNTS
CHUNK_CHARS = 1 << 20  # characters per stored chunk (whole lines; one longer line is whole)


class Engine(Protocol):
    """The import engine (`dibx.exchange.importer.run_import`): validates and writes
    `sources`, idempotently."""

    def __call__(
        self,
        graph: Graph,
        policy: Policy,
        principal: Principal,
        sources: Iterable[Source],
        *,
        audit: WriteAudit,
        dry_run: bool = ...,
        progress: Progress | None = ...,
        max_rejects: int = ...,
        batch_size: int = ...,
        parallel: int = ...,
    ) -> Coroutine[Any, Any, ImportReport]: ...


def default_engine() -> Engine:
    return run_import


@dataclass(frozen=True, slots=True)
class Reject:
    file: str
    line: int | None
    column: str | None
    code: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """What an engine run reports, in the job's terms."""

    counts: dict[str, int]
    rejects: list[Reject] = field(default_factory=list)


def summarize(report: ImportReport) -> Summary:
    """The engine's report as counts and rejects."""
    counts = {name: int(getattr(report, name)) for name in store.COUNTS}
    rejects = [
        Reject(file=r.source, line=r.line, column=r.column or None, code=r.code, reason=r.reason)
        for r in report.rejects
    ]
    return Summary(counts, rejects)


@dataclass(frozen=True, slots=True)
class JobSettings:
    max_bytes: int = 16_000_000
    lease_s: float = 60.0
    poll_s: float = 10.0
    max_attempts: int = 3
    max_rejects: int = 1000
    rows_max: int = 2000
    batch_rows: int = DEFAULT_BATCH
    parallel: int = DEFAULT_PARALLEL


class JobBusy(Conflict):
    """The org already has an import job queued or running."""

    def __init__(self, job: str) -> None:
        super().__init__(f"your org already has an import job queued or running: {job}")
        self.job = job


def media_format(content_type: str | None) -> str | None:
    """`csv` or `jsonl` from a Content-Type (its charset: `media_charset`)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    return {
        "text/csv": "csv",
        "application/x-ndjson": "jsonl",
        "application/jsonl": "jsonl",
    }.get(kind)


# Python codecs that are not charsets a file is written in.
_NOT_CHARSETS = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "charmap"}
)


class UnknownCharset(ValueError):
    """A Content-Type charset that names no text encoding dibx can decode."""

    def __init__(self, charset: str) -> None:
        super().__init__(
            f"unknown charset {charset!r}: send the body as UTF-8, or name a text encoding "
            "such as latin-1 or utf-16 in the Content-Type"
        )
        self.charset = charset


def media_charset(content_type: str | None) -> tuple[str, str]:
    """The charset a Content-Type names (UTF-8 if none) and the codec that decodes it (a
    text encoding Python knows by that name; UTF-8 drops a byte-order mark). Raises
    UnknownCharset."""
    named = ""
    for parameter in (content_type or "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            named = value.strip().strip('"').strip()
    if not named:
        return "UTF-8", "utf-8-sig"
    try:
        info = codecs.lookup(named)
    except (LookupError, ValueError):
        raise UnknownCharset(named) from None
    # Not a text encoding: bytes to bytes (base64) or text to text (rot13).
    if not info._is_text_encoding or info.name in _NOT_CHARSETS:
        raise UnknownCharset(named)
    return named, "utf-8-sig" if info.name == "utf-8" else info.name


def decode(body: bytes, codec: str) -> str:
    """The body as text (UnicodeDecodeError if it is not in `codec`), without the
    byte-order mark a UTF-16 or UTF-32 body may start with."""
    return body.decode(codec).removeprefix("\ufeff")


def check_request(policy: Policy, principal: Principal, entity: str | None, fmt: str) -> None:
    """The checks before a body is read: the format, the entity, and the caller's scope for
    it (a JSON Lines body naming its entities per row needs some stewardship scope; each row
    is then checked by the engine against its own)."""
    if fmt not in FORMATS:
        raise Invalid(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}", field="format")
    if entity is None:
        if fmt == "csv":
            raise Invalid(
                f"a CSV body needs its entity: one of {', '.join(ENTITIES)}", field="entity"
            )
    elif entity not in ENTITIES:
        raise Invalid(f"unknown entity {entity!r}; one of: {', '.join(ENTITIES)}", field="entity")


def needed_scopes(policy: Policy, entity: str | None) -> frozenset[str]:
    """Scopes that may write `entity` (all stewardship scopes when the rows say)."""
    if entity is not None:
        needed = policy.stewardship.scope_for(ENTITIES[entity].owner)
        return frozenset({needed}) if needed else frozenset()
    return frozenset(policy.stewardship.scopes.values())


def source_name(entity: str | None, fmt: str, label: str = "body") -> str:
    """The name the engine reads the entity and format from (and rejects name as file)."""
    return f"{label}.{entity}.{fmt}" if entity else f"{label}.{fmt}"


def chunked(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """`text` in pieces of about `size` characters, each ending at a line end."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = start + size
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut < start:
                cut = text.find("\n", end)
            end = len(text) if cut < 0 else cut + 1
        out.append(text[start:end])
        start = end
    return out


def row_count(text: str, fmt: str) -> int:
    """Rows of a small body, counted as its non-blank lines (less a CSV header): a quoted
    CSV value with a line break counts twice, which errs on the side of the limit."""
    lines = sum(1 for line in text.splitlines() if line.strip())
    return max(0, lines - 1) if fmt == "csv" else lines


class _Progress:
    """How far the engine has read the body: rows, and characters of all (the engine's
    `Progress`); the heartbeat stores it on the job."""

    def __init__(self) -> None:
        self.total = 1
        self.consumed = 0
        self.rows = 0

    def start(self, total: int | None) -> None:
        self.total = max(total or 1, 1)

    def update(self, rows: int, consumed: int) -> None:
        self.rows, self.consumed = rows, consumed

    def finish(self) -> None:
        return None

    @property
    def fraction(self) -> float:
        return min(self.consumed / self.total, 0.999)


def _principal(job: Mapping[str, Any]) -> Principal:
    return Principal(
        subject=str(job.get("subject") or ""),
        client_id=str(job.get("client") or ""),
        nation=str(job["nation"]),
        org=job.get("org"),
        scopes=frozenset(job.get("scopes") or ()),
        attributes=frozenset(job.get("attributes") or ()),
        token_id=job.get("tokenId"),
    )


class ImportJobs:
    def __init__(
        self,
        graph: Graph,
        policy: Policy,
        sink: AuditSink,
        *,
        engine: Engine,
        settings: JobSettings = JobSettings(),
        policy_version: str | None = None,
        owner: str | None = None,
    ) -> None:
        self.graph = graph
        self.policy = policy
        self.sink = sink
        self.engine = engine
        self.settings = settings
        self.policy_version = policy_version
        self.store = store.JobStore(graph)
        # Names this process in `owner` of the jobs it runs (for operators; claims decide).
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def _audit(self, operation: str) -> WriteAudit:
        return WriteAudit(self.sink, operation=operation, policy_version=self.policy_version)

    # -- submitting and reading -------------------------------------------------------------

    async def submit(
        self,
        principal: Principal,
        *,
        entity: str | None,
        fmt: str,
        dry_run: bool,
        body: str,
    ) -> str:
        """Store a queued job with its body; its id. Raises JobBusy (the org's active job),
        AuditError (nothing stored), Unavailable."""
        check_request(self.policy, principal, entity, fmt)
        job_id = str(uuid.uuid4())
        chunks = chunked(body)
        job = {
            "id": job_id,
            "nation": principal.nation,
            "org": principal.org,
            "slot": store.slot_of(principal.nation, principal.org),
            "subject": principal.subject,
            "client": principal.client_id,
            "tokenId": principal.token_id,
            "scopes": sorted(principal.scopes),
            "attributes": sorted(principal.attributes),
            "entity": entity,
            "format": fmt,
            "dryRun": dry_run,
            "bytes": len(body.encode()),
            "chunks": len(chunks),
        }
        details = {
            "job": job_id,
            "entity": entity,
            "format": fmt,
            "dry_run": dry_run,
            "bytes": job["bytes"],
        }

        def describe(rows: Rows) -> dict[str, Any] | None:
            return details if rows else None

        try:
            await self._audit("submitImport").run(
                principal,
                "importSubmitted",
                describe,
                lambda hook: self.store.create(job, chunks, before_commit=hook),
            )
        except store.SlotTaken as taken:
            raise JobBusy(taken.job) from None
        self.wake()
        return job_id

    def _slot(self, principal: Principal) -> str | None:
        """Under per-org stewardship a job is its org's (org-less tokens of a nation share
        one slot, as for submitting); else None: its nation's."""
        if self.policy.stewardship.steward != "org":
            return None
        return store.slot_of(principal.nation, principal.org)

    async def get(self, principal: Principal, job_id: str) -> dict[str, Any] | None:
        """The job if the caller may read it (its nation's; its org's under per-org
        stewardship), else None: anyone else's job looks missing."""
        return await self.store.get(job_id, principal.nation, self._slot(principal))

    async def rejects(self, principal: Principal, job_id: str, first: int) -> list[dict[str, Any]]:
        first = max(0, min(first, self.settings.max_rejects))
        return await self.store.rejects(job_id, principal.nation, first, self._slot(principal))

    async def readable(self, principal: Principal, first: int) -> list[dict[str, Any]]:
        """The jobs the caller may read, newest first."""
        first = max(0, min(first, 100))
        return await self.store.of_reader(principal.nation, first, self._slot(principal))

    # -- the synchronous small batch ---------------------------------------------------------

    async def run_rows(
        self,
        principal: Principal,
        *,
        entity: str | None,
        fmt: str,
        data: str,
        dry_run: bool,
        audit: WriteAudit,
    ) -> Summary:
        check_request(self.policy, principal, entity, fmt)
        rows = row_count(data, fmt)
        if rows > self.settings.rows_max:
            raise LimitExceeded(
                f"{rows} rows are over the limit of {self.settings.rows_max} for importRows; "
                "POST larger files to /imports",
                limit="importRows",
                maximum=self.settings.rows_max,
                measured=rows,
            )
        report = await self.engine(
            self.graph,
            self.policy,
            principal,
            [Source(source_name(entity, fmt, "data"), [data], len(data))],
            audit=audit,
            dry_run=dry_run,
            max_rejects=self.settings.rows_max,
        )
        return summarize(report)

    # -- running jobs ------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop in this process's event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="dibx-import-jobs")

    def wake(self) -> None:
        """Look for jobs now (a submission just stored one), starting the loop if needed."""
        self.start()
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.run_pending()
            except asyncio.CancelledError:
                raise
            except (Unavailable, TimedOut) as exc:
                log.warning("import_jobs_unavailable", error=str(exc))
            except Exception:
                log.exception("import_jobs_loop_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_s)

    async def run_pending(self) -> int:
        """Claim and run waiting jobs one after another until none is left; how many ran."""
        ran = 0
        while True:
            claimed = None
            for job_id in await self.store.candidates():
                claim = uuid.uuid4().hex
                job = await self.store.claim(
                    job_id, owner=self.owner, claim=claim, lease_s=self.settings.lease_s
                )
                if job is not None:
                    claimed = (job, claim)
                    break
            if claimed is None:
                return ran
            await self._run(*claimed)
            ran += 1

    async def _run(self, job: dict[str, Any], claim: str) -> None:
        job_id = str(job["id"])
        bound = structlog.contextvars.bound_contextvars(import_job=job_id)
        with bound:
            attempts = int(job.get("attempts") or 1)
            if attempts > self.settings.max_attempts:
                await self._finish(
                    job,
                    claim,
                    store.FAILED,
                    store.counts_of(job),
                    [],
                    error=f"gave up after {attempts - 1} attempts",
                    written=_written(job),
                )
                return
            log.info("import_job_started", attempt=attempts)
            chunks = await self.store.body(job_id)
            entity, fmt = job.get("entity"), str(job["format"])
            progress = _Progress()
            size = sum(len(c) for c in chunks)
            sources = [Source(source_name(entity, fmt), chunks, size)]
            audit = self._audit("importJob")
            run: asyncio.Task[Any] = asyncio.create_task(
                self.engine(
                    self.graph,
                    self.policy,
                    _principal(job),
                    sources,
                    audit=audit,
                    dry_run=bool(job.get("dryRun")),
                    progress=progress,
                    max_rejects=self.settings.max_rejects,
                    batch_size=self.settings.batch_rows,
                    parallel=self.settings.parallel,
                )
            )
            try:
                held = await self._heartbeat(job_id, claim, run, progress)
            except asyncio.CancelledError:
                # This process stops (SIGTERM): stop the engine (its open batch rolls back)
                # and hand the job back now rather than when the lease runs out.
                await _stopped(run)
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.store.release(job_id, claim))
                log.info("import_job_handed_back")
                raise
            if not held:
                log.warning("import_job_lease_lost")
                return
            try:
                report = run.result()
            except DibxError as exc:
                if isinstance(exc, Unavailable | TimedOut):
                    # Left running: its lease runs out and a process takes it up again.
                    log.warning("import_job_interrupted", error=str(exc))
                    return
                await self._failed(job, claim, progress, str(exc))
                return
            except AuditError as exc:
                log.warning("import_job_interrupted", error=str(exc))
                return
            except Exception:
                log.exception("import_job_failed")
                await self._failed(job, claim, progress, "internal error (logged)")
                return
            summary = summarize(report)
            kept = summary.rejects[: self.settings.max_rejects]
            if report.stopped is not None:
                # An audit record or the database failed mid-way: what committed is counted.
                # Left running, the job is taken up again once its lease runs out (and runs
                # from the start: the written rows come back unchanged); the last attempt
                # reports it failed with what was written.
                log.warning("import_job_stopped", reason=report.stopped, attempt=attempts)
                if attempts < self.settings.max_attempts:
                    return
                await self._finish(
                    job,
                    claim,
                    store.FAILED,
                    summary.counts,
                    [r.as_dict() for r in kept],
                    error=report.stopped,
                    written=(
                        f"{summary.counts['created']} rows created and "
                        f"{summary.counts['updated']} updated before it stopped (counts)"
                    ),
                )
                return
            await self._finish(
                job,
                claim,
                store.SUCCEEDED,
                summary.counts,
                [r.as_dict() for r in kept],
                error=None,
                written=None,
            )
            log.info("import_job_finished", **summary.counts)

    async def _heartbeat(
        self, job_id: str, claim: str, run: asyncio.Task[Any], progress: _Progress
    ) -> bool:
        """Renew the lease (and say how far the job is) until the engine is done; False,
        with the engine stopped, if the lease was lost."""
        every = max(self.settings.lease_s / 3, 0.2)
        while True:
            done, _ = await asyncio.wait({run}, timeout=every)
            if done:
                return True
            try:
                held = await self.store.renew(
                    job_id,
                    claim,
                    lease_s=self.settings.lease_s,
                    progress=progress.fraction,
                    rows_read=progress.rows,
                )
            except (Unavailable, TimedOut):
                continue  # the engine meets the same outage; the lease may still hold
            if not held:
                await _stopped(run)
                return False

    async def _failed(
        self, job: dict[str, Any], claim: str, progress: _Progress, error: str
    ) -> None:
        written = (
            f"{progress.rows} rows were read before the failure; the batches written up to "
            "then stay written (submitting the same body again is safe: they come back "
            "unchanged)"
        )
        await self._finish(
            job, claim, store.FAILED, store.counts_of(job), [], error=error, written=written
        )

    async def _finish(
        self,
        job: dict[str, Any],
        claim: str,
        state: str,
        counts: Mapping[str, int],
        rejects: list[dict[str, Any]],
        *,
        error: str | None,
        written: str | None,
    ) -> None:
        job_id = str(job["id"])
        details = {
            "job": job_id,
            "state": state,
            "dry_run": bool(job.get("dryRun")),
            "attempts": job.get("attempts"),
            **{f"rows_{k}": v for k, v in counts.items()},
            "error": error,
        }

        def describe(rows: Rows) -> dict[str, Any] | None:
            return details if rows else None

        try:
            await self._audit("importJob").run(
                _principal(job),
                "importFinished",
                describe,
                lambda hook: self.store.finish(
                    job_id,
                    claim,
                    state=state,
                    counts=counts,
                    rejects=rejects,
                    error=error,
                    written=written,
                    before_commit=hook,
                ),
            )
        except AuditError as exc:
            # Not finished: the lease runs out and the job is run (idempotently) again.
            log.warning("import_job_finish_unaudited", error=str(exc))


async def _stopped(run: asyncio.Task[Any]) -> None:
    run.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await run


def _written(job: Mapping[str, Any]) -> str | None:
    rows = job.get("rowsRead")
    if not rows:
        return None
    return (
        f"about {rows} rows were read before the last attempt stopped; the batches written "
        "up to then stay written (submitting the same body again is safe)"
    )


def _time(value: Any) -> Any:
    native = getattr(value, "to_native", None)
    return native() if callable(native) else value


def view(job: Mapping[str, Any], rejects: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a caller sees of a job: state, progress, counts, rejects (the first ones kept
    in full; `rejectsTruncated` when more were counted than kept), and on failure what
    happened. Times are datetimes (the HTTP view formats them)."""
    counts = store.counts_of(job)
    kept = int(job.get("rejectsKept") or 0)
    return {
        "id": job["id"],
        "state": job["state"],
        "entity": job.get("entity"),
        "format": job.get("format"),
        "dryRun": bool(job.get("dryRun")),
        "bytes": job.get("bytes"),
        "created": _time(job.get("created")),
        "started": _time(job.get("started")),
        "finished": _time(job.get("finished")),
        "attempts": int(job.get("attempts") or 0),
        "progress": float(job.get("progress") or 0.0),
        "rowsRead": int(job.get("rowsRead") or 0),
        "counts": counts,
        "rejects": [dict(r) for r in rejects],
        "rejectsKept": kept,
        "rejectsTruncated": counts["rejected"] > kept,
        "error": job.get("error"),
        "written": job.get("written"),
    }
