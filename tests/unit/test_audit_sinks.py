"""Audit sinks that ship to systems operators run: syslog (RFC 5424 over UDP and TCP), and
several sinks at once. Each fails closed: a record that cannot be sent raises AuditError.

Local sockets stand in for the syslog receiver; a port nobody listens on for a dead one.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dibx import config
from dibx.neo4j_server import free_port
from dibx.services.audit import AllSinks, AuditError, FileSink, SyslogSink, sink_from

RECORD = {"event": "graphql_request", "request_id": "r-1", "status": 401, "token_id": None}
# <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG (RFC 5424 6)
RFC5424 = re.compile(
    r"<110>1 (?P<time>\S+) (?P<host>\S+) dibx (?P<pid>\d+) (?P<msgid>\S+) - (?P<msg>.*)",
    re.DOTALL,
)


@pytest.fixture
def udp_receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


def _parsed(message: bytes) -> dict[str, object]:
    match = RFC5424.fullmatch(message.decode("ascii"))
    assert match is not None, message
    assert match["msgid"] == "graphql_request"
    parsed: dict[str, object] = json.loads(match["msg"])
    return parsed


def test_syslog_over_udp_sends_one_rfc5424_message_per_record(
    udp_receiver: socket.socket,
) -> None:
    port = udp_receiver.getsockname()[1]
    sink = sink_from(f"syslog+udp://127.0.0.1:{port}")
    assert isinstance(sink, SyslogSink)
    sink.write(RECORD)
    sink.write({**RECORD, "request_id": "r-2"})
    first, _ = udp_receiver.recvfrom(65535)
    second, _ = udp_receiver.recvfrom(65535)
    assert _parsed(first) == RECORD
    assert _parsed(second)["request_id"] == "r-2"


def test_syslog_over_tcp_frames_records_by_octet_count() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            while chunk := conn.recv(65535):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    sink = sink_from(f"syslog+tcp://127.0.0.1:{server.getsockname()[1]}")
    assert isinstance(sink, SyslogSink)
    sink.write(RECORD)
    sink.write({**RECORD, "request_id": "r-2"})
    sink.close()
    thread.join(10)
    server.close()
    frames, rest = [], bytes(received)
    while rest:  # RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG
        length, _, rest = rest.partition(b" ")
        frames.append(rest[: int(length)])
        rest = rest[int(length) :]
    assert [_parsed(f)["request_id"] for f in frames] == ["r-1", "r-2"]


def test_syslog_over_tcp_with_no_receiver_fails_closed() -> None:
    sink = sink_from(f"syslog+tcp://127.0.0.1:{free_port()}")
    with pytest.raises(AuditError, match="audit write to syslog failed"):
        sink.write(RECORD)


def test_syslog_over_udp_to_an_unresolvable_host_fails_closed() -> None:
    sink = sink_from("syslog+udp://no-such-host.invalid:514")
    with pytest.raises(AuditError, match="audit write to syslog failed"):
        sink.write(RECORD)


def test_several_sinks_each_take_the_record_and_any_failure_fails_closed(
    tmp_path: Path, udp_receiver: socket.socket
) -> None:
    port = udp_receiver.getsockname()[1]
    sink = sink_from(f"file:{tmp_path / 'audit.jsonl'},syslog+udp://127.0.0.1:{port}")
    assert isinstance(sink, AllSinks)
    sink.write(RECORD)
    assert json.loads((tmp_path / "audit.jsonl").read_text()) == RECORD
    assert _parsed(udp_receiver.recvfrom(65535)[0]) == RECORD
    dead = AllSinks(
        [FileSink(tmp_path / "again.jsonl"), sink_from(f"syslog+tcp://127.0.0.1:{free_port()}")]
    )
    with pytest.raises(AuditError):
        dead.write(RECORD)


def test_the_audit_goes_to_a_file_under_the_data_dir_by_default(tmp_path: Path) -> None:
    settings = config.load({"DIBX_DATA_DIR": str(tmp_path)})
    assert settings.audit_sink == f"file:{tmp_path / 'audit' / 'audit.jsonl'}"
    sink = sink_from(settings.audit_sink)
    assert isinstance(sink, FileSink)


@pytest.mark.parametrize(
    "spec",
    [
        "stdout",
        "syslog+tcp://siem.example:6514",
        "syslog+udp://[::1]",
        "file:/var/lib/dibx/audit.jsonl,syslog+tcp://siem.example:601",
    ],
)
def test_audit_sink_settings_that_are_accepted(spec: str) -> None:
    assert config.load({"DIBX_AUDIT_SINK": spec}).audit_sink == spec


# -- several processes, one file --------------------------------------------------------------


def _append(path: str, writer: int, count: int) -> None:
    """One worker's records: sizes from a few bytes to far past any write buffer."""
    sink = FileSink(Path(path))
    for i in range(count):
        sink.write({"writer": writer, "i": i, "pad": chr(97 + writer) * (1 + (i * 7919) % 300_000)})


def test_processes_appending_to_one_file_never_interleave(tmp_path: Path) -> None:
    """The workers of `dibx serve --workers N` share the audit file: every line must stay
    one whole record, however long, whatever the others write at the same time."""
    path = tmp_path / "audit.jsonl"
    writers, count = 4, 30
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_append, args=(str(path), w, count)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * writers
    seen: dict[int, list[int]] = {w: [] for w in range(writers)}
    for line in path.read_bytes().split(b"\n")[:-1]:
        record = json.loads(line)  # a torn or interleaved line does not parse
        assert set(record["pad"]) == {chr(97 + record["writer"])}
        seen[record["writer"]].append(record["i"])
    assert seen == {w: list(range(count)) for w in range(writers)}
