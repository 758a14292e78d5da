"""Shared, cached recordings: the SDK import and each stack's run happen once per session."""

from __future__ import annotations

import functools

import pytest

from tools import harness

STACKS = tuple(harness.stack_files())


@functools.cache
def recorded(stack: str, preview: bool = False) -> harness.Run:
    return harness.run(stack, preview=preview)


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
