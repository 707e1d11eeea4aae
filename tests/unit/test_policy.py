"""The releasability policy: validated whole, the only maker of release scopes."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

import pytest

from dibx import data as shipped
from dibx.app import startup
from dibx.auth import policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.graph.model import MODEL

SHIPPED = shipped.policy_file()


def principal(nation: str = "GBR", attributes: frozenset[str] = frozenset()) -> Principal:
    return Principal(
        subject="s",
        client_id="c",
        nation=nation,
        org=None,
        scopes=frozenset({"supplier:read"}),
        attributes=attributes,
        token_id="j",
    )


def test_shipped_policy_loads(vocabulary: policy.Vocabulary) -> None:
    loaded = policy.load(SHIPPED, vocabulary)
    assert loaded.version
    assert str(loaded.defaults["Supplier"]) == "CUI"
    assert loaded.disclose_withheld is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('version = ""', "`version` must be a non-empty string"),
        ('version = "1"\n[defaults]\nSupplier = "CUI//REL TO GBR"', "defaults.Supplier"),
        ('version = "1"\n[defaults]\nSupplier = 3', "defaults.Supplier: expected a marking string"),
        ('version = "1"\n[attributes]\nGBR = ["ROOT"]', "unknown attribute(s) ROOT"),
        ('version = "1"\n[cui_release]\ngroups = "FVEY"', "cui_release.groups must be a list"),
        (
            'version = "1"\n[disclosure]\nwithheld = "yes"',
            "disclosure.withheld must be true or false",
        ),
        ('version = "1"\n[disclosure]\nconceal = ["CUI//BOGUS"]', "disclosure.conceal"),
        ('version = "1"\n[surprise]\nx = 1', "unknown policy section(s): surprise"),
        ("version = [", "not valid TOML"),
    ],
)
def test_bad_policy_is_refused_with_the_key_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(policy.PolicyError) as excinfo:
        policy.load(path)
    assert message in str(excinfo.value)


def test_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(policy.PolicyError, match="policy file not found"):
        policy.load(tmp_path / "absent.toml")


def test_scope_groups_and_determinations() -> None:
    loaded = policy.load(SHIPPED)
    scope = loaded.scope_for(principal("GBR"), {"FVEY", "NATO"}, date(2026, 1, 1))
    assert scope.groups == {"GBR", "FVEY", "NATO", "@CUI_REL"}
    jpn = loaded.scope_for(principal("JPN"), {"RDP_MOU"}, date(2026, 1, 1))
    assert "@CUI_REL" not in jpn.groups


def test_only_honoured_attributes_become_groups() -> None:
    loaded = policy.load(SHIPPED)
    asserted = frozenset({"FED", "EXPORT_AUTH", "MADE_UP"})
    gbr = loaded.scope_for(principal("GBR", asserted), set(), date(2026, 1, 1))
    assert {g for g in gbr.groups if g.startswith("@")} == {"@EXPORT_AUTH"}
    usa = loaded.scope_for(principal("USA", asserted), set(), date(2026, 1, 1))
    assert {g for g in usa.groups if g.startswith("@")} == {"@FED", "@EXPORT_AUTH"}


def test_release_scope_cannot_be_forged() -> None:
    with pytest.raises(TypeError, match="made only by"):
        ReleaseScope(
            nation="GBR",
            groups=frozenset({"USA"}),
            as_of=date.today(),
            policy_version="x",
            default_release={},
            default_marking={},
            _seal=object(),
        )


def test_concealed_markings_are_not_disclosed(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('version = "1"\n[disclosure]\nconceal = ["CUI//NOFORN"]\n')
    loaded = policy.load(path)
    assert loaded.discloses("CUI//REL TO USA, GBR")
    assert not loaded.discloses("CUI//NOFORN")


def test_a_type_without_default_is_released_to_nobody() -> None:
    loaded = policy.load(SHIPPED)
    scope = loaded.scope_for(principal("USA"), set(), date(2026, 1, 1))
    params = scope.cypher_params()
    assert "Widget" not in params["dr"]  # $dr.Widget is null in Cypher: the check fails


@pytest.fixture(scope="module")
def vocabulary() -> policy.Vocabulary:
    return startup.vocabulary(shipped.reference_dir())


def test_every_field_of_every_type_has_a_default_marking(vocabulary: policy.Vocabulary) -> None:
    """From the model alone: the shipped policy need not (and does not) repeat them."""
    loaded = policy.load(SHIPPED, vocabulary)
    owners = [(n.name, n.fields) for n in MODEL.nodes.values()]
    owners += [(e.rel, e.fields) for e in MODEL.edges.values()]
    keys = [k for name, fields in owners for k in (name, *(f"{name}_{f.name}" for f in fields))]
    assert len(keys) > len(MODEL.nodes) + len(MODEL.edges)
    missing = [k for k in keys if k not in loaded.defaults]
    assert missing == []
    assert tomllib.loads(SHIPPED.read_text())["defaults"] == {}  # no entry repeats the model
    assert {k: str(m) for k, m in loaded.defaults.items()} == MODEL.defaults()
    scope = loaded.scope_for(principal("USA"), set(), date(2026, 1, 1))
    assert set(scope.cypher_params()["dm"]) >= set(keys)  # type: ignore[arg-type]


def test_a_policy_override_replaces_the_model_default_for_its_key_only(
    vocabulary: policy.Vocabulary,
) -> None:
    assert MODEL.defaults()["Supplier_cage"] == "CUI"
    text = 'version = "1"\n[defaults]\nSupplier_cage = "CUI//NOFORN"\nSupplier = "PUBLIC"\n'
    loaded = policy.parse(tomllib.loads(text), vocabulary)
    assert str(loaded.defaults["Supplier_cage"]) == "CUI//NOFORN"
    assert str(loaded.defaults["Supplier"]) == "PUBLIC"
    assert str(loaded.defaults["Supplier_name"]) == "CUI"  # the model's, untouched
    scope = loaded.scope_for(principal("GBR"), {"FVEY"}, date(2026, 1, 1))
    params = scope.cypher_params()
    assert params["dm"]["Supplier_cage"] == "CUI//NOFORN"  # type: ignore[index]
    assert params["dr"]["Supplier_cage"] == ["USA"]  # type: ignore[index]


def test_a_field_added_to_the_model_has_a_default_and_may_be_overridden() -> None:
    from dibx.graph.model import Field

    extended = MODEL.with_field("Supplier", Field("website", str, "Web site.", "PUBLIC"))
    vocabulary = startup.vocabulary(shipped.reference_dir(), extended)
    assert str(policy.parse({"version": "1"}, vocabulary).defaults["Supplier_website"]) == (
        "PUBLIC"
    )
    overridden = {"version": "1", "defaults": {"Supplier_website": "CUI"}}
    assert str(policy.parse(overridden, vocabulary).defaults["Supplier_website"]) == "CUI"


def test_shipped_policy_names_only_known_types_fields_and_groups(
    vocabulary: policy.Vocabulary,
) -> None:
    loaded = policy.load(SHIPPED, vocabulary)
    assert "MEMBER_OF_source" in loaded.defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[defaults]\nSupplier_nmae = "CUI"', "defaults.Supplier_nmae: Supplier has no field"),
        ('[defaults]\nSuplier = "CUI"', "defaults.Suplier: no record or edge type"),
        ('[defaults]\nSOURCES_FROM_sol = "CUI"', "SOURCES_FROM has no field 'sol'"),
        ('[cui_release]\ngroups = ["FEVY"]', "'FEVY' is neither a nation code"),
        ('[cui_release]\ngroup = ["FVEY"]', "[cui_release]: unknown key(s) group"),
        ("[disclosure]\nwithheld = true\nconcealed = []", "[disclosure]: unknown key(s) concealed"),
        ('[attributes]\nGB = ["EXPORT_AUTH"]', "attributes.GB: not an ISO 3166-1 alpha-3"),
    ],
)
def test_unknown_keys_and_groups_are_refused(
    vocabulary: policy.Vocabulary, text: str, message: str
) -> None:

    with pytest.raises(policy.PolicyError) as excinfo:
        policy.parse(tomllib.loads('version = "1"\n' + text), vocabulary)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    "key", ["Agreement_source", "MEMBER_OF_precision", "MEMBER_OF_since", "BASED_IN"]
)
def test_fields_the_loaders_write_may_have_defaults(
    vocabulary: policy.Vocabulary, key: str
) -> None:
    loaded = policy.parse({"version": "1", "defaults": {key: "PUBLIC"}}, vocabulary)
    assert key in loaded.defaults


@pytest.mark.parametrize("group", ["GBR", "NTIB", "FVEY", "EXPORT_AUTH"])
def test_release_groups_may_be_nations_agreements_or_attributes(
    vocabulary: policy.Vocabulary, group: str
) -> None:
    loaded = policy.parse({"version": "1", "cui_release": {"groups": [group]}}, vocabulary)
    assert loaded.cui_release_groups == {group}


def test_scopes_share_the_policy_defaults_read_only(vocabulary: policy.Vocabulary) -> None:
    """Every request's scope carries the defaults worked out once by the policy: one
    request cannot change what another's Cypher checks against."""
    loaded = policy.load(SHIPPED, vocabulary)
    usa = loaded.scope_for(principal("USA"), {"NATO"}, date(2026, 1, 1))
    gbr = loaded.scope_for(principal("GBR"), {"FVEY"}, date(2026, 1, 1))
    assert usa.default_release is gbr.default_release is loaded.default_release
    assert dict(usa.default_marking) == {k: str(m) for k, m in loaded.defaults.items()}
    with pytest.raises(TypeError):
        usa.default_release["Supplier"] = ()  # type: ignore[index]
    with pytest.raises(TypeError):
        gbr.default_marking["Supplier"] = "PUBLIC"  # type: ignore[index]
    assert loaded.default_release["Supplier_cage"] == ("@CUI_REL|USA",)
    params = usa.cypher_params()
    params["dr"]["Supplier_cage"] = ["GBR"]  # type: ignore[index]  # each read gets a copy
    assert usa.cypher_params()["dr"]["Supplier_cage"] == ["@CUI_REL|USA"]  # type: ignore[index]
