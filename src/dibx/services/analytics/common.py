"""Shared pieces of the analyses: references to records, and agreement membership views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode, SupplierNode, Withheld
from dibx.services.analytics.provenance import Provenance

Tetragraphs = Mapping[str, frozenset[str]]


def shown(withheld: Withheld, renames: Mapping[str, Iterable[str]]) -> Withheld:
    """The withheld inputs as the result fields they leave null: `renames` maps an input
    field to the result fields it feeds (a withheld capacity leaves capacity and spare null)."""
    return tuple((out, marking) for name, marking in withheld for out in renames.get(name, ()))


@dataclass(frozen=True, slots=True)
class SupplierRef:
    """A supplier as shown in a result: name and nation are None when withheld."""

    key: str
    name: str | None
    nation: str | None
    marking: str
    # Result fields null because withheld: (field, marking).
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class CapabilityRef:
    key: str
    name: str | None
    marking: str
    withheld: Withheld = ()


NAME: Mapping[str, Iterable[str]] = {"name": ("name",)}


def supplier_ref(node: SupplierNode, tetragraphs: Tetragraphs) -> SupplierRef:
    return SupplierRef(
        key=node.key,
        name=node.name.value if node.name else None,
        nation=node.nation.value if node.nation else None,
        marking=Provenance().supplier(node).marking(tetragraphs),
        withheld=shown(node.withheld, NAME),
    )


def capability_ref(node: CapabilityNode, tetragraphs: Tetragraphs) -> CapabilityRef:
    prov = Provenance([node.marking]).value(node.name)
    return CapabilityRef(
        key=node.key,
        name=node.name.value if node.name else None,
        marking=prov.marking(tetragraphs),
        withheld=shown(node.withheld, NAME),
    )


def nation_of(node: SupplierNode) -> str | None:
    return node.nation.value if node.nation else None


def allied_nations(tetragraphs: Tetragraphs, groups: Iterable[str]) -> frozenset[str]:
    """Nations that are members of any of `groups` as of the request date."""
    return frozenset().union(*(tetragraphs.get(g, frozenset()) for g in groups))
