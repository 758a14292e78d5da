"""Valkey in container mode, run for real.

The container runs ``sh -c "exec valkey-server <server_args>"`` (components/cloud/cache.py); here the
same shell line starts Debian's ``redis-server`` (Valkey's parent, same arguments and protocol)
on a free loopback port, with the password in the environment as the container has it. Only
``--port``/``--bind``/``--dir`` are added. Everything is checked over the wire (RESP).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.cloud.cache import BROKER_POLICY, ValkeyArgs, server_args
from tests import realprog
from tests.conftest import STACKS, recorded

# Spaces, quotes and a "$": the shell line must hand it to the server as one word, unexpanded.
PASSWORD = 'pw with spaces "quoted" $HOME'
MEMORY_MB = next(f.default for f in dataclasses.fields(ValkeyArgs) if f.name == "memory_mb")
_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def _command(redis_server: str, port: int, directory: Path) -> str:
    """The component's shell line, valkey-server swapped for redis-server, plus test-only placement."""
    line = "exec valkey-server " + " ".join(server_args(MEMORY_MB))
    assert line.count("exec valkey-server ") == 1
    line = line.replace("exec valkey-server ", f"exec {redis_server} ")
    return f"{line} --port {port} --bind {realprog.LOOPBACK} --dir {directory}"


@dataclasses.dataclass
class Valkey:
    port: int
    directory: Path
    command: str
    log: Path


@contextlib.contextmanager
def _started(server: Valkey) -> Iterator[subprocess.Popen]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VALKEY_PASSWORD": PASSWORD}
    with realprog.server(["sh", "-c", server.command], server.port, server.log, env=env, cwd=server.directory) as proc:
        yield proc


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Valkey]:
    redis_server = realprog.require("redis-server", "redis-server")
    directory = tmp_path_factory.mktemp("valkey")
    port = realprog.free_port()
    server = Valkey(port, directory, _command(redis_server, port, directory), directory / "server.log")
    with _started(server):
        yield server


