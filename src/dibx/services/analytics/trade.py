"""Trade pathway: an advisory reading of whether an ITAR exemption could cover a transfer.

Rules (22 CFR 126.7 and 126.5, as summarised in reference/agreements.md):
* AUKUS exemption, ITAR 126.7: destination AUS or GBR, jurisdiction ITAR, not on the
  Excluded Technology List, not significant military equipment for manufacture abroad,
  not classified.
* Canadian exemption, ITAR 126.5: destination CAN, jurisdiction ITAR, not excluded by
  Supplement No. 1, not classified.
* Otherwise a licence (or another authorization) is required.

Only attributes released to the caller are read. A condition that a released attribute
already fails decides the outcome; if none fails but one the rule needs is withheld (or not
recorded), the outcome is UNDETERMINED and names it: nothing is guessed from hidden data.
A withheld attribute is said to be withheld, with its marking, only where the policy
discloses that marking; otherwise it reads like one not recorded, as null fields do.
Value thresholds and authorized-user status are not assessed; the result is never a
licensing decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dibx.graph.supply import ControlAttributes, Val
from dibx.services.analytics.common import CapabilityRef, Tetragraphs, capability_ref
from dibx.services.analytics.provenance import Provenance

EXEMPT = "EXEMPTION_MAY_APPLY"
LICENCE = "LICENCE_REQUIRED"
UNDETERMINED = "UNDETERMINED"
DOMESTIC = "NOT_AN_EXPORT"

AUKUS = ("AUS", "GBR")
NOTICE = (
    "Advisory only, not a licensing decision: it reads only the attributes released to you, "
    "does not assess value thresholds, authorized-user status or end use, and must be "
    "confirmed by an export-control official (22 CFR 120-130)."
)

# (attribute, value that satisfies the condition, what the condition says)
Rule = tuple[tuple[str, object, str], ...]
_AUKUS_RULE: Rule = (
    ("jurisdiction", "ITAR", "jurisdiction is ITAR"),
    ("etl", False, "not on the AUKUS Excluded Technology List (126 Supp. 2)"),
    ("sme", False, "not significant military equipment for manufacture abroad"),
    ("classified", False, "unclassified"),
)
_CANADA_RULE: Rule = (
    ("jurisdiction", "ITAR", "jurisdiction is ITAR"),
    ("cdnExcluded", False, "not excluded by 126.5 Supplement No. 1"),
    ("classified", False, "unclassified"),
)


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str
    marking: str


@dataclass(frozen=True, slots=True)
class TradePathway:
    capability: CapabilityRef
    destination: str
    outcome: str
    exemption: str | None
    reasons: tuple[str, ...]
    relied_on: tuple[Attribute, ...]
    undetermined: tuple[str, ...]  # attributes the outcome needs but the caller cannot read
    advisory: bool
    notice: str
    marking: str


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def assess(
    attrs: ControlAttributes,
    destination: str,
    tetragraphs: Tetragraphs,
    discloses: Callable[[str], bool] = lambda _: True,
) -> TradePathway:
    cap = attrs.capability
    prov = Provenance([cap.marking]).value(cap.name)
    rule: Rule
    exemption: str | None
    if destination == "USA":
        rule, exemption = (), None
    elif destination in AUKUS:
        rule, exemption = _AUKUS_RULE, "ITAR 126.7 (AUKUS)"
    elif destination == "CAN":
        rule, exemption = _CANADA_RULE, "ITAR 126.5 (Canada)"
    else:
        rule, exemption = (), None
    relied: dict[str, Val[Any]] = {}
    reasons: tuple[str, ...]
    failed: list[str] = []
    missing: list[str] = []
    for name, wanted, says in rule:
        val = attrs.values.get(name)
        if val is None:
            missing.append(name)
            continue
        relied[name] = val
        if val.value != wanted:
            failed.append(f"{exemption} needs: {says}; {name} is {_text(val.value)}")
    if destination == "USA":
        outcome, reasons = DOMESTIC, ("The destination is the United States: not an export.",)
    elif not rule:
        outcome = LICENCE
        reasons = (f"No licence exemption is modelled for destination {destination}.",)
    elif failed:
        outcome, reasons = LICENCE, tuple(failed)
    elif missing:
        outcome = UNDETERMINED
        withheld = dict(attrs.withheld)
        reasons = tuple(
            f"{name} is "
            + (
                f"withheld from you ({withheld[name]})"
                if name in withheld and discloses(withheld[name])
                else "not recorded or not available to you"
            )
            + f": {exemption} cannot be assessed"
            for name in missing
        )
    else:
        outcome = EXEMPT
        reasons = tuple(f"{exemption}: {says}" for _, _, says in rule)
    for val in relied.values():
        prov.value(val)
    return TradePathway(
        capability=capability_ref(cap, tetragraphs),
        destination=destination,
        outcome=outcome,
        exemption=exemption,
        reasons=reasons,
        relied_on=tuple(
            Attribute(name, _text(v.value), Provenance(v.markings).marking(tetragraphs))
            for name, v in relied.items()
        ),
        undetermined=tuple(missing) if outcome == UNDETERMINED else (),
        advisory=True,
        notice=NOTICE,
        marking=prov.marking(tetragraphs),
    )
