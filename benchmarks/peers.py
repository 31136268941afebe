"""Importing peers the same way everywhere: thread limits, x64 for JAX, PyTensor's mode.

Every import happens inside a function, so a missing peer only fails its own rows.
"""

import os

PYTENSOR_MODE = "NUMBA"


def threads():
    """Threads each library may use (the runner exports BENCH_THREADS)."""
    return int(os.environ.get("BENCH_THREADS", len(os.sched_getaffinity(0))))


def jax_modules():
    """(jax, jax.numpy) with float64 enabled, so float64 workloads stay float64."""
    import jax
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp
    return jax, jnp


def torch_module():
    import torch
    if torch.get_num_threads() != threads():
        torch.set_num_threads(threads())
    return torch


def torch_compile(fn):
    torch = torch_module()
    return torch.compile(fn, dynamic=False)


def pytensor_modules():
    import pytensor
    import pytensor.tensor as pt
    return pytensor, pt


def pytensor_function(inputs, outputs, **kwargs):
    pytensor, _ = pytensor_modules()
    return pytensor.function(inputs, outputs, mode=PYTENSOR_MODE, **kwargs)


def symgraph():
    """The symgraph package; any failure here makes its rows 'unavailable'."""
    import symgraph as sg
    return sg
