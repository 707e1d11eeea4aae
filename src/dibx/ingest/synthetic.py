"""A deterministic synthetic industrial-base graph, from ~2k to 200k suppliers, for benchmarks.

Shape, chosen to resemble a real defence supply base:

* Suppliers sit in tiers (primes, subsystems, components, parts, materials); a supplier buys
  (SOURCES_FROM) mostly one tier down, sometimes two. Who gets chosen as a seller follows a
  heavy-tailed (Pareto) fitness, so a few suppliers carry much of the graph, as in
  preferential attachment; how much a buyer buys is heavy-tailed too.
* Capabilities sit in matching levels; REQUIRES only points to deeper levels, so it is a DAG.
  A supplier PROVIDES capabilities of its tier's level, drawn by Zipf popularity, so some
  capabilities have many providers and some exactly one.
* About five relationships per supplier in all (BASED_IN, PROVIDES, SOURCES_FROM and a few
  SUBSIDIARY_OF), so 200k suppliers give about a million edges. A few SOURCES_FROM cycles are
  planted on purpose (real supply graphs have them; analytics must cope).
* Nations are real ISO codes weighted toward allies; nations of concern weigh more in the
  material tiers. Markings come from a realistic mix, as shared `Markings` profiles; a field
  the mix does not name takes its model default marking.
* Values that carry the structure (names, tiers, export-control facts, shares) are drawn
  here; every other field is filled by its model `fill` (e.g. CAGE codes, capacities), so a
  field added to the model is filled too.

Same `suppliers`, `seed` and `capabilities` give the same Dataset, on any platform.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any, Final

from dibx.auth.markings import canonicalize
from dibx.graph.model import (
    BASED_IN,
    CAPABILITY,
    NATION,
    PROVIDES,
    REQUIRES,
    SOURCES_FROM,
    SUBSIDIARY_OF,
    SUPPLIER,
    EdgeType,
    NodeType,
)
from dibx.graph.records import Dataset, EdgeRecord, Markings, NodeRecord
from dibx.ingest.reference import nation_records

__all__ = ["generate"]

TIERS: Final = 5
_TIER_SHARE: Final = (0.01, 0.06, 0.20, 0.33, 0.40)
# Mean number of sellers a buyer of each tier has; materials (last tier) buy nothing.
_MEAN_OUT: Final = (30.0, 10.0, 5.0, 2.5, 0.0)
_LEVEL_SHARE: Final = (0.10, 0.20, 0.30, 0.20, 0.20)
_SKIP_TIER: Final = 0.15  # chance a purchase skips a tier
_SOLE: Final = 0.06
_SUBSIDIARY: Final = 0.05

_ALLIES: Final[dict[str, float]] = {
    "USA": 40, "GBR": 6, "DEU": 5, "JPN": 5, "FRA": 4, "KOR": 4, "CAN": 4, "AUS": 3, "ITA": 3,
    "ISR": 2, "IND": 2, "TWN": 2, "SWE": 2, "NOR": 1.5, "NLD": 1.5, "POL": 1.5, "ESP": 1.5,
    "FIN": 1, "DNK": 1, "BEL": 1, "CZE": 1, "TUR": 1, "CHE": 1, "SGP": 1, "MEX": 1, "NZL": 0.5,
    "AUT": 0.5, "PRT": 0.5, "GRC": 0.5, "ROU": 0.5, "BRA": 0.5, "MYS": 0.5, "VNM": 0.5,
    "THA": 0.5, "ZAF": 0.5, "EST": 0.3, "LVA": 0.3, "LTU": 0.3, "PHL": 0.3, "KAZ": 0.3,
    "CHL": 0.3,
}  # fmt: skip
# Nations of concern, by tier: rare at the top, common among material sources.
_CONCERN: Final[dict[str, tuple[float, ...]]] = {
    "CHN": (0.2, 0.8, 2.0, 4.0, 8.0),
    "RUS": (0.0, 0.0, 0.3, 0.6, 1.2),
    "IRN": (0.0, 0.0, 0.0, 0.05, 0.1),
}

_M = dict[str, tuple[tuple[str, float], ...]]
_FVEY, _NATO = "CUI//REL TO USA, FVEY", "CUI//REL TO USA, NATO"
_AUKUS_LIST, _NOFORN = "CUI//REL TO USA, AUS, GBR", "CUI//NOFORN"
# Per type: "" is the record's marking, other keys the fields'; each a weighted choice.
_MARKING_MIX: Final[dict[str, _M]] = {
    "Supplier": {
        "": (("PUBLIC", 0.80), (_FVEY, 0.08), (_NATO, 0.05), (_NOFORN, 0.04), ("CUI", 0.03)),
        "name": (("PUBLIC", 0.9), (_FVEY, 0.1)),
        "cage": (("PUBLIC", 0.85), ("CUI", 0.15)),
        "city": (("PUBLIC", 0.9), (_FVEY, 0.1)),
        "description": (("PUBLIC", 0.6), ("CUI", 0.2), (_FVEY, 0.2)),
        "employees": (("PUBLIC", 0.5), ("CUI//PROPIN//REL TO USA, NATO", 0.5)),
    },
    "BASED_IN": {"": (("PUBLIC", 0.9), (_FVEY, 0.1))},
    "Capability": {
        "": (("PUBLIC", 0.85), (_FVEY, 0.10), (_NOFORN, 0.05)),
        "name": (("PUBLIC", 0.9), (_FVEY, 0.1)),
        "area": (("PUBLIC", 1.0),),
        "description": (("CUI", 0.5), (_FVEY, 0.3), ("CUI//SP-EXPT//NOFORN", 0.2)),
        "jurisdiction": (("PUBLIC", 1.0),),
        "usml": (("PUBLIC", 0.9), ("CUI", 0.1)),
        "eccn": (("PUBLIC", 0.9), ("CUI", 0.1)),
        "sme": (("PUBLIC", 0.8), (_FVEY, 0.2)),
        "etl": ((_AUKUS_LIST, 0.8), (_NOFORN, 0.2)),
        "classified": ((_NOFORN, 1.0),),
        "cdnExcluded": (("CUI//REL TO USA, CAN", 0.8), (_NOFORN, 0.2)),
    },
    "REQUIRES": {"": ((_FVEY, 0.7), ("PUBLIC", 0.3))},
    "PROVIDES": {
        "": ((_FVEY, 0.5), (_NATO, 0.2), (_AUKUS_LIST, 0.1), ("PUBLIC", 0.1), (_NOFORN, 0.1)),
        "capacity": ((_FVEY, 0.6), (_NOFORN, 0.3), ("CUI//SP-EXPT//NOFORN", 0.1)),
        "unit": ((_FVEY, 0.8), ("PUBLIC", 0.2)),
        "trl": (("CUI", 0.3), (_FVEY, 0.7)),
        "leadTimeDays": ((_NOFORN, 0.7), (_FVEY, 0.3)),
    },
    "SOURCES_FROM": {
        "": ((_FVEY, 0.6), (_NOFORN, 0.2), (_NATO, 0.15), (_AUKUS_LIST, 0.05)),
        "item": ((_FVEY, 0.8), (_NOFORN, 0.2)),
        "share": (
            ("CUI//PROPIN//REL TO USA, FVEY", 0.6),
            ("CUI//PROPIN//REL TO USA, NATO", 0.2),
            (_NOFORN, 0.2),
        ),
        "sole": ((_NOFORN, 0.9), (_FVEY, 0.1)),
    },
    "SUBSIDIARY_OF": {
        "": (("PUBLIC", 0.8), ("CUI", 0.2)),
        "share": (("PUBLIC", 0.6), ("CUI//PROPIN//NOFORN", 0.4)),
    },
}
_PROFILES: Final = 24

_AREAS: Final = (
    ("air", "naval", "land", "space", "strike"),
    ("propulsion", "sensors", "guidance", "communications", "power"),
    ("electronics", "structures", "optics", "actuation", "energetics"),
    ("machined parts", "castings", "forgings", "composites", "semiconductors"),
    ("metals", "minerals", "chemicals", "fibres", "rare earths"),
)
_UNITS: Final = ("systems/yr", "units/yr", "units/yr", "parts/yr", "t/yr")
_USML: Final = (("IV", "VI", "VII", "VIII", "XV"), ("IV", "XI", "XII", "XIX"), ("XI", "XII", "V"))
_ECCN: Final = ("EAR99", "EAR99", "EAR99", "1C002", "1C010.a", "3A001.b.2", "3C001", "9A610.x")
_WORDS: Final = (
    "Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iron", "Juniper",
    "Keystone", "Lumen", "Meridian", "Northstar", "Orion", "Pioneer", "Quarry", "Ridge", "Summit",
    "Titan", "Union", "Vector", "Westfield", "Zenith",
)  # fmt: skip
_TRADES: Final = (
    "Aerospace", "Systems", "Precision", "Materials", "Dynamics", "Electronics", "Forge",
    "Composites", "Defense", "Metals", "Optics", "Propulsion", "Chemicals", "Machining",
)  # fmt: skip
_SUFFIXES: Final = ("Inc.", "Ltd", "GmbH", "S.A.", "K.K.", "Pty Ltd", "AB", "Co.", "LLC", "plc")


class _Picker:
    """Weighted choice by bisection over cumulative weights (what random.choices does)."""

    def __init__(self, items: Sequence[int], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1] if self.cum else 0.0

    def pick(self, rng: random.Random) -> int:
        return self.items[bisect_right(self.cum, rng.random() * self.total, 0, len(self.cum) - 1)]


def _mix(owner: NodeType | EdgeType) -> _M:
    """The marking mix of a type: the table's, the model default for any field it omits."""
    name = owner.name if isinstance(owner, NodeType) else owner.rel
    table = _MARKING_MIX[name]
    unknown = set(table) - {"", *owner.names}
    if unknown:
        raise KeyError(f"marking mix names unknown field(s) of {name}: {sorted(unknown)}")
    return {"": table[""], **{f.name: table.get(f.name, ((f.marking, 1.0),)) for f in owner.fields}}


