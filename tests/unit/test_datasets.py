"""Reference and demo data: the real files load clean, and every kind of bad row is rejected."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from dibx.auth.markings import canonicalize
from dibx.graph.model import MODEL, Field
from dibx.graph.records import Dataset
from dibx.ingest.demo import FALLBACK_MARKING, load_demo
from dibx.ingest.reference import default_data_dir, load_reference
from dibx.ingest.report import ImportResult, Rejection

DATA = default_data_dir()
ALLIED_CONCERN = {"CHN", "RUS", "IRN", "PRK"}


def members(dataset: Dataset, agreement: str, on: date) -> set[str]:
    return {
        m.start
        for m in dataset.edges_of("MEMBER_OF")
        if m.end == agreement and m["since"] <= on and (m["until"] is None or on < m["until"])
    }


def reasons(result: ImportResult) -> str:
    return "\n".join(str(r) for r in result.rejected)


def one(result: ImportResult, needle: str) -> Rejection:
    """The one rejection saying `needle` first-hand (a dependent row only quotes it)."""

    def says(r: Rejection) -> bool:
        quoted = "was rejected" in r.reason and not r.reason.startswith(needle)
        return needle in r.reason and not quoted

    hits = [r for r in result.rejected if says(r)]
    assert len(hits) == 1, f"expected one rejection with {needle!r}, got:\n{reasons(result)}"
    return hits[0]


# --- the real files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> ImportResult:
    return load_reference(DATA)


@pytest.fixture(scope="module")
def demo() -> ImportResult:
    return load_demo(DATA)


def test_reference_loads_without_rejections(reference: ImportResult) -> None:
    assert reference.rejected == []
    d = reference.dataset
    assert len(d.nodes_of("Nation")) == 249  # every ISO 3166-1 country, from pycountry
    assert {a.key for a in d.nodes_of("Agreement")} == {
        "NTIB", "AUKUS", "FVEY", "ACGU", "RDP_MOU", "NATO", "MNNA", "SOSA", "RGQA", "DPA_DS",
    }  # fmt: skip
    assert all(a["source"] for a in d.nodes_of("Agreement"))
    assert all(m["source"] for m in d.edges_of("MEMBER_OF"))


@pytest.mark.parametrize(
    ("agreement", "count"),
    [("NATO", 32), ("RDP_MOU", 28), ("FVEY", 5), ("AUKUS", 3), ("NTIB", 5), ("SOSA", 19)],
)
def test_membership_counts_today(reference: ImportResult, agreement: str, count: int) -> None:
    assert len(members(reference.dataset, agreement, date.today())) == count


def test_memberships_change_over_time(reference: ImportResult) -> None:
    d = reference.dataset
    assert members(d, "NTIB", date(2022, 12, 22)) == {"USA", "CAN", "GBR", "AUS"}
    assert "NZL" in members(d, "NTIB", date(2022, 12, 23))
    assert "SWE" not in members(d, "NATO", date(2024, 3, 6))
    assert "SWE" in members(d, "NATO", date(2024, 3, 7))
    assert len(members(d, "NATO", date(2023, 1, 1))) == 30
    assert "AFG" in members(d, "MNNA", date(2020, 1, 1))
    assert "AFG" not in members(d, "MNNA", date.today())


def test_nations_named_from_pycountry(reference: ImportResult) -> None:
    names = {n.key: n["name"] for n in reference.dataset.nodes_of("Nation")}
    assert names["USA"] == "United States"
    assert names["KOR"] == "South Korea"
    assert names["TWN"] == "Taiwan"


def test_demo_loads_without_rejections(demo: ImportResult) -> None:
    assert demo.rejected == [], reasons(demo)
    assert demo.notes == []  # every marking in the files is already canonical


def test_demo_files_say_they_are_illustrative() -> None:
    for path in sorted((DATA / "demo").glob("*.yaml")):
        text = path.read_text()
        assert text.startswith("#")
        assert "ILLUSTRATIVE, NOT AUTHORITATIVE" in text
        assert "illustrative" in yaml.safe_load(text)["notice"].lower()


def test_demo_size_and_spread(demo: ImportResult) -> None:
    d = demo.dataset
    nations = {e.end for e in d.edges_of("BASED_IN")}
    capabilities = d.nodes_of("Capability")
    assert len(d.nodes_of("Supplier")) >= 60
    assert len(nations) >= 12
    assert len(capabilities) >= 25
    assert len(d.edges_of("REQUIRES")) >= 25
    assert nations >= {"USA", "GBR", "AUS", "CAN", "JPN", "KOR", "NZL"}
    assert nations & ALLIED_CONCERN >= {"CHN", "RUS"}
    assert {c["jurisdiction"] for c in capabilities} == {"ITAR", "EAR", "NONE"}
    assert any(c["etl"] for c in capabilities)
    assert any(c["cdnExcluded"] for c in capabilities)


def test_demo_supply_chains_are_deep_acyclic_and_have_sole_sources(demo: ImportResult) -> None:
    d = demo.dataset
    out: dict[str, list[str]] = {}
    for e in d.edges_of("SOURCES_FROM"):
        out.setdefault(e.start, []).append(e.end)

    def depth(node: str, path: tuple[str, ...]) -> int:
        assert node not in path, f"cycle through {node}"
        return 1 + max((depth(n, (*path, node)) for n in out.get(node, [])), default=0)

    assert max(depth(s.key, ()) for s in d.nodes_of("Supplier")) >= 4
    assert sum(1 for e in d.edges_of("SOURCES_FROM") if e["sole"]) >= 5


def test_demo_has_foreign_owned_allied_supplier(demo: ImportResult) -> None:
    nation = {e.start: e.end for e in demo.dataset.edges_of("BASED_IN")}
    exposed = [
        o
        for o in demo.dataset.edges_of("SUBSIDIARY_OF")
        if nation[o.end] in ALLIED_CONCERN and nation[o.start] not in ALLIED_CONCERN
    ]
    assert exposed


def test_demo_markings_are_a_realistic_mix(demo: ImportResult) -> None:
    d = demo.dataset
    every = [
        *(r.markings for r in d.nodes_of("Supplier")),
        *(r.markings for r in d.nodes_of("Capability")),
        *(r.markings for rel in ("PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF", "REQUIRES")
          for r in d.edges_of(rel)),
    ]  # fmt: skip
    texts = Counter(m.record for m in every) + Counter(t for m in every for _, t in m.fields)
    assert all(canonicalize(t) == t for t in texts)
    for expected in (
        "PUBLIC",
        "CUI",
        "CUI//NOFORN",
        "CUI//REL TO USA, FVEY",
        "CUI//REL TO USA, AUS, GBR",
        "CUI//SP-EXPT//NOFORN",
        "CUI//PROPIN//REL TO USA, NATO",
    ):
        assert texts[expected] > 0, expected
    assert any(s.markings.record == "CUI//NOFORN" for s in d.nodes_of("Supplier"))
    assert {e.markings.of("sole") for e in d.edges_of("SOURCES_FROM")} == {"CUI//NOFORN"}


# --- bad reference rows --------------------------------------------------------------------------

AGREEMENTS = "code,name,kind,source\nNATO,North Atlantic Treaty Organization,treaty,nato.int\n"
MEMBERS = "nation,agreement,since,until,precision,source\n"


def write_reference(tmp: Path, agreements: str, memberships: str) -> ImportResult:
    ref = tmp / "reference"
    ref.mkdir()
    (ref / "agreements.csv").write_text(agreements)
    (ref / "memberships.csv").write_text(MEMBERS + memberships)
    return load_reference(tmp)


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("XXX,NATO,1949-08-24,,day,s", "unknown nation code 'XXX'"),
        ("USA,WARSAW,1949-08-24,,day,s", "unknown agreement 'WARSAW'"),
        ("USA,NATO,1949-13-01,,day,s", "'since' must be a date YYYY-MM-DD, got '1949-13-01'"),
        ("USA,NATO,24/08/1949,,day,s", "'since' must be a date YYYY-MM-DD, got '24/08/1949'"),
        ("USA,NATO,1949-08-24,1940-01-01,day,s", "until 1940-01-01 is before since"),
        ("USA,NATO,1949-08-24,,year,s", "precision 'year' needs since on 1 January"),
        ("USA,NATO,1949-08-24,,month,s", "bad precision 'month'"),
        ("USA,NATO,1949-08-24,,day,", "missing required field 'source'"),
        ("USA,NATO,1949-08-24,,day,s,extra", "more fields than the 6 columns"),
    ],
)
def test_bad_membership_rows_are_rejected(tmp_path: Path, row: str, needle: str) -> None:
    result = write_reference(tmp_path, AGREEMENTS, "GBR,NATO,1949-08-24,,day,ok\n" + row + "\n")
    rejection = one(result, needle)
    assert rejection.file == "reference/memberships.csv"
    assert rejection.row == "line 3"
    assert [m.start for m in result.dataset.edges_of("MEMBER_OF")] == ["GBR"]


def test_overlapping_memberships_are_rejected(tmp_path: Path) -> None:
    rows = "FRA,NATO,1949-08-24,1966-07-01,day,s\nFRA,NATO,1960-01-01,,year,s\n"
    rows += "FRA,NATO,1970-01-01,,year,s\n"  # leaves and rejoins: fine
    result = write_reference(tmp_path, AGREEMENTS, rows)
    assert one(result, "overlaps the membership since 1949-08-24 (line 2)").row == "line 3"
    assert [m["since"].year for m in result.dataset.edges_of("MEMBER_OF")] == [1949, 1970]


def test_bad_agreements_and_their_memberships_are_rejected(tmp_path: Path) -> None:
    agreements = AGREEMENTS + "NATO,Again,treaty,s\nsosa,lower,arrangement,s\nMNNA,Major,club,s\n"
    agreements += "RGQA,,mou,s\n"
    result = write_reference(tmp_path, agreements, "AUS,MNNA,1989-01-01,,year,s\n")
    assert one(result, "duplicate agreement code 'NATO'").row == "line 3"
    one(result, "bad agreement code 'sosa' (capital letters, digits and _, 2-16 long)")
    assert one(result, "bad kind 'club'; expected").row == "line 5"
    one(result, "missing required field 'name'")
    dependent = one(result, "agreement 'MNNA' was rejected")
    assert "bad kind 'club'" in dependent.reason
    assert [a.key for a in result.dataset.nodes_of("Agreement")] == ["NATO"]


def test_bad_header_rejects_the_file(tmp_path: Path) -> None:
    result = write_reference(tmp_path, "code,title,kind,source\nNATO,x,treaty,s\n", "")
    assert one(result, "missing column(s) name").row == "header"
    assert result.dataset.nodes_of("Agreement") == []


# --- bad demo rows -------------------------------------------------------------------------------

CAPABILITY_FIELDS = (
    *("name", "area", "description", "jurisdiction", "usml", "eccn"),
    *("sme", "etl", "classified", "cdnExcluded"),
)
DEFAULTS: dict[str, Any] = {
    "Supplier": {
        "marking": "PUBLIC",
        "fields": dict.fromkeys(("name", "cage", "city", "description", "employees"), "PUBLIC"),
    },
    "BASED_IN": {"marking": "PUBLIC"},
    "Capability": {
        "marking": "PUBLIC",
        "fields": dict.fromkeys(CAPABILITY_FIELDS, "PUBLIC"),
    },
    "REQUIRES": {"marking": "CUI"},
    "PROVIDES": {
        "marking": "CUI//REL TO USA, FVEY",
        "fields": {
            "capacity": "CUI//REL TO USA, FVEY",
            "unit": "PUBLIC",
            "trl": "CUI",
            "leadTimeDays": "CUI//NOFORN",
        },
    },
    "SOURCES_FROM": {
        "marking": "CUI//REL TO USA, FVEY",
        "fields": {"item": "CUI", "share": "CUI//PROPIN//NOFORN", "sole": "CUI//NOFORN"},
    },
    "SUBSIDIARY_OF": {"marking": "PUBLIC", "fields": {"share": "PUBLIC"}},
}


def capability_rows() -> list[dict[str, Any]]:
    return [
        {"id": "cap.a", "name": "A", "area": "x", "jurisdiction": "ITAR", "usml": "IV",
         "requires": ["cap.b"]},
        {"id": "cap.b", "name": "B", "area": "x", "jurisdiction": "EAR", "eccn": "EAR99"},
    ]  # fmt: skip


def supplier_rows() -> list[dict[str, Any]]:
    return [
        {"id": "s.prime", "name": "Prime", "nation": "USA",
         "provides": [{"capability": "cap.a", "capacity": 5, "unit": "u/yr", "trl": 9}],
         "sources_from": [{"supplier": "s.part", "item": "part", "share": 0.5}]},
        {"id": "s.part", "name": "Part", "nation": "GBR",
         "subsidiary_of": [{"parent": "s.prime", "share": 0.6}]},
    ]  # fmt: skip


def write_demo(
    tmp: Path,
    suppliers: list[dict[str, Any]] | None = None,
    capabilities: list[dict[str, Any]] | None = None,
    defaults: dict[str, Any] | None = None,
) -> ImportResult:
    demo = tmp / "demo"
    demo.mkdir()
    doc = {
        "notice": "Illustrative test data.",
        "defaults": DEFAULTS if defaults is None else defaults,
        "capabilities": capability_rows() if capabilities is None else capabilities,
        "suppliers": supplier_rows() if suppliers is None else suppliers,
    }
    (demo / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_demo(tmp)


def test_minimal_demo_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    rows = supplier_rows()
    rows[1]["marking"] = "CUI//NOFORN"
    rows[1]["markings"] = {"name": "CUI", "nation": "CUI//REL TO USA, FVEY"}
    result = write_demo(tmp_path, rows)
    assert result.ok, reasons(result)
    prime, part = result.dataset.nodes_of("Supplier")
    assert prime.markings.record == "PUBLIC"
    assert part.markings.record == "CUI//NOFORN"
    assert part.markings.of("name") == "CUI"
    assert part.markings.of("city") == "PUBLIC"
    assert part.link("BASED_IN").markings.record == "CUI//REL TO USA, FVEY"
    (edge,) = result.dataset.edges_of("SOURCES_FROM")
    assert (edge.start, edge.end, edge["share"], edge["sole"]) == ("s.prime", "s.part", 0.5, None)
    assert edge.markings.of("share") == "CUI//PROPIN//NOFORN"
    assert result.dataset.edges_of("REQUIRES")[0].markings.record == "CUI"


def test_marking_is_stored_canonical_and_the_change_is_noted(tmp_path: Path) -> None:
    rows = supplier_rows()
    rows[0]["marking"] = "CUI//REL TO USA, GBR, AUS"
    result = write_demo(tmp_path, rows)
    assert result.ok
    assert result.dataset.nodes_of("Supplier")[0].markings.record == "CUI//REL TO USA, AUS, GBR"
    assert result.notes == [
        "marking 'CUI//REL TO USA, GBR, AUS' stored in canonical form 'CUI//REL TO USA, AUS, GBR'"
    ]


def set_path(rows: list[dict[str, Any]], path: str, value: Any) -> None:
    """`1.name`, `0.provides.0.trl`: set a nested value in the rows."""
    *parents, last = path.split(".")
    node: Any = rows
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        ("1.nation", "XYZ", "unknown nation code 'XYZ'"),
        ("1.name", None, "missing required field 'name'"),
        ("1.cage", 12345, "'cage' must be text"),
        ("1.cage", "12-45", "bad cage '12-45' (five letters or digits)"),
        ("1.employees", -3, "employees -3 out of range"),
        ("1.colour", "red", "unknown field(s) colour"),
        ("1.marking", "CUI//REL TO GBR, USA", "malformed marking for the Supplier record: "
         "invalid marking token 'GBR'"),
        ("1.markings", {"city": "SECRET"}, "malformed marking for city: invalid marking token"),
        ("1.markings", {"colour": "CUI"}, "markings for unknown field(s) colour"),
        ("0.provides.0.trl", 10, "trl 10 out of range [1, 9]"),
        ("0.provides.0.trl", 7.5, "'trl' must be a whole number"),
        ("0.provides.0.capability", "cap.zzz", "unknown capability 'cap.zzz'"),
        ("0.provides.0.unit", None, "capacity needs its unit"),
        ("0.sources_from.0.share", 1.5, "share 1.5 out of range [0, 1]"),
        ("0.sources_from.0.share", "half", "'share' must be a number"),
        ("0.sources_from.0.sole", "yes", "'sole' must be true or false"),
        ("0.sources_from.0.sole", True, "a sole source supplies the whole need, but share is 0.5"),
        ("0.sources_from.0.supplier", "s.ghost", "unknown supplier 's.ghost'"),
        ("0.sources_from.0.supplier", "s.prime", "'s.prime' cannot point at itself"),
        ("1.subsidiary_of.0.share", None, "missing required field 'share'"),
        ("1.subsidiary_of.0.share", -0.1, "share -0.1 out of range [0, 1]"),
    ],
)  # fmt: skip
def test_bad_demo_rows_are_rejected_with_their_reason(
    tmp_path: Path, path: str, value: Any, needle: str
) -> None:
    rows = supplier_rows()
    set_path(rows, path, value)
    result = write_demo(tmp_path, rows)
    rejection = one(result, needle)
    assert rejection.file == "demo/test.yaml"
    assert rejection.row.startswith(f"suppliers[{path.split('.')[0]}]")


def test_rows_depending_on_a_rejected_row_are_rejected_too(tmp_path: Path) -> None:
    rows = supplier_rows()
    rows[1]["nation"] = "XYZ"  # s.part is rejected ...
    result = write_demo(tmp_path, rows)
    # ... so is its own nested ownership edge, and the prime's purchase from it.
    own = one(result, "its row was rejected: unknown nation code 'XYZ'")
    assert own.row == "suppliers[1] (s.part) subsidiary_of[0]"
    buy = one(result, "depends on supplier 's.part', which was rejected")
    assert buy.row == "suppliers[0] (s.prime) sources_from[0]"
    assert "unknown nation code 'XYZ'" in buy.reason
    assert [s.key for s in result.dataset.nodes_of("Supplier")] == ["s.prime"]
    assert result.dataset.edges_of("SOURCES_FROM") == []
    assert len(result.dataset.edges_of("PROVIDES")) == 1


def test_rejected_capability_takes_its_edges_along(tmp_path: Path) -> None:
    caps = capability_rows()
    caps[1]["usml"] = "IV"  # an EAR item with a USML category: rejected
    result = write_demo(tmp_path, capabilities=caps)
    one(result, "usml given for a EAR item")
    assert "usml given" in one(result, "depends on capability 'cap.b'").reason
    assert [c.key for c in result.dataset.nodes_of("Capability")] == ["cap.a"]


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    rows = supplier_rows()
    rows.append({"id": "s.part", "name": "Again", "nation": "FRA"})
    rows[0]["sources_from"].append({"supplier": "s.part", "item": "again"})
    caps = capability_rows()
    caps.append({"id": "cap.b", "name": "B2", "area": "x", "jurisdiction": "NONE"})
    result = write_demo(tmp_path, rows, caps)
    dup = one(result, "duplicate supplier id 's.part'")
    assert dup.row == "suppliers[2] (s.part)"
    assert "first at demo/test.yaml suppliers[1] (s.part)" in dup.reason
    one(result, "duplicate capability id 'cap.b'")
    one(result, "duplicate edge s.prime -> s.part")
    assert [s["name"] for s in result.dataset.nodes_of("Supplier")] == ["Prime", "Part"]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"jurisdiction": "ITAR", "usml": None}, "an ITAR item needs its USML category"),
        ({"jurisdiction": "ITAR", "usml": "IV", "eccn": "3A001"}, "has a USML category, not an"),
        ({"jurisdiction": "EAR", "eccn": None}, "an EAR item needs its ECCN"),
        ({"jurisdiction": "FOREIGN"}, "bad jurisdiction 'FOREIGN'"),
        ({"eccn": "3Z999"}, "bad eccn '3Z999' (e.g. 3A001.b.2, 9A610, EAR99)"),
        ({"jurisdiction": "ITAR", "usml": "XXII", "eccn": None}, "bad usml 'XXII'; expected one"),
        ({"sme": True}, "sme, etl and cdnExcluded apply to USML (ITAR) items only"),
        ({"etl": "no"}, "'etl' must be true or false"),
    ],
)
def test_bad_export_attributes_are_rejected(
    tmp_path: Path, change: dict[str, Any], needle: str
) -> None:
    caps = capability_rows()
    caps[1].update(change)
    caps[1] = {k: v for k, v in caps[1].items() if v is not None}
    one(write_demo(tmp_path, capabilities=caps), needle)


def test_requires_cycles_are_rejected(tmp_path: Path) -> None:
    caps = capability_rows()
    caps[1]["requires"] = ["cap.a"]
    result = write_demo(tmp_path, capabilities=caps)
    assert one(result, "would close a REQUIRES cycle").row == "capabilities[1] (cap.b) requires[0]"
    assert len(result.dataset.edges_of("REQUIRES")) == 1


def test_ownership_above_one_is_rejected(tmp_path: Path) -> None:
    rows = supplier_rows()
    rows.append({"id": "s.other", "name": "Other", "nation": "CHN"})
    rows[1]["subsidiary_of"].append({"parent": "s.other", "share": 0.5})
    result = write_demo(tmp_path, rows)
    one(result, "owners of 's.part' would hold 1.1")


def test_missing_defaults_fall_back_to_noforn_and_are_reported(tmp_path: Path) -> None:
    defaults = {k: v for k, v in DEFAULTS.items() if k != "SOURCES_FROM"}
    defaults["Supplier"] = {"marking": "PUBLIC", "fields": {"name": "PUBLIC"}}
    result = write_demo(tmp_path, defaults=defaults)
    assert one(result, "missing;").row == "defaults.SOURCES_FROM"
    gap = one(result, "no default marking for cage")
    assert gap.row == "defaults.Supplier"
    assert result.dataset.edges_of("SOURCES_FROM")[0].markings.record == FALLBACK_MARKING
    assert result.dataset.nodes_of("Supplier")[0].markings.of("city") == FALLBACK_MARKING
    assert result.dataset.nodes_of("Supplier")[0].markings.of("name") == "PUBLIC"


def test_malformed_default_marking_is_reported(tmp_path: Path) -> None:
    defaults = dict(DEFAULTS)
    defaults["REQUIRES"] = {"marking": "UNCLASSIFIED"}
    result = write_demo(tmp_path, defaults=defaults)
    rejection = one(result, "malformed marking for REQUIRES records")
    assert "UNCLASSIFIED is ambiguous" in rejection.reason
    assert result.dataset.edges_of("REQUIRES")[0].markings.record == FALLBACK_MARKING


def test_bad_files_are_reported(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "broken.yaml").write_text("suppliers: [\n")
    (demo / "plain.yaml").write_text(yaml.safe_dump({"suppliers": [], "extra": 1}))
    result = load_demo(tmp_path)
    one(result, "not valid YAML")
    one(result, "unknown top-level key")
    one(result, "missing: say that company facts are illustrative")


def test_memberships_may_carry_markings(tmp_path: Path) -> None:
    """Optional marking columns mark the edge and its fields; an empty cell is PUBLIC."""
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "agreements.csv").write_text(AGREEMENTS)
    (ref / "memberships.csv").write_text(
        "nation,agreement,since,until,precision,source,marking,marking_since,marking_until\n"
        "GBR,NATO,1949-08-24,,day,s,,,\n"
        'SWE,NATO,2024-03-07,,day,s,CUI//NOFORN,"CUI//REL TO USA, GBR",CUI//NOFORN\n'
        "FIN,NATO,2023-04-04,,day,s,BOGUS,,\n"
    )
    result = load_reference(tmp_path)
    assert one(result, "malformed marking for the membership").row == "line 4"
    gbr, swe = result.dataset.edges_of("MEMBER_OF")
    assert gbr.markings.record == "PUBLIC"
    fields = ("precision", "since", "source", "until")
    assert gbr.markings.as_dict() == dict.fromkeys(fields, "PUBLIC")
    assert swe.markings.record == "CUI//NOFORN"
    assert swe.markings.as_dict() == {
        "since": "CUI//REL TO USA, GBR",
        "precision": "CUI//REL TO USA, GBR",  # says how exact `since` is: marked with it
        "until": "CUI//NOFORN",
        "source": "PUBLIC",
    }


def test_a_field_added_to_the_model_is_loaded_and_unknown_to_the_model_of_record(
    tmp_path: Path,
) -> None:
    extended = MODEL.with_field("Supplier", Field("website", str, "The supplier's web site."))
    defaults = {**DEFAULTS, "Supplier": {"marking": "PUBLIC", "fields": {
        **DEFAULTS["Supplier"]["fields"], "website": "CUI"}}}  # fmt: skip
    rows = supplier_rows()
    rows[0]["website"] = "prime.test"
    demo = tmp_path / "demo"
    write_demo(tmp_path, rows, defaults=defaults)
    result = load_demo(demo, model=extended)
    assert result.ok, reasons(result)
    prime = result.dataset.nodes_of("Supplier")[0]
    assert (prime["website"], prime.markings.of("website")) == ("prime.test", "CUI")
    plain = load_demo(demo)
    assert one(plain, "unknown field(s) website").row == "suppliers[0] (s.prime)"
    assert one(plain, "unknown field 'website'").row == "defaults.Supplier"
