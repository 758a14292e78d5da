"""Shared, cached recordings: the SDK import and each stack's run happen once per session.

A recording made by one test process is also read back by the other (pytest-xdist runs two):
it is pickled into the session's own temporary directory (_shared).

"Once per session", not once per process: mutmut (`make mutate`) runs the whole suite once
in its own process to learn which tests reach which function (MUTANT_UNDER_TEST=stats),
then forks one child per mutant and runs pytest again there on those tests. Two traps:

- a cache filled in the parent would hand every mutant the unmutated recording, and every
  mutant would survive: the cache is emptied when a session starts and is keyed on the
  mutant under test as well;
- in the stats run, a cached recording would credit the program's functions to the first
  test that recorded the stack only, and a mutant would be tested by that one test: the
  stats run records afresh for every call, so each test is credited with what it reads.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest

from testing import harness

STACKS = tuple(harness.stack_files())

# A recording allocates hundreds of thousands of short-lived asyncio tasks, futures and
# Outputs; with the default thresholds (700, 10, 10) the cyclic collector runs thousands of
# times per recording and walks every long-lived object (the SDKs' modules and schemas) on
# each full pass. Moving what is loaded now out of its sight and collecting young objects
# less often cut the suite's CPU time from about 116 s to 96 s (make test: 68 s -> 59 s wall on
# the idle 2-core machine, 2026-12-07); nothing a test asserts depends on when cycles are freed.
gc.freeze()
gc.set_threshold(50_000, 20, 20)
# mutmut's name for the active mutant, in the environment of the child that tests it.
MUTANT_ENV = "MUTANT_UNDER_TEST"

if MUTANT_ENV in os.environ:
    # Under `make mutate` a fork server imports this file once and forks a child per mutant:
    # the program's modules and the provider SDKs they import (about 4.5 s, see the README's
    # bench) are imported here, once, rather than in every child. Importing records nothing,
    # and the mutated functions pick the active mutant at call time.
    import importlib
    import pkgutil

    import components

    for _module in pkgutil.walk_packages(components.__path__, "components."):
        importlib.import_module(_module.name)


# Where this session's recordings are shared between its test processes (pytest-xdist runs
# two, and a file's recordings are often another file's too): set once the session starts.
_shared_dir: Path | None = None


def _shared(key: tuple, make) -> harness.Run:
    """`make()`, or the recording another process of this session made for the same `key`
    (a successful run only; a failing one raises in each). Mutants never share: each child
    tests its own mutant."""
    if _shared_dir is None or os.environ.get(MUTANT_ENV):
        return make()
    path = _shared_dir / (hashlib.sha256(repr(key).encode()).hexdigest() + ".pickle")
    with contextlib.suppress(FileNotFoundError):
        return pickle.loads(path.read_bytes())
    run = make()
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(pickle.dumps(run))
    partial.replace(path)  # atomic: the other process reads a whole recording or none
    return run


@functools.cache
def _recording(stack: str, preview: bool, mutant: str) -> harness.Run:
    return _shared((stack, preview), lambda: harness.run(stack, preview=preview))


def recorded(stack: str, preview: bool = False) -> harness.Run:
    """The recording of `stack` (normal or preview mode), made at most once per session and mutant."""
    mutant = os.environ.get(MUTANT_ENV, "")
    if mutant == "stats":
        return harness.run(stack, preview=bool(preview))
    return _recording(stack, bool(preview), mutant)


@functools.cache
def _recording_with(stack: str, overrides: str, preview: bool, secrets: str, mutant: str) -> harness.Run:
    return _shared(
        (stack, overrides, preview, secrets),
        lambda: harness.run(stack, json.loads(overrides), preview=preview, secrets=json.loads(secrets) or None),
    )


def recorded_with(
    stack: str, overrides: dict, preview: bool = False, secrets: dict[str, str] | None = None
) -> harness.Run:
    """A recording of `stack` with config `overrides` (harness.run), made at most once per
    session and mutant for the same overrides, whichever test file asks first."""
    mutant = os.environ.get(MUTANT_ENV, "")
    if mutant == "stats":
        return harness.run(stack, overrides, preview=bool(preview), secrets=secrets)
    key = json.dumps(overrides, sort_keys=True)
    return _recording_with(stack, key, bool(preview), json.dumps(secrets or {}, sort_keys=True), mutant)


@pytest.fixture(scope="session", autouse=True)
def _fresh_recordings(tmp_path_factory: pytest.TempPathFactory):
    """Nothing recorded by an earlier session in this process reaches this one; this session's
    processes share their recordings in its own temporary directory (under xdist, the parent
    of each worker's, which is new for every session)."""
    global _shared_dir
    _recording.cache_clear()
    _recording_with.cache_clear()
    base = tmp_path_factory.getbasetemp()
    _shared_dir = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "recordings"
    _shared_dir.mkdir(exist_ok=True)
    yield
    _shared_dir = None


@pytest.fixture(params=STACKS)
def run(request) -> harness.Run:
    """Each stack's recording, normal mode."""
    return recorded(request.param)


@pytest.fixture(
    params=[(s, p) for s in STACKS for p in (False, True)], ids=lambda sp: f"{sp[0]}-{'preview' if sp[1] else 'up'}"
)
def any_run(request) -> harness.Run:
    """Each stack's recording, in normal and in preview mode."""
    return recorded(*request.param)


@pytest.fixture(scope="session")
def origin_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed P-256 pair standing in for the Cloudflare origin certificate."""
    from tests import realprog

    directory = tmp_path_factory.mktemp("certs")
    return realprog.throwaway_cert(directory / "origin.pem", directory / "origin.key", "origin")