def _values(
    rng: random.Random, owner: NodeType | EdgeType, given: dict[str, Any]
) -> dict[str, Any]:
    """`given` (the values that carry structure), every other field from its model fill."""
    out = dict(given)
    for f in owner.fields:
        if f.name not in out and f.fill is not None:
            out[f.name] = f.fill(rng)
    return out


def _profiles(rng: random.Random, owner: NodeType | EdgeType) -> list[Markings]:
    mix = _mix(owner)

    def draw(options: tuple[tuple[str, float], ...]) -> str:
        texts, weights = zip(*options, strict=True)
        return canonicalize(rng.choices(texts, weights=weights)[0])

    # The first profile is the commonest choice everywhere, so small graphs always have it.
    first = Markings.build(
        canonicalize(mix[""][0][0]), {f: canonicalize(o[0][0]) for f, o in mix.items() if f}
    )
    rest = [
        Markings.build(draw(mix[""]), {f: draw(o) for f, o in mix.items() if f})
        for _ in range(_PROFILES - 1)
    ]
    return [first, *rest]


def _split(total: int, shares: Sequence[float]) -> list[int]:
    counts = [max(1, round(total * s)) for s in shares]
    counts[-1] = max(1, total - sum(counts[:-1]))
    while sum(counts) > total:  # tiny totals: take from the largest tier
        counts[counts.index(max(counts))] -= 1
    return counts


