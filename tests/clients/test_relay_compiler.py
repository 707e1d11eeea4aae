"""relay-compiler accepts the schema dibx serves, with @connection and @refetchable documents.

Runs `tests/clients/relay/check.sh` (relay-compiler from the npm lock file, against the SDL
of `dibx schema`); skipped only where npm is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHECK = Path(__file__).parent / "relay" / "check.sh"


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_relay_compiler_accepts_connections_and_refetchable_fragments() -> None:
    done = subprocess.run(  # noqa: S603 - fixed argv
        ["/bin/sh", str(CHECK)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Compilation completed" in done.stdout + done.stderr
