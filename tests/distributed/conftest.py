"""Fixtures for cluster tests: leak checks and test functions shipped by value."""

import os
import threading

import psutil
import pytest


def _children() -> set:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _shoal_threads() -> set:
    return {t.name for t in threading.enumerate() if t.name.startswith("shoal")}


@pytest.fixture
def no_leaks():
    """Fail if a test leaves child processes, shoal threads or open sockets behind."""
    before_children = _children()
    before_threads = _shoal_threads()
    proc = psutil.Process()
    before_fds = proc.num_fds()
    yield
    deadline = 5.0
    import time

    start = time.monotonic()
    while time.monotonic() - start < deadline:
        extra_children = _children() - before_children
        extra_threads = _shoal_threads() - before_threads
        if not extra_children and not extra_threads:
            break
        time.sleep(0.05)
    assert not extra_children, f"child processes left: {extra_children}"
    assert not extra_threads, f"threads left: {extra_threads}"
    # sockets may take a moment to be collected; allow a small slack
    assert proc.num_fds() <= before_fds + 2, (
        before_fds,
        proc.num_fds(),
        os.listdir("/proc/self/fd"),
    )
