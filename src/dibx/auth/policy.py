"""The releasability policy: default markings, release determinations, honoured attributes.

Loaded from a versioned TOML file and validated whole at start; any error stops the service
(`PolicyError` names the key at fault). `Policy.scope_for` is the only maker of ReleaseScope.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dibx.auth import markings
from dibx.auth.principal import Principal
from dibx.auth.release import CUI_REL, ReleaseScope, _seal
from dibx.auth.tokens import is_nation_code

_KEY = re.compile(r"^[A-Za-z_]+$")
_ATTRIBUTES = frozenset({"FED", "FEDCON", "GOV", "DL", "EXPORT_AUTH"})
_ADJUDICATION_KEYS = frozenset({"default_designator", "orgs"})
_STEWARDSHIP_KEYS = frozenset({"scopes", "floors", "review_days", "steward", "catalogue_steward"})
_SCOPE = re.compile(r"^[a-z_]+:[a-z_]+$")
# Every section and the keys it may hold; `None` when its keys are names checked by the
# section's own rule (model types and fields, nation codes). A new section is one entry here
# plus its reading in `parse`; any key not listed is a typo and stops the service.
_SECTIONS: Mapping[str, frozenset[str] | None] = {
    "defaults": None,
    "cui_release": frozenset({"groups"}),
    "attributes": None,
    "disclosure": frozenset({"withheld", "conceal"}),
    "adjudication": None,  # checked by parse_adjudication
    "stewardship": None,  # checked by parse_stewardship
}
_TOP_LEVEL = frozenset({"version", *_SECTIONS})


class PolicyError(ValueError):
    """The policy file is missing or wrong; the message names the key at fault."""


@dataclass(frozen=True, slots=True)
class Adjudication:
    """Who decides marking challenges: the designating nation's listed orgs, nobody else.

    A record's designating nation is its stored originator nation; records without one (all
    of them until stewarded writes) are designated by `default_designator`. No section, no
    designator or no orgs for a nation: nobody adjudicates for it (deny by default).
    """

    default_designator: str | None = None
    orgs: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def may_decide(self, principal: Principal, designator: str | None) -> bool:
        """Whether the caller's nation is `designator` and its org adjudicates for it."""
        if designator is None or principal.nation != designator or principal.org is None:
            return False
        return principal.org in self.orgs.get(designator, frozenset())


