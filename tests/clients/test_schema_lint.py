"""graphql-schema-linter (npm, pinned in tests/clients/schema-lint/) over the exported SDL.

Installed by `npm ci` from its lock file; skipped only where npm is missing. Rules it is told
to skip are listed, with the reason, in schema-lint/graphql-schema-linter.config.js.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dibx.cli import main

LINT = Path(__file__).resolve().parent / "schema-lint"


def _installed() -> None:
    marker = LINT / "node_modules" / ".package-lock.json"
    lock = LINT / "package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],  # noqa: S607 - npm from PATH
        cwd=LINT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm ci failed:\n{done.stdout}\n{done.stderr}")


def test_exported_schema_passes_graphql_schema_linter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is missing (apt-get install nodejs npm)")
    _installed()
    assert main(["schema"]) == 0
    sdl = tmp_path / "dibx.graphql"
    sdl.write_text(capsys.readouterr().out)
    done = subprocess.run(  # noqa: S603 - the pinned linter on a file we wrote
        [str(LINT / "node_modules" / ".bin" / "graphql-schema-linter"), str(sdl)],
        cwd=LINT,  # where its configuration is found
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
