"""Shared pieces of the analyses: references to records, and agreement membership views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode, SupplierNode
from dibx.services.analytics.provenance import Provenance

Tetragraphs = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class SupplierRef:
    """A supplier as shown in a result: name and nation are None when withheld."""

    key: str
    name: str | None
    nation: str | None
    marking: str


@dataclass(frozen=True, slots=True)
class CapabilityRef:
    key: str
    name: str | None
    marking: str


def supplier_ref(node: SupplierNode, tetragraphs: Tetragraphs) -> SupplierRef:
    return SupplierRef(
        key=node.key,
        name=node.name.value if node.name else None,
        nation=node.nation.value if node.nation else None,
        marking=Provenance().supplier(node).marking(tetragraphs),
    )


def capability_ref(node: CapabilityNode, tetragraphs: Tetragraphs) -> CapabilityRef:
    prov = Provenance([node.marking]).value(node.name)
    return CapabilityRef(
        key=node.key,
        name=node.name.value if node.name else None,
        marking=prov.marking(tetragraphs),
    )


def nation_of(node: SupplierNode) -> str | None:
    return node.nation.value if node.nation else None


def allied_nations(tetragraphs: Tetragraphs, groups: Iterable[str]) -> frozenset[str]:
    """Nations that are members of any of `groups` as of the request date."""
    return frozenset().union(*(tetragraphs.get(g, frozenset()) for g in groups))