class Resp:
    """A minimal RESP2 client on one connection; errors come back as ``RespError`` values."""

    def __init__(self, port: int):
        self.sock = socket.create_connection((realprog.LOOPBACK, port), timeout=5)
        self.file = self.sock.makefile("rb")

    def __call__(self, *args: str | bytes | int) -> object:
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.sock.sendall(b"".join([f"*{len(parts)}\r\n".encode()] + [b"$%d\r\n%s\r\n" % (len(p), p) for p in parts]))
        return self._read()

    def _read(self) -> object:
        line = self.file.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2].decode()
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise AssertionError(f"not RESP: {line!r}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class RespError(str):
    pass


@pytest.fixture
def client(valkey: Valkey) -> Iterator[Resp]:
    conn = Resp(valkey.port)
    yield conn
    conn.close()


def _authed(client: Resp) -> Resp:
    assert client("AUTH", PASSWORD) == "OK"
    return client


def _config(client: Resp, name: str) -> str:
    reply = _authed(client)("CONFIG", "GET", name)
    assert isinstance(reply, list) and reply[0] == name, reply
    return reply[1]


def _arg(name: str) -> str:
    args = server_args(MEMORY_MB)
    return args[args.index(name) + 1]


# ---------------------------------------------------------------------------- the command


@pytest.mark.parametrize("stack", STACKS)
def test_container_runs_exactly_server_args(stack: str) -> None:
    """What the tests below start is what each stack deploys (for its container memory)."""
    run = recorded(stack)
    containers = [
        r
        for r in run.of_type("docker:index/container:Container")
        if any("valkey-server" in part for part in r.inputs.get("command") or [])
    ]
    assert len(containers) == (1 if run.cfg.valkey.mode == "container" else 0)
    for container in containers:
        assert container.inputs["entrypoints"] == ["sh", "-c"]
        expected = "exec valkey-server " + " ".join(server_args(container.inputs["memory"]))
        assert container.inputs["command"] == [expected]


# ------------------------------------------------------------------------------ behaviour


def test_unauthenticated_commands_are_refused(client: Resp) -> None:
    for command in (("PING",), ("GET", "k"), ("SET", "k", "v"), ("CONFIG", "GET", "requirepass")):
        reply = client(*command)
        assert isinstance(reply, RespError) and reply.startswith("NOAUTH"), (command, reply)


def test_wrong_password_is_refused(client: Resp) -> None:
    reply = client("AUTH", "not-" + PASSWORD)
    assert isinstance(reply, RespError) and reply.startswith("WRONGPASS"), reply
    assert client("PING").startswith("NOAUTH")


def test_password_from_the_environment_works(client: Resp) -> None:
    """The whole env value is the password: the shell neither split nor expanded it."""
    assert client("AUTH", PASSWORD) == "OK"
    assert client("PING") == "PONG"
    assert client("SET", "k", "v") == "OK" and client("GET", "k") == "v"


def test_the_urls_user_default_authenticates(client: Resp) -> None:
    # broker_url and cache_url are redis://default:<password>@...
    assert client("AUTH", "default", PASSWORD) == "OK"
    assert client("SELECT", 1) == "OK"  # cache_url's database


def test_password_is_not_on_the_command_line(valkey: Valkey) -> None:
    assert PASSWORD not in valkey.command
    assert '"$VALKEY_PASSWORD"' in valkey.command


def test_broker_never_evicts(client: Resp) -> None:
    assert BROKER_POLICY == "noeviction"
    assert _config(client, "maxmemory-policy") == "noeviction"


def test_append_only_persistence_is_on(client: Resp) -> None:
    assert _config(client, "appendonly") == "yes"
    info = client("INFO", "persistence")
    assert "aof_enabled:1" in info.split(), info


def test_maxmemory_is_what_the_arguments_say_and_below_the_container_limit(client: Resp) -> None:
    value = _arg("--maxmemory").lower()
    number = value.rstrip("kmgb")
    expected = int(number) * _UNITS[value[len(number) :] or "b"]
    assert int(_config(client, "maxmemory")) == expected
    # Above the container's limit the kernel would kill the server before it refused a write.
    assert 0 < expected < MEMORY_MB * 1024**2


def test_full_broker_refuses_writes_and_keeps_every_key(client: Resp) -> None:
    """noeviction in action: past maxmemory a write is refused (OOM) and nothing is dropped.
    maxmemory is lowered for this test only, so it does not need to fill the real limit."""
    _authed(client)
    original = client("CONFIG", "GET", "maxmemory")[1]
    assert client("SELECT", 2) == "OK"
    try:
        used = int(next(line for line in client("INFO", "memory").split() if line.startswith("used_memory:"))[12:])
        assert client("CONFIG", "SET", "maxmemory", used + 2 * 1024**2) == "OK"
        value, written, refused = "x" * 65536, 0, None
        for i in range(200):  # 12.5 MB at most; the limit is 2 MB above what is used now
            reply = client("SET", f"fill:{i}", value)
            if isinstance(reply, RespError):
                refused = reply
                break
            written += 1
        assert refused is not None and refused.startswith("OOM"), refused
        assert client("DBSIZE") == written  # nothing evicted
        assert client("GET", "fill:0") == value
    finally:
        client("CONFIG", "SET", "maxmemory", original)
        client("FLUSHDB")


def test_a_write_survives_a_restart_through_the_append_only_file(tmp_path: Path) -> None:
    """SHUTDOWN NOSAVE writes no RDB snapshot: what a restarted server (same arguments, same
    directory) still has came from the append-only file. A server of its own, so the module's
    server keeps running."""
    redis_server = realprog.require("redis-server", "redis-server")
    port = realprog.free_port()
    server = Valkey(port, tmp_path, _command(redis_server, port, tmp_path), tmp_path / "server.log")
    with _started(server) as proc:
        conn = Resp(port)
        assert _authed(conn)("SET", "durable", "yes") == "OK"
        with contextlib.suppress(ConnectionError, OSError):
            conn("SHUTDOWN", "NOSAVE")
        conn.close()
        proc.wait(timeout=10)
    assert not list(tmp_path.glob("*.rdb"))
    with _started(server):
        conn = Resp(port)
        try:
            # The port opens before the AOF is loaded; the server answers LOADING until then.
            deadline = time.monotonic() + 10
            while str(reply := _authed(conn)("GET", "durable")).startswith("LOADING") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert reply == "yes"
        finally:
            conn.close()


# ---------------------------------------------------------------------------- the healthcheck


def _healthcheck_line() -> str:
    """The shell line docker runs in dev's Valkey container to decide it is healthy (what
    `wait=True` waits for)."""
    (container,) = [
        c for c in recorded("dev").of_type("docker:index/container:Container") if c.name.endswith("-valkey-container")
    ]
    kind, line = container.inputs["healthcheck"]["tests"]
    assert kind == "CMD-SHELL"
    return line


def _check(valkey: Valkey, tmp_path: Path, password: str) -> subprocess.CompletedProcess[str]:
    """The healthcheck as docker runs it inside the container: `valkey-cli` on PATH (here a
    wrapper around Debian's redis-cli, pointed at the test server's port), the container's
    environment."""
    redis_cli = realprog.require("redis-cli", "redis-tools")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "valkey-cli"
    wrapper.write_text(f'#!/bin/sh\nexec {redis_cli} -h {realprog.LOOPBACK} -p {valkey.port} "$@"\n')
    wrapper.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "VALKEY_PASSWORD": password}
    return realprog.run(["sh", "-c", _healthcheck_line()], timeout=10, env=env)


def test_healthcheck_passes_on_the_running_server_with_its_password(valkey: Valkey, tmp_path: Path) -> None:
    result = _check(valkey, tmp_path, PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthcheck_fails_when_the_password_is_wrong_or_the_server_is_down(valkey: Valkey, tmp_path: Path) -> None:
    """A server that refuses the password is not healthy; neither is one that does not answer."""
    assert _check(valkey, tmp_path, "not-" + PASSWORD).returncode != 0
    down = Valkey(realprog.free_port(), valkey.directory, valkey.command, valkey.log)
    assert _check(down, tmp_path, PASSWORD).returncode != 0
