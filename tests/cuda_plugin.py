"""pytest plugin (`-p cuda_plugin`, with tests/ on PYTHONPATH): re-run the table tests on the
cuda backend only. Gradient checks compare the cuda gradient with the python backend's,
which the ordinary run checks against finite differences. Used by tests/test_cuda.py in a
subprocess with NUMBA_ENABLE_CUDASIM=1."""

import sys

import numpy as np

import helpers
import symgraph as sg

# The simulator runs a CUDA thread per Python thread; its barriers wait for thread switches.
sys.setswitchinterval(5e-5)

helpers.BACKENDS[:] = ["cuda"]


def check_grad_cuda(fn, values, rtol=1e-5, atol=1e-7, backend="python"):
    values = [np.asarray(v, dtype="float64") for v in values]
    inputs = helpers.symbolic_inputs(values)
    out = fn(*inputs)
    rng = np.random.default_rng(1)
    projection = rng.standard_normal(sg.function(inputs, out, backend="python")(*values).shape)
    cost = sg.sum(out * projection)
    want = sg.function(inputs, sg.grad(cost, inputs), backend="python")(*values)
    got = sg.function(inputs, sg.grad(cost, inputs), backend="cuda")(*values)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)


helpers.check_grad = check_grad_cuda
