"""GraphQL surface of bulk import: `importJob(id)` and `importJobs(first)` (jobs submitted
over HTTP, `POST /imports`, read by the submitter's nation only, or by its org only under
per-org stewardship; anyone else's job is null exactly like a missing one) and `importRows`,
which runs the same engine synchronously on a small batch (at most `DIBX_IMPORT_ROWS_MAX`
rows; more is LIMIT_EXCEEDED)."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dibx.auth.principal import DATA_WRITE, SUPPLIER_READ
from dibx.exchange import jobs
from dibx.schema.context import Context
from dibx.schema.scopes import resolver, root_field, root_mutation

JOBS_FIRST = 20


@strawberry.enum(description="Where an import job is.")
class ImportJobState(Enum):
    QUEUED = strawberry.enum_value("queued", description="Stored, waiting for a process.")
    RUNNING = strawberry.enum_value("running", description="Being imported.")
    SUCCEEDED = strawberry.enum_value("succeeded", description="Done; see counts and rejects.")
    FAILED = strawberry.enum_value("failed", description="Stopped; see error and written.")


@strawberry.enum(description="The format of an import body (docs/exchange-format.md).")
class ImportFormat(Enum):
    CSV = strawberry.enum_value("csv", description="CSV with a header row.")
    JSONL = strawberry.enum_value("jsonl", description="JSON Lines, one object per row.")


@strawberry.type(description="Rows by what the import did with them.")
class ImportCounts:
    read: int = strawberry.field(description="Rows read.")
    created: int = strawberry.field(description="Rows that created a record or edge.")
    updated: int = strawberry.field(description="Rows that changed one (a new revision).")
    unchanged: int = strawberry.field(description="Rows equal to what is stored.")
    rejected: int = strawberry.field(description="Rows refused; see rejects.")
    valid: int = strawberry.field(description="A dry run: rows that passed every check.")


@strawberry.type(description="A refused row, with what a data steward needs to fix it.")
class ImportReject:
    file: str = strawberry.field(description="The source the row came from.")
    line: int | None = strawberry.field(description="Its line (1 is the first).")
    column: str | None = strawberry.field(description="The column at fault, if one is.")
    code: str = strawberry.field(description="What kind of fault (INVALID, NOT_FOUND, ...).")
    reason: str = strawberry.field(description="What is wrong, for a person.")


def _counts(counts: dict[str, int]) -> ImportCounts:
    return ImportCounts(**{name: int(counts.get(name, 0)) for name in jobs.COUNTS})


def _rejects(rows: list[dict[str, Any]]) -> list[ImportReject]:
    return [
        ImportReject(
            file=str(r.get("file") or ""),
            line=r.get("line"),
            column=r.get("column"),
            code=str(r.get("code") or ""),
            reason=str(r.get("reason") or ""),
        )
        for r in rows
    ]


@strawberry.type(description="An import submitted over HTTP (POST /imports), as it stands.")
class ImportJob:
    id: strawberry.ID = strawberry.field(description="The job's id, as POST /imports gave it.")
    state: ImportJobState = strawberry.field(description="Queued, running, succeeded, failed.")
    entity: str | None = strawberry.field(description="The entity, if the request named it.")
    format: ImportFormat = strawberry.field(description="The body's format.")
    dry_run: bool = strawberry.field(description="Validated only, nothing written.")
    created: datetime.datetime | None = strawberry.field(description="When it was submitted.")
    started: datetime.datetime | None = strawberry.field(description="When it first ran.")
    finished: datetime.datetime | None = strawberry.field(description="When it ended.")
    attempts: int = strawberry.field(
        description="Times a process took it up and did not hand it back (more than 1: "
        "resumed after a process died)."
    )
    progress: float = strawberry.field(description="Share of the body read, 0 to 1.")
    counts: ImportCounts = strawberry.field(description="Rows by outcome, once it has ended.")
    rejects_kept: int = strawberry.field(description="Rejects kept in full (the first ones).")
    rejects_truncated: bool = strawberry.field(
        description="More rows were rejected than kept in full: counts.rejected has them all."
    )
    error: str | None = strawberry.field(description="Why it failed.")
    written: str | None = strawberry.field(description="What was written before a failure.")

    @resolver("The rejects kept, in the order of the body.")
    async def rejects(
        self,
        info: Info[Context, None],
        first: Annotated[
            int | None, strawberry.argument(description="At most this many (default: all kept).")
        ] = None,
    ) -> list[ImportReject]:
        ctx = info.context
        limit = ctx.services.imports.settings.max_rejects if first is None else first
        return _rejects(await ctx.services.imports.rejects(ctx.principal, str(self.id), limit))


def _job(row: dict[str, Any]) -> ImportJob:
    seen = jobs.view(row, [])
    return ImportJob(
        id=strawberry.ID(str(seen["id"])),
        state=ImportJobState(seen["state"]),
        entity=seen["entity"],
        format=ImportFormat(seen["format"]),
        dry_run=seen["dryRun"],
        created=seen["created"],
        started=seen["started"],
        finished=seen["finished"],
        attempts=seen["attempts"],
        progress=seen["progress"],
        counts=_counts(seen["counts"]),
        rejects_kept=seen["rejectsKept"],
        rejects_truncated=seen["rejectsTruncated"],
        error=seen["error"],
        written=seen["written"],
    )


@strawberry.type(description="What importRows did.")
class ImportReport:
    dry_run: bool = strawberry.field(description="Validated only, nothing written.")
    counts: ImportCounts = strawberry.field(description="Rows by outcome.")
    rejects: list[ImportReject] = strawberry.field(description="Every refused row.")


@strawberry.type
class ImportQuery:
    @root_field(
        scope=SUPPLIER_READ,
        description="An import job your nation submitted (your org, under per-org stewardship); "
        "null if absent or anyone else's.",
    )
    async def import_job(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> ImportJob | None:
        ctx = info.context
        row = await ctx.services.imports.get(ctx.principal, str(id))
        return None if row is None else _job(row)

    @root_field(
        scope=SUPPLIER_READ,
        description="Your nation's import jobs (your org's, under per-org stewardship), "
        "newest first.",
    )
    async def import_jobs(
        self,
        info: Info[Context, None],
        first: Annotated[
            int, strawberry.argument(description="At most this many (at most 100).")
        ] = JOBS_FIRST,
    ) -> list[ImportJob]:
        ctx = info.context
        return [_job(r) for r in await ctx.services.imports.readable(ctx.principal, first)]


@strawberry.type
class ImportMutation:
    @root_mutation(
        scope=DATA_WRITE,
        description="Import a small batch now (CSV or JSON Lines text, at most the server's "
        "row limit), with the rules and engine of POST /imports; each entity also needs its "
        "own write scope.",
    )
    async def import_rows(
        self,
        info: Info[Context, None],
        format: Annotated[ImportFormat, strawberry.argument(description="The data's format.")],
        data: Annotated[str, strawberry.argument(description="The rows, header included.")],
        entity: Annotated[
            str | None,
            strawberry.argument(description="suppliers, provides, ...; JSON Lines may say type."),
        ] = None,
        dry_run: Annotated[
            bool, strawberry.argument(description="Validate only; write nothing.")
        ] = False,
    ) -> ImportReport:
        ctx = info.context
        if ctx.writes is None:  # every request context has one; no write goes unaudited
            raise RuntimeError("the request context has no write audit")
        summary = await ctx.services.imports.run_rows(
            ctx.principal,
            entity=entity,
            fmt=format.name.lower(),
            data=data,
            dry_run=dry_run,
            audit=ctx.writes,
        )
        return ImportReport(
            dry_run=dry_run,
            counts=_counts(summary.counts),
            rejects=_rejects([r.as_dict() for r in summary.rejects]),
        )


__all__ = ["ImportMutation", "ImportQuery"]
