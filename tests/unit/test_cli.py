"""The `dibx` command: start-up checks run before anything starts; arguments are validated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dibx import cli, config, neo4j_server
from dibx import data as shipped
from dibx.app import startup
from dibx.auth.tokens import TokenValidator

GOOD_POLICY = shipped.policy_file()


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """Records any attempt to start the embedded Neo4j (and refuses it: none must happen)."""
    calls: list[Any] = []

    def start(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        raise neo4j_server.Neo4jServerError("the test refuses to start Neo4j")

    monkeypatch.setattr(neo4j_server, "start", start)
    for name in ("DIBX_NEO4J_URI", "DIBX_POLICY_FILE", "DIBX_AUDIT_SINK", "DIBX_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DIBX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DIBX_NEO4J_PORT", str(neo4j_server.free_port()))
    return calls


def _policy(tmp_path: Path, replace: tuple[str, str]) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(GOOD_POLICY.read_text().replace(*replace))
    return path


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIBX_POLICY_FILE": "{tmp}/missing.toml"}, "policy file not found"),
        ({"DIBX_AUDIT_SINK": "file:{tmp}"}, "is a directory"),
    ],
)
def test_serve_checks_files_before_starting_neo4j(
    started: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    code = cli.main(["serve"])
    assert started == []
    assert code == 2
    assert message in capsys.readouterr().err


def test_serve_with_a_policy_typo_starts_nothing(
    started: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = _policy(tmp_path, ("[defaults]\n", '[defaults]\nSupplier_nmae = "CUI"\n'))
    monkeypatch.setenv("DIBX_POLICY_FILE", str(bad))
    code = cli.main(["serve"])
    assert started == []
    assert code == 2
    assert "defaults.Supplier_nmae: Supplier has no field 'nmae'" in capsys.readouterr().err


def test_policy_check_rejects_an_unknown_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _policy(tmp_path, ('groups = ["FVEY"]', 'groups = ["FEVY"]'))
    monkeypatch.setenv("DIBX_POLICY_FILE", str(bad))
    assert cli.main(["policy-check"]) == 1
    assert "cui_release.groups: 'FEVY' is neither a nation code" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["-5", "0", "many"])
def test_seed_synthetic_needs_a_positive_count(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        cli.parser().parse_args(["seed", "--synthetic", value])
    assert excinfo.value.code == 2
    assert "argument --synthetic:" in capsys.readouterr().err


def test_start_banner_names_no_credentials() -> None:
    development = cli.banner(config.load({}))
    assert "secret" not in development
    assert "-u demo" not in development
    assert "dibx token" in development
    production = cli.banner(
        config.load(
            {
                "DIBX_ENV": "production",
                "DIBX_DEV_ISSUER": "false",
                "DIBX_JWKS_URL": "https://issuer.example/jwks",
            }
        )
    )
    assert production == "dibx is up: http://127.0.0.1:8000/graphql"


def test_token_prints_a_token_the_service_accepts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dibx token` creates the development keys under DIBX_DATA_DIR on first use; what it
    prints validates against the keys `dibx serve` publishes from the same directory."""
    for name in [k for k in os.environ if k.startswith("DIBX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DIBX_DATA_DIR", str(tmp_path / "var"))
    argv = ["token", "--nation", "gbr", "--scope", "supplier:read data:write", "--org", "gbr-mod"]
    assert cli.main(argv) == 0
    token = capsys.readouterr().out.strip()
    settings = config.load()
    keys = startup.preflight(settings).keys
    principal = TokenValidator(settings.issuer, settings.audience, keys).validate(token)
    assert principal.nation == "GBR"
    assert principal.scopes == {"supplier:read", "data:write"}
    assert principal.org == "gbr-mod"
    assert principal.subject == "cli-gbr"


def test_one_shot_commands_log_to_stderr_not_into_their_output() -> None:
    # `dibx import` printed a retried transaction's warning on stdout, where its report is
    # (and `dibx export`'s data): a pipe reading either got a log line instead. In its own
    # process: loggers bound while the command runs keep the stream they were given.
    script = (
        "import structlog; from dibx import cli; assert cli.main(['schema']) == 0; "
        "structlog.get_logger('dibx.graph').warning('write transaction retried', code='X')"
    )
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "type Query" in done.stdout
    assert "write transaction retried" not in done.stdout
    assert "write transaction retried" in done.stderr