def _ranges(counts: Sequence[int]) -> list[range]:
    starts = [0, *accumulate(counts)]
    return [range(starts[i], starts[i + 1]) for i in range(len(counts))]


def _capabilities(
    rng: random.Random, n: int
) -> tuple[list[NodeRecord], list[EdgeRecord], list[range]]:
    levels = _ranges(_split(n, _LEVEL_SHARE))
    profiles, req_profiles = _profiles(rng, CAPABILITY), _profiles(rng, REQUIRES)
    caps: list[NodeRecord] = []
    for level, span in enumerate(levels):
        for i in span:
            area = rng.choice(_AREAS[level])
            roll = rng.random()
            itar = roll < (0.9, 0.9, 0.5, 0.15, 0.05)[level]
            none = not itar and level >= 3 and roll > 0.85
            jurisdiction = "ITAR" if itar else ("NONE" if none else "EAR")
            marks = rng.choice(profiles)
            given = {
                "name": f"{area.title()} capability {i:06d}",
                "area": area,
                "jurisdiction": jurisdiction,
                "description": f"Synthetic level-{level} capability.",
                "usml": rng.choice(_USML[min(level, 2)]) if itar else None,
                "eccn": rng.choice(_ECCN) if jurisdiction == "EAR" else None,
                "sme": itar and level <= 1 and rng.random() < 0.8,
                "etl": itar and rng.random() < 0.06,
                "classified": rng.random() < 0.03,
                "cdnExcluded": itar and rng.random() < 0.05,
            }
            caps.append(
                NodeRecord.of(CAPABILITY, f"syn-c{i:06d}", marks, _values(rng, CAPABILITY, given))
            )
    # REQUIRES points to deeper levels only, so it is acyclic by construction.
    zipf = [_Picker(span, [1 / (r + 1) ** 0.9 for r in range(len(span))]) for span in levels]
    requires: list[EdgeRecord] = []
    for level in range(len(levels) - 1):
        for i in levels[level]:
            targets: set[int] = set()
            for _ in range(rng.choice((1, 2, 2, 3, 3, 4))):
                deeper = level + 2 if level + 2 < len(levels) and rng.random() < 0.2 else level + 1
                targets.add(zipf[deeper].pick(rng))
            requires += [
                EdgeRecord.of(REQUIRES, caps[i].key, caps[t].key, rng.choice(req_profiles))
                for t in sorted(targets)
            ]
    return caps, requires, levels


