"""Shared fixtures: every test starts from the default config."""

import copy

import pytest

import shoal


@pytest.fixture(autouse=True)
def _fresh_config():
    saved = copy.deepcopy(shoal.config.config)
    yield
    shoal.config.config.clear()
    shoal.config.config.update(saved)
    # a module imported during the test may have added defaults: keep them
    shoal.config.update_defaults({})
