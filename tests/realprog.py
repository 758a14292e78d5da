"""Real servers for the behaviour tests: found, started on a free loopback port, stopped.

Every server listens on 127.0.0.1 only, every wait is bounded, and every process started
here is stopped by the fixture that started it. A missing program skips the test with the
reason (and fails it under CI, whose .ci/run installs them all from Debian).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from testing import harness

LOOPBACK = "127.0.0.1"
# Where Debian keeps binaries that are not on a normal user's PATH.
_EXTRA_DIRS = ("/usr/sbin", "/sbin", *sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin")), reverse=True))


def find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_EXTRA_DIRS))


def require(name: str, package: str) -> str:
    """The path of `name`; skip (fail under CI) naming the Debian package when it is absent."""
    path = find(name)
    if path is None:
        message = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def stack_cfg(stack: str):
    """The parsed config of `stack` exactly as harness.Run.cfg gives it, without running the
    program: for parametrizing at collection time. Fixtures use the recorded run's cfg."""
    return harness.parsed_config(stack)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def run(cmd: Sequence[str], timeout: float = 30, **kwargs) -> subprocess.CompletedProcess[str]:
    """A bounded command; the caller checks returncode (stderr is in the result)."""
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def throwaway_cert(cert: Path, key: Path, common_name: str) -> tuple[Path, Path]:
    """A self-signed P-256 certificate and key, valid one day, written to `cert` and `key`
    (what the origin certificate or a TLS server is in the tests)."""
    openssl = require("openssl", "openssl")
    result = run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", f"/CN={common_name}", "-keyout", str(key), "-out", str(cert)],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cert, key


def unprivileged(user: str = "postgres") -> dict[str, object]:
    """subprocess keyword arguments that drop root to `user` (PostgreSQL refuses to run as
    root); none when not root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        pytest.skip(f"running as root and there is no {user!r} user to run the server as")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


@contextlib.contextmanager
def shared_tempdir(owner: str | None = None) -> Iterator[Path]:
    """A temp dir other local users can traverse (pytest's tmp_path is 0700 under root),
    optionally owned by `owner`; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="webstack-real-"))
    try:
        path.chmod(0o755)
        if owner and os.geteuid() == 0:
            shutil.chown(path, owner, owner)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    """Return once 127.0.0.1:`port` accepts; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before listening:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.02)
    pytest.fail(f"server not listening on {LOOPBACK}:{port} after {timeout} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def server(
    cmd: Sequence[str], port: int, log: Path, stop_signal: int = signal.SIGTERM, **popen
) -> Iterator[subprocess.Popen]:
    """Start `cmd` (a foreground server), wait for `port`, and stop it (`stop_signal`, then KILL)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **popen)
    try:
        wait_for_port(port, proc, log)
        yield proc
    finally:
        stop(proc, stop_signal)


def stop(proc: subprocess.Popen, stop_signal: int = signal.SIGTERM, timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.send_signal(stop_signal)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
