"""The list of cases, in table order, from the workload modules (NumPy-only imports)."""

from benchmarks import eager, elementwise, mlp, rows, scan
from benchmarks.common import SIZES

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "E1", "S1")
IMPLS = ("numpy", "numba", "numexpr", "jax.jit", "torch", "torch.compile", "pytensor",
         "symgraph")


def all_cases(size_name, only=WORKLOADS):
    """Cases of the selected workloads (W4 is not a Case: see compile_latency.py)."""
    size = SIZES[size_name]
    found = [c for m in (elementwise, rows, mlp, eager, scan) for c in m.cases(size)]
    found = [c for c in found if c.name.split()[0] in only]
    return sorted(found, key=lambda c: WORKLOADS.index(c.name.split()[0]))
