"""Shared fixtures: a per-session numba/symgraph cache dir, seeded random data."""

import os
import tempfile

import numpy as np
import pytest

os.environ.setdefault("SYMGRAPH_CACHE_DIR", os.path.join(tempfile.gettempdir(), "symgraph-test-cache"))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
