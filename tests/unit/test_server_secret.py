"""The server secret file: created once (private), read back the same, refused if weak."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dibx import config
from dibx.auth.server_secret import MIN_BYTES, load_or_create


def test_the_key_is_created_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "challenger-hmac.key"
    key = load_or_create(path)
    assert len(key) == MIN_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create(path) == key


@pytest.mark.parametrize(("text", "message"), [("zz", "hex-encoded"), ("00" * 8, "at least 32")])
def test_a_malformed_or_short_key_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "k"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_or_create(path)


def test_the_key_file_is_a_setting(tmp_path: Path) -> None:
    default = config.load({"DIBX_DATA_DIR": str(tmp_path)})
    assert default.challenge_key_file == tmp_path / "dev-keys" / "challenger-hmac.key"
    chosen = config.load({"DIBX_CHALLENGE_KEY_FILE": str(tmp_path / "shared.key")})
    assert chosen.challenge_key_file == tmp_path / "shared.key"
