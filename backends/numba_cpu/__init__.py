"""The `numba` backend (the default on the CPU): the whole optimized graph becomes one
generated Python module (`codegen.py`), kept in the disk cache (`cache.py`) and compiled
with `numba.njit`; the per-kind kernels are in `kernels/`.

`lower(graph)` returns a runner `run(values) -> tuple of arrays` carrying `source` (the
generated module), `cache_hit` (whether the machine code came from a cache instead of
LLVM), `path` (the module's file, None when compiled in memory), `cache_entry` ("valid",
"created", "repaired" or "memory": what the disk cache held) and `fresh` (which outputs are
new arrays that alias nothing, so `Function` can skip its alias checks).
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
import types as pytypes
from typing import Any

import numba
import numpy as np
from numba.core import errors as numba_errors

from backends.numba_cpu import cache, rowops
from backends.numba_cpu.runtime import INLINE
from backends.numba_cpu.codegen import KINDS, Generated, generate
from symgraph.config import config
from symgraph.errors import LoweringError, SymgraphError
from symgraph.graph import Graph
from symgraph.interpret import evaluate

# np.dot on a strided view copies it first; that is our choice, not the user's concern.
warnings.filterwarnings("ignore", category=numba_errors.NumbaPerformanceWarning,
                        module=r".*sg_[0-9a-f]{40}")
# NumPy's division by zero; no fastmath. No C-callable wrapper (numba makes one per
# function for `cfunc` use, which nothing here needs): less for LLVM to compile.
_FLAGS = dict(error_model="numpy", nogil=True, no_cfunc_wrapper=True)
# Module name -> (module, entry, entry_parallel): graphs already compiled in this process.
_compiled: dict[str, tuple[Any, Any, Any]] = {}
_lock = threading.Lock()


def _signature(graph: Graph, generated: Generated) -> tuple:
    """The entry's argument types for C-contiguous inputs (compiled eagerly)."""
    args = [numba.types.Array(numba.from_dtype(np.dtype(n.dtype)), n.ndim, "C")
            for n in graph.inputs]
    args += [numba.typeof(s.container[0]) for s in generated.shared]
    args += [numba.typeof(c.value) for c in generated.constants]
    return tuple(args)


def _summary(error: Exception) -> str:
    """The gist of a numba typing error: what failed, and where in the generated file."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    what = [line for line in lines if not line.startswith(("Failed in", "- Resolution",
                                                          "During:", "File", "<source"))]
    where = [line for line in lines if line.startswith("File")]
    return "; ".join(what[:2] + where[-1:])


# At most this many calls of vectorizable math are inlined into the parallel entry. Why:
# numba re-types and re-lowers every inlined body, and the parfor passes then analyse all
# of it: the 100-op chain of benchmarks/ (50 sin + 50 tanh) took 100 s to compile inlined
# and 20 s with plain calls. Past the budget, loops call the functions (scalar, no SIMD).
INLINE_BUDGET = 24


def inlined_calls(source: str) -> int:
    """How many calls of `runtime.INLINE` functions the generated source makes."""
    return sum(source.count(f"{name}(") for name in INLINE)


def inline_math(generated: Generated) -> bool:
    """Whether the parallel entry inlines the vectorizable math (within `INLINE_BUDGET`)."""
    return inlined_calls(generated.source) <= INLINE_BUDGET


def _renamed(function: pytypes.FunctionType, name: str, inline: bool) -> pytypes.FunctionType:
    """A copy of `function` under another name, so numba caches it separately, calling the
    parallel row kernels (`rowops.PARALLEL`), and the inlined vectorizable math functions
    (`runtime.INLINE`) instead of the plain ones when `inline`."""
    scope = dict(function.__globals__)
    scope.update({k: fn for k, fn in rowops.PARALLEL.items() if k in scope})
    if inline:
        scope.update({k: fn for k, fn in INLINE.items() if k in scope})
    return rowops.renamed(function, name, scope)


def _dispatchers(module: pytypes.ModuleType, on_disk: bool, generated: Generated
                 ) -> tuple[Any, Any]:
    flags = dict(_FLAGS, cache=on_disk)
    entry = numba.njit(**flags)(module.entry)
    # Without prange loops the parallel entry only calls the parallel row kernels: numba's
    # parallel passes would find nothing to do (and say so in a warning).
    loops = "prange(" in generated.source
    parallel = numba.njit(parallel=loops, **flags)(
        _renamed(module.entry, "entry_parallel", inline_math(generated)))
    if on_disk:  # numba's cache files are verified before loading, sealed after writing
        cache.guard(entry)
        cache.guard(parallel)
        cache.start_threads_on_load(parallel)
    return entry, parallel


def _compile(graph: Graph, generated: Generated) -> tuple[Any, Any, Any, bool, str | None, str]:
    module, path, status = cache.load(graph, generated.source)
    key = module.__name__
    with _lock:
        if key in _compiled:
            return (*_compiled[key], True, path, status)
    signature = _signature(graph, generated)
    for attempt in range(2):
        entry, parallel = _dispatchers(module, path is not None, generated)
        try:
            entry.compile(signature)
            break
        except (numba_errors.NumbaError, NotImplementedError) as error:
            raise LoweringError(
                f"numba could not compile the generated module {path or key} "
                f"({_summary(error)}); this is a bug in symgraph's numba backend: please "
                "report it with f.source") from None
        except Exception:  # a damaged numba cache file: drop it and compile again
            if path is None or attempt:
                raise
            cache.forget(path)
    hit = sum(entry.stats.cache_hits.values()) > 0
    with _lock:
        _compiled[key] = (module, entry, parallel)
    return module, entry, parallel, hit, path, status


def _explain(graph: Graph, values: list, error: Exception) -> Exception:
    """The error the reference interpreter raises for these inputs (it names the shapes
    and values involved), or `error` itself if the reference does not fail."""
    try:
        evaluate(graph, values)
    except SymgraphError as reference:
        return reference
    return error


class NumbaBackend:
    """Compiles a graph into one numba function; see the module docstring."""

    name = "numba"
    kinds = frozenset(KINDS)

    def lower(self, graph: Graph) -> Any:
        generated = generate(graph)
        module, entry, parallel, hit, path, status = _compile(graph, generated)
        constants = [c.value for c in generated.constants]
        run = module.make_runner(entry, parallel, generated.shared, constants,
                                 config.parallel_threshold,
                                 functools.partial(_explain, graph))
        run.source = generated.source
        run.cache_hit = hit
        run.path = path
        run.cache_entry = status
        run.fresh = generated.fresh
        run.inline_math = inline_math(generated)
        run.entry = entry
        return run


BACKEND = NumbaBackend()
