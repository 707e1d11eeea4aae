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
from dibx.graph import model
from dibx.ingest.reference import load_reference
from dibx.services import audit


@dataclass(frozen=True, slots=True)
class Checked:
    policy: policy_module.Policy
    issuer: DevIssuer | None
    keys: KeyProvider


def vocabulary(
    reference_dir: Path, graph_model: model.Model = model.MODEL
) -> policy_module.Vocabulary:
    """Types and fields of the graph model with their default markings, agreements of the
    reference data: what policy keys and groups may name, and what the policy overrides."""
    fields = {t.name: frozenset(t.names) for t in graph_model.nodes.values()}
    fields |= {e.rel: frozenset(e.names) for e in graph_model.edges.values()}
    reference = load_reference(reference_dir)
    if reference.rejected:
        raise config.ConfigError(f"reference data rejected: {reference.rejected[0]}")
    return policy_module.Vocabulary(
        fields=fields,
        agreements=frozenset(a.key for a in reference.dataset.nodes_of(model.AGREEMENT.name)),
        defaults=graph_model.defaults(),
    )


def preflight(settings: config.Settings, graph_model: model.Model = model.MODEL) -> Checked:
    """Load and check everything the service needs from files; raise ConfigError if any is
    wrong. Starts nothing and opens no connection. The policy's defaults start from
    `graph_model`'s, so a field added to the model has its default marking in force."""
    try:
        loaded = policy_module.load(
            settings.policy_file, vocabulary(settings.reference_dir, graph_model)
        )
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
