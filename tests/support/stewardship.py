"""Stewarded writes through the API: documents, tokens and helpers for the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dibx.schema.ids import encode_id
from tests.support.api import Api, Reply

WRITER = ("supplier:read", "data:write")
CATALOGUER = ("supplier:read", "catalogue:write")
BOTH = ("supplier:read", "data:write", "catalogue:write")
NOFORN = "CUI//NOFORN"
REL_GBR = "CUI//REL TO USA, GBR"

PAYLOAD = "changes { type id key kind version } userErrors { field code message currentVersion }"


def doc(op: str, input_type: str) -> str:
    return f"mutation M($input: {input_type}!) {{ {op}(input: $input) {{ {PAYLOAD} }} }}"


CREATE_SUPPLIER = doc("createSupplier", "CreateSupplierInput")
UPDATE_SUPPLIER = doc("updateSupplier", "UpdateSupplierInput")
RETIRE_SUPPLIER = doc("retireSupplier", "RetireSupplierInput")
CREATE_CAPABILITY = doc("createCapability", "CreateCapabilityInput")
UPDATE_CAPABILITY = doc("updateCapability", "UpdateCapabilityInput")
RETIRE_CAPABILITY = doc("retireCapability", "RetireCapabilityInput")
SET_PROVIDES = doc("setProvides", "SetProvidesInput")
REMOVE_PROVIDES = doc("removeProvides", "RemoveProvidesInput")
SET_SOURCES = doc("setSourcesFrom", "SetSourcesFromInput")
SET_OWNER = doc("setSubsidiaryOf", "SetSubsidiaryOfInput")
SET_REQUIRES = doc("setRequires", "SetRequiresInput")
APPLY = f"mutation M($input: [ChangeInput!]!) {{ applyChanges(input: $input) {{ {PAYLOAD} }} }}"
HISTORY = """
query H($id: ID!) { supplier(id: $id) { key history {
  kind version actorNation actorOrg reason marking previousMarking
  changes { field oldValue oldMarking newValue newMarking } } } }
"""
SUPPLIER = "query S($id: ID!) { supplier(id: $id) { key name employees city marking } }"


def policy_with_steward(tmp: Path, steward: str) -> dict[str, str]:
    """The environment of an `Api` whose policy is the shipped one with `[stewardship]
    steward` set to "nation" or "org"."""
    text = Api.shipped_policy().read_text()
    assert 'steward = "nation"' in text
    path = tmp / f"policy-{steward}.toml"
    path.write_text(text.replace('steward = "nation"', f'steward = "{steward}"'))
    return {"DIBX_POLICY_FILE": str(path)}


def sid(key: str) -> str:
    return encode_id("Supplier", key)


def cid(key: str) -> str:
    return encode_id("Capability", key)


def supplier_input(
    key: str = "acme",
    *,
    nation: str = "GBR",
    record: str = "CUI",
    name: str = "Acme Ltd",
    employees: int | None = 100,
    marking: str = "CUI",
    **fields: Any,
) -> dict[str, Any]:
    given: dict[str, Any] = {"name": {"value": name, "marking": marking}}
    if employees is not None:
        given["employees"] = {"value": employees, "marking": marking}
    given.update(fields)
    return {
        "key": key,
        "marking": record,
        "fields": given,
        "nation": {"key": nation, "marking": "CUI"},
    }


async def write(
    api: Api,
    document: str,
    input: Any,
    nation: str = "GBR",
    scopes: tuple[str, ...] = WRITER,
    **kw: Any,
) -> Reply:
    token = api.token(nation, scopes, **kw)
    return await api.query(document, {"input": input}, token=token)


def payload(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    data = reply.data
    assert isinstance(data, dict)
    assert len(data) == 1
    return dict(next(iter(data.values())))


async def created(api: Api, input: dict[str, Any], nation: str = "GBR") -> dict[str, Any]:
    out = payload(await write(api, CREATE_SUPPLIER, input, nation))
    assert out["userErrors"] == [], out
    return dict(out["changes"][0])


async def state_count(api: Api) -> int:
    rows = await api.graph.read(
        "MATCH (s) WHERE any(l IN labels(s) WHERE l ENDS WITH 'State') RETURN count(s) AS n"
    )
    return int(rows[0]["n"])
