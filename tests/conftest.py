"""Shared test setup: a derandomized hypothesis profile, and floatx restored after each test."""
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import minnn

# A red CI must never be luck: hypothesis draws the same examples on every run.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _restore_floatx():
    before = minnn.config.floatx()
    yield
    minnn.config.set_floatx(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
