"""The package carries everything it needs, and the lock file agrees with pyproject's pins."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from dibx import data as shipped
from dibx.config import PROJECT_ROOT
from dibx.graph import migrations

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def _lock_pins(name: str) -> dict[str, str]:
    lines = (PROJECT_ROOT / name).read_text().splitlines()
    pins = {}
    for line in lines:
        match = PIN.match(line)
        if match:
            pins[_norm(match[1])] = match[2]
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _stale(lock: str, wanted: list[str]) -> list[str]:
    pins = _lock_pins(lock)
    stale = []
    for requirement in wanted:
        match = PIN.match(requirement)
        assert match, f"{requirement!r} is not pinned with =="
        if pins.get(_norm(match[1])) != match[2]:
            stale.append(f"{match[1]}=={match[2]} (lock: {pins.get(_norm(match[1]))})")
    return stale


def test_locks_hold_every_pyproject_pin_at_its_version() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    runtime = project["project"]["dependencies"]
    dev = project["dependency-groups"]["dev"]
    assert _stale("requirements.lock", runtime) == [], "run `make lock`"
    assert _stale("requirements-dev.lock", [*runtime, *dev]) == [], "run `make lock`"
    # The runtime lock holds no dev tool: what a deployment installs is what the service needs.
    assert not {_norm(PIN.match(d)[1]) for d in dev if PIN.match(d)} & set(  # type: ignore[index]
        _lock_pins("requirements.lock")
    )


def test_lock_pins_carry_hashes() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (PROJECT_ROOT / lock).read_text())
        pinned = [b for b in blocks if PIN.match(b)]
        assert pinned
        assert all("--hash=sha256:" in b for b in pinned), lock


def test_shipped_files_are_found_inside_the_package() -> None:
    package = Path(shipped.__file__).resolve().parent
    for path in (
        shipped.policy_file(),
        shipped.reference_dir() / "reference" / "agreements.csv",
        shipped.reference_dir() / "reference" / "memberships.csv",
        shipped.reference_dir() / "demo" / "suppliers.yaml",
        shipped.neo4j_module() / "pom.xml",
    ):
        assert path.is_file(), path
        assert path.absolute().is_relative_to(package)
    assert migrations.available()


# A runtime pin imported by no module of src/, with the reason it stays anyway.
IMPORTED_BY_NAME_ONLY = {
    # The neo4j driver loads its Rust packstream codec when this is installed.
    "neo4j-rust-ext": "used by the neo4j driver, never imported",
    # uvicorn serves WebSockets (the graphql-transport-ws subscriptions) only when installed.
    "websockets": "uvicorn's WebSocket protocol, never imported by src/",
}


def _imported_distributions() -> set[str]:
    """Distributions of every top-level module that a module of src/dibx imports."""
    modules: set[str] = set()
    for path in (PROJECT_ROOT / "src" / "dibx").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    owners = packages_distributions()
    return {_norm(dist) for module in modules for dist in owners.get(module, ())}


def test_every_runtime_pin_is_imported() -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    matches = [PIN.match(r) for r in project["project"]["dependencies"]]
    pinned = {_norm(m[1]) for m in matches if m}
    unused = pinned - _imported_distributions() - set(IMPORTED_BY_NAME_ONLY)
    assert unused == set(), f"pinned but imported nowhere in src/: {sorted(unused)}"
