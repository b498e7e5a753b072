"""Fixtures for cluster tests: leak checks."""

import gc
import threading
import time

import psutil
import pytest


def _children() -> set:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _shoal_threads() -> set:
    return {t.name for t in threading.enumerate() if t.name.startswith("shoal")}


@pytest.fixture
def no_leaks():
    """Fail if a test leaves child processes, shoal threads or open descriptors
    behind (waiting up to 10 s for them to go, since closing is asynchronous)."""
    proc = psutil.Process()
    before_children = _children()
    before_threads = _shoal_threads()
    before_fds = proc.num_fds()
    yield
    deadline = time.monotonic() + 10
    while True:
        gc.collect()
        extra_children = _children() - before_children
        extra_threads = _shoal_threads() - before_threads
        extra_fds = proc.num_fds() - before_fds
        if not extra_children and not extra_threads and extra_fds <= 2:
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra_children, f"child processes left: {extra_children}"
    assert not extra_threads, f"threads left: {extra_threads}"
    assert extra_fds <= 2, f"{extra_fds} more open file descriptors than before"