@dataclass(frozen=True, slots=True)
class Stewardship:
    """Who writes what (`dibx.services.stewardship`): the scope each record or edge type
    needs (a type not listed is written by nobody), marking floors per `<Type>[_<field>]`
    (a written marking must be at least as restrictive), the review period a marking gets,
    whether a record is stewarded by its originator's nation or org, and the nation that
    stewards the capability catalogue (and seeded capabilities)."""

    scopes: Mapping[str, str] = field(default_factory=dict)
    floors: Mapping[str, markings.Marking] = field(default_factory=dict)
    review_days: int = 365
    steward: str = "nation"  # or "org"
    catalogue_steward: str | None = None

    def scope_for(self, type_name: str) -> str | None:
        return self.scopes.get(type_name)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What policy keys and groups may name, known outside `auth` (the graph model and the
    reference data): record and edge types with their marked fields, and agreement codes;
    and the model's default markings (`<Type>`, `<Type>_<field>`), which `[defaults]`
    overrides key by key."""

    fields: Mapping[str, frozenset[str]]
    agreements: frozenset[str]
    defaults: Mapping[str, str] = field(default_factory=dict)

    def check_default_key(self, key: str) -> None:
        for type_name, names in self.fields.items():
            if key == type_name:
                return
            if key.startswith(f"{type_name}_") and key.removeprefix(f"{type_name}_") in names:
                return
        owner = max((t for t in self.fields if key.startswith(f"{t}_")), key=len, default=None)
        if owner is None:
            known = ", ".join(sorted(self.fields))
            raise PolicyError(
                f"defaults.{key}: no record or edge type of that name; known: {known}"
            )
        known = ", ".join(sorted(self.fields[owner]))
        field_name = key.removeprefix(f"{owner}_")
        raise PolicyError(f"defaults.{key}: {owner} has no field {field_name!r}; known: {known}")

    def check_group(self, group: str, where: str) -> None:
        if group in markings.NATIONS or group in self.agreements or group in _ATTRIBUTES:
            return
        raise PolicyError(
            f"{where}: {group!r} is neither a nation code, a known agreement "
            f"({', '.join(sorted(self.agreements))}) nor an attribute"
        )


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    defaults: Mapping[str, markings.Marking]
    cui_release_groups: frozenset[str]
    attributes: Mapping[str, frozenset[str]]
    disclose_withheld: bool
    conceal: frozenset[str]
    adjudication: Adjudication = field(default_factory=Adjudication)
    stewardship: Stewardship = field(default_factory=Stewardship)
    # `defaults` as every scope carries them (release clauses, canonical marking text),
    # worked out once here rather than on every request: read-only, shared by all scopes.
    default_release: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    default_marking: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        release = {k: markings.release_clauses(m) for k, m in self.defaults.items()}
        marking = {k: str(m) for k, m in self.defaults.items()}
        object.__setattr__(self, "default_release", MappingProxyType(release))
        object.__setattr__(self, "default_marking", MappingProxyType(marking))

    def scope_for(
        self, principal: Principal, member_of: Iterable[str], as_of: date
    ) -> ReleaseScope:
        """The caller's groups: its nation, its nation's agreements on `as_of`, the policy's
        release determinations and the token attributes the policy honours for that nation."""
        agreements = frozenset(member_of)
        groups = {principal.nation, *agreements}
        if groups & self.cui_release_groups:
            groups.add(CUI_REL)
        honoured = self.attributes.get(principal.nation, frozenset())
        groups.update(f"@{a}" for a in principal.attributes if a in honoured)
        return ReleaseScope(
            nation=principal.nation,
            groups=frozenset(groups),
            as_of=as_of,
            policy_version=self.version,
            default_release=self.default_release,
            default_marking=self.default_marking,
            _seal=_seal(),
            member_of=agreements,
            cui_release_groups=self.cui_release_groups,
        )

    def discloses(self, marking: str) -> bool:
        return self.disclose_withheld and marking not in self.conceal


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise PolicyError(f"[{name}] must be a table")
    return value


def parse_adjudication(data: Mapping[str, Any]) -> Adjudication:
    """The [adjudication] section: `default_designator` (alpha-3) and `orgs` (alpha-3 -> org
    claims whose tokens adjudicate for that nation). Unknown keys are errors."""
    section = _table(data, "adjudication")
    unknown = set(section) - _ADJUDICATION_KEYS
    if unknown:
        raise PolicyError(
            f"adjudication: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_ADJUDICATION_KEYS))}"
        )
    designator = section.get("default_designator")
    if designator is not None and not is_nation_code(designator):
        raise PolicyError("adjudication.default_designator must be an ISO 3166-1 alpha-3 code")
    orgs_table = section.get("orgs", {})
    if not isinstance(orgs_table, dict):
        raise PolicyError("[adjudication.orgs] must be a table")
    orgs: dict[str, frozenset[str]] = {}
    for nation, names in orgs_table.items():
        if not is_nation_code(nation):
            raise PolicyError(f"adjudication.orgs.{nation}: not an ISO 3166-1 alpha-3 code")
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise PolicyError(f"adjudication.orgs.{nation}: expected a list of org names")
        orgs[nation] = frozenset(names)
    if designator is not None and designator not in orgs:
        raise PolicyError(
            f"adjudication.default_designator {designator} has no [adjudication.orgs] entry: "
            "nobody could decide its challenges"
        )
    return Adjudication(default_designator=designator, orgs=orgs)


def parse_stewardship(data: Mapping[str, Any], vocabulary: Vocabulary | None = None) -> Stewardship:
    """The [stewardship] section; unknown keys, types, fields and malformed markings stop it."""
    section = _table(data, "stewardship")
    unknown = set(section) - _STEWARDSHIP_KEYS
    if unknown:
        raise PolicyError(
            f"stewardship: unknown key(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_STEWARDSHIP_KEYS))}"
        )
    scopes_table = section.get("scopes", {})
    if not isinstance(scopes_table, dict):
        raise PolicyError("[stewardship.scopes] must be a table")
    scopes: dict[str, str] = {}
    for type_name, scope in scopes_table.items():
        if vocabulary is not None and type_name not in vocabulary.fields:
            raise PolicyError(
                f"stewardship.scopes.{type_name}: no record or edge type of that name"
            )
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise PolicyError(f"stewardship.scopes.{type_name}: expected a scope like data:write")
        scopes[type_name] = scope
    floors_table = section.get("floors", {})
    if not isinstance(floors_table, dict):
        raise PolicyError("[stewardship.floors] must be a table")
    floors: dict[str, markings.Marking] = {}
    for key, text in floors_table.items():
        if not _KEY.match(key):
            raise PolicyError(f"stewardship.floors.{key}: keys are <Type> or <Type>_<field>")
        if vocabulary is not None:
            try:
                vocabulary.check_default_key(key)
            except PolicyError as exc:
                raise PolicyError(str(exc).replace("defaults.", "stewardship.floors.")) from None
        if not isinstance(text, str):
            raise PolicyError(f"stewardship.floors.{key}: expected a marking string")
        try:
            floors[key] = markings.parse(text)
        except markings.MarkingError as exc:
            raise PolicyError(f"stewardship.floors.{key}: {exc}") from None
    days = section.get("review_days", 365)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise PolicyError("stewardship.review_days must be a whole number of days, 1-3660")
    steward = section.get("steward", "nation")
    if steward not in ("nation", "org"):
        raise PolicyError('stewardship.steward must be "nation" or "org"')
    catalogue = section.get("catalogue_steward")
    if catalogue is not None and not is_nation_code(catalogue):
        raise PolicyError("stewardship.catalogue_steward must be an ISO 3166-1 alpha-3 code")
    return Stewardship(
        scopes=scopes,
        floors=floors,
        review_days=days,
        steward=steward,
        catalogue_steward=catalogue,
    )


def _check_keys(data: Mapping[str, Any]) -> None:
    unknown = set(data) - _TOP_LEVEL
    if unknown:
        raise PolicyError(f"unknown policy section(s): {', '.join(sorted(unknown))}")
    for section, allowed in _SECTIONS.items():
        table = _table(data, section)
        extra = set(table) - allowed if allowed is not None else set()
        if extra:
            raise PolicyError(
                f"[{section}]: unknown key(s) {', '.join(sorted(extra))}; "
                f"known: {', '.join(sorted(allowed or ()))}"
            )


def parse(data: Mapping[str, Any], vocabulary: Vocabulary | None = None) -> Policy:
    """Validate the whole policy. With `vocabulary` (as the service starts it), default keys
    must name a type and field of the graph model and groups a nation, agreement or attribute,
    and `[defaults]` overrides the model's default markings (without one: only the file's)."""
    _check_keys(data)
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise PolicyError("`version` must be a non-empty string")

    defaults: dict[str, markings.Marking] = {}
    for key, text in (vocabulary.defaults if vocabulary is not None else {}).items():
        try:
            defaults[key] = markings.parse(text)
        except markings.MarkingError as exc:
            raise PolicyError(f"model default {key}: {exc}") from None
    for key, text in _table(data, "defaults").items():
        if not _KEY.match(key):
            raise PolicyError(f"defaults.{key}: keys are <Type> or <Type>_<field>")
        if vocabulary is not None:
            vocabulary.check_default_key(key)
        if not isinstance(text, str):
            raise PolicyError(f"defaults.{key}: expected a marking string")
        try:
            defaults[key] = markings.parse(text)
        except markings.MarkingError as exc:
            raise PolicyError(f"defaults.{key}: {exc}") from None

    groups = _table(data, "cui_release").get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise PolicyError("cui_release.groups must be a list of nation or agreement codes")
    if vocabulary is not None:
        for group in groups:
            vocabulary.check_group(group, "cui_release.groups")

    attributes: dict[str, frozenset[str]] = {}
    for nation, attrs in _table(data, "attributes").items():
        if nation not in markings.NATIONS:
            raise PolicyError(f"attributes.{nation}: not an ISO 3166-1 alpha-3 nation code")
        if not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs):
            raise PolicyError(f"attributes.{nation}: expected a list of attribute names")
        bad = set(attrs) - _ATTRIBUTES
        if bad:
            raise PolicyError(
                f"attributes.{nation}: unknown attribute(s) {', '.join(sorted(bad))}; "
                f"known: {', '.join(sorted(_ATTRIBUTES))}"
            )
        attributes[nation] = frozenset(attrs)

    disclosure = _table(data, "disclosure")
    withheld = disclosure.get("withheld", True)
    if not isinstance(withheld, bool):
        raise PolicyError("disclosure.withheld must be true or false")
    conceal = disclosure.get("conceal", [])
    if not isinstance(conceal, list):
        raise PolicyError("disclosure.conceal must be a list of markings")
    try:
        concealed = frozenset(markings.canonicalize(str(m)) for m in conceal)
    except markings.MarkingError as exc:
        raise PolicyError(f"disclosure.conceal: {exc}") from None

    return Policy(
        version=version,
        defaults=defaults,
        cui_release_groups=frozenset(groups),
        attributes=attributes,
        disclose_withheld=withheld,
        conceal=concealed,
        adjudication=parse_adjudication(data),
        stewardship=parse_stewardship(data, vocabulary),
    )


def load(path: Path, vocabulary: Vocabulary | None = None) -> Policy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {path.name} is not valid TOML: {exc}") from None
    return parse(data, vocabulary)
