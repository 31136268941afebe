"""`blas_dot`: float matrix products through SciPy's BLAS, called directly.

Why not numba's `np.dot`: its implementation is a chain of numba functions (layout checks,
np.empty, np.zeros, the call) that numba compiles anew for every pair of operand layouts,
and that every caller's machine code then carries: ~1.7 s of a cold compile of the MLP step
for its three products. `blas_dot` is one small function per dtype and layout pair: it picks
how BLAS reads each operand from its strides and calls ?gemm itself.

How the call works: SciPy's Cython module `scipy.linalg.cython_blas` exports sgemm and dgemm
as C function pointers. This module registers their addresses with LLVM under fixed names
(`_SYMBOLS`) when it is imported, and the compiled code calls those names: numba's disk cache
keeps the name, not a process's address, so cached code links to the BLAS of the process that
loads it.

Imported the ordinary way, `scipy.linalg.cython_blas` first runs `scipy/linalg/__init__.py`,
which imports most of SciPy (~0.15 s, a third of a warm start of the MLP step). The extension
module needs none of it, so this module loads that one file and registers it under its name.
Any surprise in SciPy's layout falls back to the ordinary import; a later
`import scipy.linalg` by the user works as usual and reuses the loaded module.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.machinery
import importlib.util
import os
import sys

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from symgraph.errors import SymgraphError

CYTHON_BLAS = "scipy.linalg.cython_blas"
# The names compiled code calls ?gemm by, for each float dtype.
_SYMBOLS = {"float32": ("sgemm", "symgraph_sgemm"), "float64": ("dgemm", "symgraph_dgemm")}
_INT32_MAX = 2**31 - 1  # BLAS takes its sizes as C ints


def _load_cython_blas() -> None:
    """Put SciPy's BLAS extension module in `sys.modules` without its package's import."""
    if CYTHON_BLAS in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("scipy")
        folder = os.path.join(os.path.dirname(spec.origin), "linalg")
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "cython_blas" + suffix)
            if os.path.isfile(path):
                break
        else:
            raise ImportError(f"no {CYTHON_BLAS} extension in {folder}")
        loader = importlib.machinery.ExtensionFileLoader(CYTHON_BLAS, path)
        module = importlib.util.module_from_spec(
            importlib.util.spec_from_file_location(CYTHON_BLAS, path, loader=loader))
        loader.exec_module(module)
        module.__pyx_capi__["dgemm"]  # what _register_gemm will look up
    except Exception:  # noqa: BLE001 - any surprise: the ordinary import, in _register_gemm
        return
    sys.modules[CYTHON_BLAS] = module


def _capsule_address(capsule) -> int:
    """The C pointer a Cython `__pyx_capi__` capsule holds."""
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))


def _register_gemm() -> None:
    """Make `_SYMBOLS` resolve to SciPy's sgemm and dgemm in this process."""
    _load_cython_blas()
    module = sys.modules.get(CYTHON_BLAS) or importlib.import_module(CYTHON_BLAS)
    for name, symbol in _SYMBOLS.values():
        llvm.add_symbol(symbol, _capsule_address(module.__pyx_capi__[name]))


_register_gemm()


@intrinsic
def _gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """Fortran ?gemm: c = op(a) @ op(b), column-major, alpha 1 and beta 0. `trans_*`: the
    character codes of "N" and "T"; sizes and leading dimensions: ints that fit a C int;
    a, b, c: arrays of one float dtype, passed by their data pointers."""
    if not all(isinstance(x, types.Array) and x.dtype == c.dtype for x in (a, b, c)):
        return None
    if str(c.dtype) not in _SYMBOLS:
        return None
    symbol = _SYMBOLS[str(c.dtype)][1]

    def codegen(context, builder, sig, args):
        char, int32 = ir.IntType(8), ir.IntType(32)
        real = context.get_value_type(sig.args[9].dtype)

        def by_reference(value, kind):  # Fortran passes every scalar by address
            slot = cgutils.alloca_once(builder, kind)
            builder.store(value, slot)
            return slot

        def data(value, array_type):
            return context.make_array(array_type)(context, builder, value).data

        ta, tb, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_ = args
        kinds = [char, char] + [int32] * 3 + [real] * 2 + [int32, real, int32, real, real, int32]
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [t.as_pointer() for t in kinds]),
            symbol)
        sizes = [by_reference(builder.trunc(x, int32), int32)
                 for x in (m_, n_, k_, lda_, ldb_, ldc_)]
        builder.call(function, [
            by_reference(builder.trunc(ta, char), char),
            by_reference(builder.trunc(tb, char), char),
            sizes[0], sizes[1], sizes[2], by_reference(real(1.0), real),
            data(a_, sig.args[5]), sizes[3], data(b_, sig.args[7]), sizes[4],
            by_reference(real(0.0), real), data(c_, sig.args[9]), sizes[5]])
        return context.get_dummy_value()

    return types.void(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc), codegen


_N, _T = ord("N"), ord("T")


@njit(inline="always")
def _reading(x):
    """How BLAS reads the (r, c) matrix `x` as the Fortran matrix x.T: ("N", leading
    dimension) where x's rows are contiguous, ("T", ld) where its columns are, (0, 0)
    where neither (the caller copies)."""
    r, c = x.shape
    size = x.itemsize
    s0, s1 = x.strides
    if (c == 1 or s1 == size) and (r == 1 or (s0 % size == 0 and s0 >= c * size)):
        return _N, max(s0 // size if r > 1 else c, c, 1)
    if (r == 1 or s0 == size) and (c == 1 or (s1 % size == 0 and s1 >= r * size)):
        return _T, max(s1 // size if c > 1 else r, r, 1)
    return 0, 0


_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True, nogil=True)


@intrinsic
def as_any(typingctx, a):
    """`a` typed as an array of any layout ("A"): the same array, so that one compiled
    `blas_dot` per dtype serves every pair of operand layouts."""
    if not isinstance(a, types.Array):
        return None
    result = a.copy(layout="A")

    def codegen(context, builder, sig, args):
        context.nrt.incref(builder, sig.args[0], args[0])
        return args[0]
    return result(a), codegen


@njit(**_HELPER)
def blas_dot(a, b):
    """a @ b of two float matrices of one dtype, a new C-contiguous array, through ?gemm.
    Generated code passes `as_any` operands, so this compiles once per dtype.

    A C-contiguous result is, read column-major, its own transpose: (a @ b).T = b.T @ a.T,
    so gemm gets b and a in that order, each read as its transpose (`_reading`). Operands
    neither of whose axes is contiguous (a strided view) are copied first."""
    n, k = a.shape
    m = b.shape[1]
    out = np.empty((n, m), a.dtype)
    if n == 0 or m == 0:
        return out
    if k == 0:
        out[:] = 0
        return out
    if max(n, m, k) > _INT32_MAX:
        raise SymgraphError("matmul: a dimension is too large for BLAS (more than 2**31 - 1)")
    trans_a, lda = _reading(a)
    if trans_a == 0:
        a = np.ascontiguousarray(a)
        trans_a, lda = _N, k
    trans_b, ldb = _reading(b)
    if trans_b == 0:
        b = np.ascontiguousarray(b)
        trans_b, ldb = _N, m
    if max(lda, ldb) > _INT32_MAX:  # a view into a huge array: read a compact copy
        a = np.ascontiguousarray(a)
        b = np.ascontiguousarray(b)
        trans_a, lda, trans_b, ldb = _N, k, _N, m
    _gemm(trans_b, trans_a, m, n, k, b, ldb, a, lda, out, m)
    return out