def _nation_pickers() -> list[tuple[list[str], list[float]]]:
    pickers = []
    for tier in range(TIERS):
        weights = dict(_ALLIES)
        weights.update({code: w[tier] for code, w in _CONCERN.items() if w[tier] > 0})
        pickers.append((list(weights), list(accumulate(weights.values()))))
    return pickers


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)} {rng.choice(_TRADES)} {rng.choice(_SUFFIXES)}"


def generate(suppliers: int, *, seed: int = 7, capabilities: int | None = None) -> Dataset:
    """A synthetic Dataset with `suppliers` suppliers (and all pycountry nations).

    `capabilities` defaults to max(30, suppliers // 100).
    """
    if suppliers < TIERS:
        raise ValueError(f"need at least {TIERS} suppliers (one per tier)")
    n_caps = capabilities if capabilities is not None else max(30, suppliers // 100)
    if n_caps < TIERS:
        raise ValueError(f"need at least {TIERS} capabilities (one per level)")
    rng = random.Random(seed)
    caps, requires, levels = _capabilities(rng, n_caps)
    tiers = _ranges(_split(suppliers, _TIER_SHARE))
    tier_of = [t for t, span in enumerate(tiers) for _ in span]

    # Suppliers, their nation and what they provide.
    s_profiles, b_profiles = _profiles(rng, SUPPLIER), _profiles(rng, BASED_IN)
    p_profiles = _profiles(rng, PROVIDES)
    nation_pick = _nation_pickers()
    # Most capabilities are drawn by Zipf popularity; a niche tenth of each level goes to one
    # or two suppliers only, so single-sourced capabilities exist at every scale.
    cut = [len(span) - (max(1, len(span) // 10) if len(span) >= 3 else 0) for span in levels]
    niche = [span[k:] for span, k in zip(levels, cut, strict=True)]
    common = [span[:k] for span, k in zip(levels, cut, strict=True)]
    cap_pick = [_Picker(span, [1 / (r + 1) ** 1.1 for r in range(len(span))]) for span in common]
    supplier_records: list[NodeRecord] = []
    provides: list[EdgeRecord] = []
    item_of: list[str] = []  # a supplier's main capability: what its customers buy from it
    for i, tier in enumerate(tier_of):
        codes, cum = nation_pick[tier]
        sid = f"syn-s{i:07d}"
        name = _name(rng)
        nation = codes[bisect_right(cum, rng.random() * cum[-1], 0, len(cum) - 1)]
        marks, based_in = rng.choice(s_profiles), rng.choice(b_profiles)
        given = {"name": name, "employees": int(rng.lognormvariate(5.0 - 0.5 * tier, 1.4)) + 1}
        supplier_records.append(
            NodeRecord.of(
                SUPPLIER,
                sid,
                marks,
                _values(rng, SUPPLIER, given),
                (EdgeRecord.of(BASED_IN, sid, nation, based_in),),
            )
        )
        offered = {cap_pick[tier].pick(rng)}
        while rng.random() < 0.3:
            offered.add(cap_pick[tier].pick(rng))
        for c in sorted(offered):
            marks = rng.choice(p_profiles)
            values = _values(rng, PROVIDES, {"unit": _UNITS[tier]})
            provides.append(EdgeRecord.of(PROVIDES, sid, caps[c].key, marks, values))
        item_of.append(caps[min(offered)]["name"])

    for level, span in enumerate(niche):
        for c in span:
            for i in sorted({rng.choice(tiers[level]) for _ in range(rng.choice((1, 1, 2)))}):
                marks = rng.choice(p_profiles)
                # Niche makers: small capacity, drawn here rather than by the field's fill.
                given = {"unit": _UNITS[level], "capacity": round(rng.lognormvariate(2.0, 1.0), 1)}
                values = _values(rng, PROVIDES, given)
                provides.append(
                    EdgeRecord.of(PROVIDES, supplier_records[i].key, caps[c].key, marks, values)
                )

    sources = _sourcing(rng, tiers, tier_of, supplier_records, item_of)
    subsidiaries = _ownership(rng, tiers, tier_of, supplier_records)
    return Dataset(
        nodes={
            NATION.name: nation_records(),
            SUPPLIER.name: supplier_records,
            CAPABILITY.name: caps,
        },
        edges={
            REQUIRES.rel: requires,
            PROVIDES.rel: provides,
            SOURCES_FROM.rel: sources,
            SUBSIDIARY_OF.rel: subsidiaries,
        },
    )


def _sourcing(
    rng: random.Random,
    tiers: list[range],
    tier_of: list[int],
    suppliers: list[NodeRecord],
    item_of: list[str],
) -> list[EdgeRecord]:
    profiles = _profiles(rng, SOURCES_FROM)
    # Heavy-tailed fitness: the chance of being chosen as a seller.
    fitness = [_Picker(span, [rng.paretovariate(1.2) for _ in span]) for span in tiers]
    out: list[list[int]] = [[] for _ in suppliers]
    edges: list[EdgeRecord] = []

    def edge(buyer: int, seller: int, *, allow_sole: bool = True) -> None:
        sole = allow_sole and rng.random() < _SOLE
        out[buyer].append(seller)
        marks = rng.choice(profiles)
        given = {
            "item": item_of[seller],
            "share": 1.0 if sole else round(rng.uniform(0.05, 1.0), 2),
            "sole": sole,
        }
        values = _values(rng, SOURCES_FROM, given)
        edges.append(
            EdgeRecord.of(SOURCES_FROM, suppliers[buyer].key, suppliers[seller].key, marks, values)
        )

    last = len(tiers) - 1
    for buyer, tier in enumerate(tier_of):
        mean = _MEAN_OUT[tier]
        if tier == last or mean == 0:
            continue
        # Pareto(2.5) has mean 5/3: scale so the tier's mean holds, keep the heavy tail.
        wanted = max(1, round(mean * rng.paretovariate(2.5) * 0.6))
        chosen: set[int] = set()
        for _ in range(min(wanted, 4 * len(tiers[tier + 1]))):
            down = tier + 2 if tier + 2 <= last and rng.random() < _SKIP_TIER else tier + 1
            seller = fitness[down].pick(rng)
            if seller not in chosen:
                chosen.add(seller)
                edge(buyer, seller)

    # A few planted cycles: a -> b -> c gets c -> a (or b -> a when b buys nothing).
    planted, attempts = 0, 0
    want = max(3, len(suppliers) // 20_000)
    while planted < want and attempts < 100 * want and edges:
        attempts += 1
        a = rng.randrange(len(suppliers))
        if not out[a]:
            continue
        b = rng.choice(out[a])
        c = rng.choice(out[b]) if out[b] else b
        if a in out[c] or c == a:
            continue
        edge(c, a, allow_sole=False)
        planted += 1
    return edges


def _ownership(
    rng: random.Random, tiers: list[range], tier_of: list[int], suppliers: list[NodeRecord]
) -> list[EdgeRecord]:
    """Some suppliers are owned by one supplier of a higher tier (a bigger company)."""
    profiles = _profiles(rng, SUBSIDIARY_OF)
    records: list[EdgeRecord] = []
    for child, tier in enumerate(tier_of):
        if tier == 0 or rng.random() >= _SUBSIDIARY:
            continue
        parent = rng.choice(tiers[rng.randrange(tier)])
        share = rng.choice((1.0, 1.0, 1.0, 1.0, 0.51, 0.3, 0.25))
        marks = rng.choice(profiles)
        values = _values(rng, SUBSIDIARY_OF, {"share": share})
        records.append(
            EdgeRecord.of(SUBSIDIARY_OF, suppliers[child].key, suppliers[parent].key, marks, values)
        )
    return records
