"""The synthetic dataset (`dibx.ingest.synthetic`) written as exchange files, for tests and
the bench: one CSV (or JSON Lines) file per entity, keys as the generator gives them, to be
imported by one nation (by default USA, the catalogue steward, so one operator imports all).

A marking below the policy's floor for its portion (the generator marks much of its data
PUBLIC, which no steward may write) is raised to the floor, so every row is valid.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from dibx.auth import markings
from dibx.exchange.format import ENTITIES, KEY, MARKING, SUFFIX, Entity, escape_cell
from dibx.graph.records import Dataset, EdgeRecord, NodeRecord
from dibx.ingest import synthetic
from dibx.services.stewardship import at_least


def _raise(mark: str, floor: markings.Marking | None) -> str:
    if floor is None:
        return mark
    return mark if at_least(markings.parse(mark), floor) else str(floor)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # as export writes text (the importer undoes it)
        return escape_cell(value)
    return "" if value is None else value


def rows_of(
    entity: Entity, dataset: Dataset, floors: Mapping[str, markings.Marking]
) -> Iterator[dict[str, Any]]:
    """The entity's rows, values typed (JSON) as the dataset holds them."""
    owner = entity.owner
    records: list[NodeRecord] | list[EdgeRecord]
    if entity.node is not None:
        records = dataset.nodes_of(entity.node.name)
    else:
        records = dataset.edges_of(owner)
    for r in records:
        out: dict[str, Any] = {}
        if isinstance(r, NodeRecord):
            out[KEY] = r.key
        else:
            assert entity.ends is not None
            out[entity.ends[0]], out[entity.ends[1]] = r.start, r.end
        out[MARKING] = _raise(r.markings.record, floors.get(owner))
        for name, value in zip(entity.field_names, r.values, strict=True):
            out[name] = value
            if value is not None:
                out[name + SUFFIX] = _raise(r.markings.of(name), floors.get(f"{owner}_{name}"))
        if isinstance(r, NodeRecord):
            for link in r.links:
                role = link.type.end_role
                out[role] = link.end
                out[role + SUFFIX] = _raise(link.markings.record, floors.get(link.type.rel))
        yield out


def write_files(
    directory: Path,
    suppliers: int,
    *,
    floors: Mapping[str, markings.Marking],
    seed: int = 7,
    fmt: str = "csv",
) -> dict[Path, int]:
    """Writes `<entity>.<fmt>` per entity into `directory`; returns rows per file."""
    dataset = synthetic.generate(suppliers, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[Path, int] = {}
    for entity in ENTITIES.values():
        path = directory / f"{entity.name}.{fmt}"
        count = 0
        with path.open("w", encoding="utf-8", newline="") as out:
            if fmt == "csv":
                columns = [c for c in entity.columns if c not in ("origin", "reason")]
                writer = csv.DictWriter(out, columns, lineterminator="\n")
                writer.writeheader()
                for row in rows_of(entity, dataset, floors):
                    writer.writerow({k: _cell(v) for k, v in row.items()})
                    count += 1
            else:
                for row in rows_of(entity, dataset, floors):
                    out.write(orjson.dumps(row).decode() + "\n")
                    count += 1
        written[path] = count
    return written
