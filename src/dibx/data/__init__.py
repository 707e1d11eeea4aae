"""Files that ship inside the package, found one way: policy, reference and demo data, and the
Maven module of the embedded Neo4j.

They live next to this module in a checkout and in an installed wheel alike, so a
non-editable `pip install` runs `dibx serve --demo` from any directory. Operators point
`DIBX_POLICY_FILE` / `DIBX_REFERENCE_DIR` elsewhere to use their own.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def policy_file() -> Path:
    """The shipped releasability policy."""
    return ROOT / "policy" / "releasability.toml"


def reference_dir() -> Path:
    """Holds `reference/` (agreements, memberships) and `demo/` (suppliers, capabilities)."""
    return ROOT


def neo4j_module() -> Path:
    """The Maven module (pom.xml, launcher source) that builds the embedded Neo4j server."""
    return ROOT / "neo4j"
