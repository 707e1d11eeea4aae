"""Load reference data plus the demo or a synthetic graph: validate everything, then write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dibx.graph import tallies
from dibx.graph.driver import NO_TIMEOUT, Graph
from dibx.graph.model import NATION
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database, write_dataset
from dibx.ingest import synthetic
from dibx.ingest.demo import load_demo
from dibx.ingest.reference import load_reference
from dibx.ingest.report import Rejection


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)


def _new_nations_only(extra: Dataset, base: Dataset) -> Dataset:
    # The synthetic graph carries every pycountry nation, as the reference data does: merging
    # both wrote (MERGE, so harmlessly) and counted each nation twice.
    known = {n.key for n in base.nodes_of(NATION.name)}
    fresh = [n for n in extra.nodes_of(NATION.name) if n.key not in known]
    return extra.replaced(nodes={NATION.name: fresh})


async def is_empty(graph: Graph) -> bool:
    row = await graph.read_one("RETURN NOT EXISTS { MATCH (n) WHERE NOT n:Migration } AS empty")
    return bool(row and row["empty"])


async def seed(
    graph: Graph,
    data_dir: Path,
    *,
    demo: bool,
    synthetic_suppliers: int | None = None,
    reset: bool = False,
    echo: Callable[[str], None] = lambda _: None,
    tx_timeout: float = NO_TIMEOUT,
) -> SeedReport:
    """Reference data always; demo and/or synthetic on request. Nothing is written if any
    row is rejected: the report lists every rejected row with its reason. `tx_timeout` is the
    server-side timeout of each batch's transaction (none by default: a bulk load)."""
    report = SeedReport()
    loaded = load_reference(data_dir)
    report.rejected.extend(loaded.rejected)
    dataset = loaded.dataset
    if demo:
        demo_result = load_demo(data_dir)
        report.rejected.extend(demo_result.rejected)
        dataset = dataset.merged(demo_result.dataset)
    if synthetic_suppliers:
        generated = synthetic.generate(synthetic_suppliers)
        dataset = dataset.merged(_new_nations_only(generated, dataset))
    if report.rejected:
        echo(f"{len(report.rejected)} row(s) rejected: nothing written")
        return report
    if reset:
        await clear_database(graph, tx_timeout=tx_timeout)
    report.counts = await write_dataset(graph, dataset, tx_timeout=tx_timeout)
    echo("loaded " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    # The loaded owners' release tallies, so their totalCount is summed from the start.
    echo(f"release tallies of {await tallies.refresh(graph)} owner(s) counted")
    return report
