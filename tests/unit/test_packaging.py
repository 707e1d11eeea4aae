"""The package carries everything it needs, and the lock file agrees with pyproject's pins."""

from __future__ import annotations

import re
import tomllib
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
