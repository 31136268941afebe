"""The cuda backend, checked without a GPU.

1. The op tables (elementwise, shape, indexing, creation, control flow) and their gradient
   tests re-run with backend="cuda" under NUMBA_ENABLE_CUDASIM=1, together with
   tests/cuda_sim_cases.py (fused kinds, every reducer, matmul, memory, an MLP step), in a
   subprocess: the simulator is chosen when numba.cuda is first imported.
2. Every kernel generated during that run is compiled to PTX for sm_80 in its real-hardware
   form (warp shuffles, 16 x 16 tiles) and float32 kernels are checked for float64.
3. Without a GPU (and without the simulator) the backend is unavailable with a clear error;
   with one, a real run agrees with NumPy.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import symgraph as sg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLES = ["tests/test_elemwise.py", "tests/test_shape.py", "tests/test_index.py",
          "tests/test_creation.py", "tests/test_control.py", "tests/test_reduce.py",
          "tests/test_nn.py", "tests/test_linalg.py", "tests/cuda_sim_cases.py"]
# Eager-mode tests do not compile anything; one large gradient graph takes ~100 s on the
# simulator and its reductions are covered by test_reduce.py's per-op gradient table.
SKIP = "not eager and not reduction_grads_on_every_backend"


def _run(args, **env):
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
                       **env)
    return subprocess.run([sys.executable] + args, cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The simulator run of the tables; its record of generated kernels."""
    record = str(tmp_path_factory.mktemp("cuda") / "kernels.pkl")
    done = _run(["-m", "pytest", "-q", "-p", "cuda_plugin", "-p", "no:cacheprovider", "-k", SKIP]
                + TABLES,
                NUMBA_ENABLE_CUDASIM="1", SYMGRAPH_CUDA_RECORD=record)
    return done, record


def test_tables_gradients_and_mlp_agree_with_python_on_the_simulator(simulated):
    done, _ = simulated
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and " failed" not in done.stdout


def test_every_generated_kernel_compiles_to_ptx_without_float64(simulated):
    _, record = simulated
    done = _run(["-m", "backends.numba_cuda.ptx", record], SYMGRAPH_CUDA_PTX_ONLY="1")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    count = int(done.stdout.split("compiled ")[1].split()[0])
    assert count >= 100, done.stdout


def test_the_float64_check_catches_an_untyped_literal():
    code = """if True:
        from backends.numba_cuda import ptx
        text = "def kernel(n, o0, a0):\\n    for i in range(n):\\n        o0[i] = a0[i] * 0.1\\n"
        from backends.numba_cuda import codegen
        codegen.GENERATORS["bad"] = lambda: (text, [("scalar", "int64"), ("array", "float32"),
                                                     ("array", "float32")])
        text, out, sig = ptx.compile_one("bad", {})
        print(len(ptx.float64_lines(text, out)))
        good = text.replace("0.1", "np.float32(0.1)")
        codegen.GENERATORS["good"] = lambda: (good, sig)
        print(len(ptx.float64_lines(*ptx.compile_one("good", {})[:2])))
    """
    done = _run(["-c", code], SYMGRAPH_CUDA_PTX_ONLY="1")
    assert done.returncode == 0, done.stderr[-3000:]
    bad, good = (int(v) for v in done.stdout.split())
    assert bad > 0 and good == 0


def test_without_a_gpu_the_backend_says_so_and_with_one_it_runs():
    from numba import cuda

    x = sg.tensor("x", dtype="float32", shape=(None,))
    if not cuda.is_available():
        with pytest.raises(sg.SymgraphError, match="no CUDA GPU"):
            sg.function([x], sg.exp(x), backend="cuda")
        return
    values = np.linspace(-2, 2, 1000, dtype="float32")
    got = sg.function([x], sg.sum(sg.exp(x) * 2), backend="cuda")(values)
    np.testing.assert_allclose(got, np.sum(np.exp(values) * 2), rtol=1e-5)
    out = sg.function([x], sg.exp(x), backend="cuda")(cuda.to_device(values))
    assert hasattr(out, "__cuda_array_interface__")  # device in, device out
    np.testing.assert_allclose(out.copy_to_host(), np.exp(values), rtol=1e-6)


def test_a_device_value_in_a_shared_container_is_fetched_once_when_the_host_reads_it():
    # The hook that keeps cuda updates on the device (symgraph.graph.Container).
    from symgraph.graph import DeviceValue

    class Parked(DeviceValue):
        fetched = 0

        def fetch(self):
            Parked.fetched += 1
            return np.arange(3.0)

    w = sg.shared(np.zeros(3), name="w")
    w.container[0] = Parked()
    assert isinstance(w.container.peek(), Parked)
    f = sg.function([], w * 2, updates=[(w, w + 1)], backend="python")
    np.testing.assert_array_equal(f(), [0, 2, 4])  # another backend reads the host value
    np.testing.assert_array_equal(w.get_value(), [1, 2, 3])
    assert Parked.fetched == 1 and isinstance(w.container.peek(), np.ndarray)
