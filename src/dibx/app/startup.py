"""What is checked before anything starts: policy, audit sink and keys, after the settings.

`dibx serve` runs `preflight` before it starts the embedded Neo4j, so a bad policy or an
unwritable audit sink stops the command with a message and leaves nothing running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dibx import config
from dibx.auth import policy as policy_module
from dibx.auth.dev_issuer import DevIssuer
from dibx.auth.tokens import KeyProvider, KeySet, RemoteKeySet
from dibx.graph import model, records
from dibx.services import audit, datasets

# Properties the loaders write for each type besides the fields the model exposes (e.g.
# `Agreement.source`, `MEMBER_OF.precision`): the policy may give them defaults too.
_LOADED: dict[str, tuple[tuple[str, str], ...]] = {
    "Nation": records.NationRecord.PROPERTIES,
    "Agreement": records.AgreementRecord.PROPERTIES,
    "MEMBER_OF": records.MembershipRecord.PROPERTIES,
    "Supplier": records.SupplierRecord.PROPERTIES,
    "Capability": records.CapabilityRecord.PROPERTIES,
    "REQUIRES": records.RequiresRecord.PROPERTIES,
    "PROVIDES": records.ProvidesRecord.PROPERTIES,
    "SOURCES_FROM": records.SourcesFromRecord.PROPERTIES,
    "SUBSIDIARY_OF": records.SubsidiaryRecord.PROPERTIES,
}


@dataclass(frozen=True, slots=True)
class Checked:
    policy: policy_module.Policy
    issuer: DevIssuer | None
    keys: KeyProvider


def vocabulary(reference_dir: Path) -> policy_module.Vocabulary:
    """Types and fields of the graph model (plus what loaders write), agreements of the
    reference data: what policy keys and groups may name."""
    fields: dict[str, set[str]] = {t.name: set(t.names) for t in model.TYPES.values()}
    for rel, names in model.EDGE_FIELDS.items():
        fields.setdefault(rel, set()).update(names)
    for name, properties in _LOADED.items():
        fields.setdefault(name, set()).update(prop for prop, _ in properties)
    reference = datasets.load_reference(reference_dir)
    if reference.rejected:
        raise config.ConfigError(f"reference data rejected: {reference.rejected[0]}")
    return policy_module.Vocabulary(
        fields={name: frozenset(names) for name, names in fields.items()},
        agreements=frozenset(a.code for a in reference.dataset.agreements),
    )


def preflight(settings: config.Settings) -> Checked:
    """Load and check everything the service needs from files; raise ConfigError if any is
    wrong. Starts nothing and opens no connection."""
    try:
        loaded = policy_module.load(settings.policy_file, vocabulary(settings.reference_dir))
    except policy_module.PolicyError as exc:
        raise config.ConfigError(f"policy {settings.policy_file}: {exc}") from None
    try:
        audit.check_writable(settings.audit_sink)
    except audit.AuditError as exc:
        raise config.ConfigError(f"DIBX_AUDIT_SINK: {exc}") from None
    try:
        issuer = (
            DevIssuer.from_path(settings.keys_file, settings.issuer, settings.audience)
            if settings.dev_issuer
            else None
        )
    except (OSError, ValueError) as exc:
        raise config.ConfigError(f"development keys {settings.keys_file}: {exc}") from None
    keys: KeyProvider
    if settings.jwks_url:
        keys = RemoteKeySet(settings.jwks_url)
    elif issuer is not None:
        keys = KeySet.from_dict(issuer.public_jwks())
    else:
        raise config.ConfigError("set DIBX_JWKS_URL, or enable the development issuer")
    return Checked(policy=loaded, issuer=issuer, keys=keys)
