"""Supply-chain and capability-gap analytics: root fields, each needing `supply_chain:read`.

Every analysis runs on the subgraph the caller may see (records, edges and fields released
to it), so its figures, counts and rankings do not change when hidden data changes. Each
result has a `marking`: the roll-up of the markings of everything it used; it also joins the
response banner. A root that is absent or hidden gives null, as a lookup by id does. A result
field left null by a withheld value is listed under `extensions.releasability.withheld` with
its path and marking, as a directory field is (the policy may conceal the marking).
"""

from __future__ import annotations

from strawberry.tools import merge_types

from dibx.schema.analytics import (
    capability_gap,
    concentration,
    disruption,
    exposure,
    single_points_of_failure,
    substitutes,
    supply_chain,
    trade_pathway,
)

AnalyticsQuery = merge_types(
    "AnalyticsQuery",
    (
        capability_gap.Query,
        supply_chain.Query,
        single_points_of_failure.Query,
        concentration.Query,
        exposure.Query,
        disruption.Query,
        substitutes.Query,
        trade_pathway.Query,
    ),
)

__all__ = ["AnalyticsQuery"]
