"""`blas_dot`: float matrix products through BLAS ?gemm, called directly.

Why not numba's `np.dot`: its implementation is a chain of numba functions (layout checks,
np.empty, np.zeros, the call) that numba compiles anew for every pair of operand layouts,
and that every caller's machine code then carries: ~1.7 s of a cold compile of the MLP step
for its three products. `blas_dot` is one small function per dtype: generated code passes
its operands through `as_any`, and it picks how BLAS reads each one from its strides.

Which BLAS: the OpenBLAS that NumPy's wheel bundles, where there is one, so that a product
costs what NumPy's `@` does (SciPy's wheel bundles its own, an older build that took 7% longer
on the MLP step's products); otherwise, or with `SYMGRAPH_BLAS=scipy`, SciPy's, from its
Cython module `scipy.linalg.cython_blas`. This module registers the functions' addresses
with LLVM under fixed names (`_SYMBOLS`) when it is imported, and compiled code calls those
names: numba's disk cache keeps the name, not a process's address, and the call is the same
for both (see `_gemm`).

`scipy.linalg.cython_blas` imported the ordinary way first runs `scipy/linalg/__init__.py`,
which imports most of SciPy (~0.15 s, a third of a warm start of the MLP step), and numba
imports it when it loads its array math, to check that BLAS is there. The extension module
needs none of that, so this module loads that one file (~3 ms) and registers it under its
name. Any surprise in SciPy's layout falls back to the ordinary import; a later
`import scipy.linalg` by the user works as usual and reuses the loaded module.
"""

from __future__ import annotations

import ctypes
import glob
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

from backends.numba_cpu.memory import converted, new_empty, shaped
from symgraph.errors import SymgraphError

CYTHON_BLAS = "scipy.linalg.cython_blas"
# The names compiled code calls ?gemm by, for each float dtype.
_SYMBOLS = {"float32": "symgraph_sgemm", "float64": "symgraph_dgemm"}
# NumPy's wheels bundle an OpenBLAS whose Fortran gemm has these names (64-bit ints);
# SciPy's Cython BLAS module exports its own under these (32-bit ints).
_NUMPY_NAMES = {"float32": "scipy_sgemm_64_", "float64": "scipy_dgemm_64_"}
_SCIPY_NAMES = {"float32": "sgemm", "float64": "dgemm"}
_INT32_MAX = 2**31 - 1  # SciPy's BLAS takes its sizes as C ints


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
        module.__pyx_capi__["dgemm"]  # what _scipy_gemm will look up
    except Exception:  # noqa: BLE001 - any surprise: the ordinary import, in _scipy_gemm
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


def _scipy_gemm() -> dict[str, int]:
    """SciPy's sgemm and dgemm (32-bit ints), from its Cython BLAS module."""
    _load_cython_blas()
    module = sys.modules.get(CYTHON_BLAS) or importlib.import_module(CYTHON_BLAS)
    return {dtype: _capsule_address(module.__pyx_capi__[name])
            for dtype, name in _SCIPY_NAMES.items()}


def _numpy_gemm() -> dict[str, int] | None:
    """sgemm and dgemm of the OpenBLAS that NumPy's own wheel loaded, or None where there is
    none (a NumPy built against another BLAS)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    found = glob.glob(os.path.join(folder, "libscipy_openblas64_*.so"))
    if len(found) != 1:
        return None
    try:  # the library NumPy loaded: the same handle, threads and settings
        library = ctypes.CDLL(found[0])
        return {dtype: ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                for dtype, name in _NUMPY_NAMES.items()}
    except (OSError, AttributeError):
        return None


def _register_gemm() -> str:
    """Make `_SYMBOLS` resolve to a BLAS in this process; which one is returned: NumPy's
    bundled OpenBLAS where there is one, else SciPy's. `SYMGRAPH_BLAS=scipy` asks for
    SciPy's (say, to use the BLAS a SciPy build was linked against)."""
    _load_cython_blas()  # numba imports it too, when it loads its array math (see above)
    addresses = None if os.environ.get("SYMGRAPH_BLAS") == "scipy" else _numpy_gemm()
    provider = "numpy" if addresses else "scipy"
    for dtype, address in (addresses or _scipy_gemm()).items():
        llvm.add_symbol(_SYMBOLS[dtype], address)
    return provider


PROVIDER = _register_gemm()


@intrinsic
def _gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
    """Fortran ?gemm: c = op(a) @ op(b), column-major, alpha 1 and beta 0. `trans_*`: the
    character codes of "N" and "T"; sizes and leading dimensions: ints below 2**31;
    a, b, c: arrays of one float dtype, passed by their data pointers.

    Fortran takes every argument by address. The sizes are stored as 64-bit ints: a BLAS
    with 64-bit ints (NumPy's) reads all of each, one with 32-bit ints (SciPy's) its first
    half, which on a little-endian machine (every target numba has) is the same value. So
    the machine code, and numba's cache of it, is the same whichever BLAS a process has."""
    if not all(isinstance(x, types.Array) and x.dtype == c.dtype for x in (a, b, c)):
        return None
    if str(c.dtype) not in _SYMBOLS:
        return None
    symbol = _SYMBOLS[str(c.dtype)]

    def codegen(context, builder, sig, args):
        char, int64 = ir.IntType(8), ir.IntType(64)
        real = context.get_value_type(sig.args[9].dtype)

        def by_reference(value, kind):  # Fortran passes every argument by address
            slot = cgutils.alloca_once(builder, kind)
            builder.store(value, slot)
            return slot

        def argument(position):
            value, kind = args[position], sig.args[position]
            if isinstance(kind, types.Array):
                return context.make_array(kind)(context, builder, value).data
            if position < 2:  # a transpose code
                return by_reference(builder.trunc(value, char), char)
            return by_reference(context.cast(builder, value, kind, types.int64), int64)

        one, zero = by_reference(real(1.0), real), by_reference(real(0.0), real)
        values = [argument(p) for p in range(5)] + [one] + [argument(p) for p in range(5, 9)]
        values += [zero, argument(9), argument(10)]
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [v.type for v in values]), symbol)
        builder.call(function, values)
        return context.get_dummy_value()

    return types.void(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc), codegen


_N, _T = ord("N"), ord("T")


# Cached functions, called rather than inlined by numba (which types the caller again after
# each inline); LLVM still inlines the small ones.
_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True, nogil=True)


@njit(**_HELPER)
def _reading(x):
    """How BLAS reads the (r, c) matrix `x` as the Fortran matrix x.T: ("N", leading
    dimension) where x's rows are contiguous, ("T", ld) where its columns are, (0, 0)
    where neither (the caller copies)."""
    r, c = x.shape
    size = x.itemsize
    s0, s1 = x.strides
    if (c == 1 or s1 == size) and (r == 1 or (s0 % size == 0 and s0 >= c * size)):
        return _N, _at_least(s0 // size if r > 1 else c, c)
    if (r == 1 or s0 == size) and (c == 1 or (s1 % size == 0 and s1 >= r * size)):
        return _T, _at_least(s1 // size if c > 1 else r, r)
    return 0, 0


@njit(inline="always")
def _at_least(ld, n):
    """max(ld, n, 1), without typing numba's max (one more compile per cold start)."""
    ld = ld if ld > n else n
    return ld if ld > 1 else 1


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
    neither of whose axes is contiguous (a strided view) are copied first (`converted`).
    Allocation goes through `new_empty` (memory.py: lowered in place, no compile)."""
    n, k = a.shape
    m = b.shape[1]
    out = shaped(new_empty(n * m, a.dtype), (n, m))
    if n == 0 or m == 0:
        return out
    if k == 0:
        for i in range(n):
            for j in range(m):
                out[i, j] = 0
        return out
    if n > _INT32_MAX or m > _INT32_MAX or k > _INT32_MAX:
        raise SymgraphError("matmul: a dimension is too large for BLAS (more than 2**31 - 1)")
    trans_a, lda = _reading(a)
    trans_b, ldb = _reading(b)
    if trans_a == 0 or lda > _INT32_MAX:  # (a view into a huge array: read a compact copy)
        a = converted(a, a.dtype)
        trans_a, lda = _N, k
    if trans_b == 0 or ldb > _INT32_MAX:
        b = converted(b, b.dtype)
        trans_b, ldb = _N, m
    _gemm(trans_b, trans_a, m, n, k, b, ldb, a, lda, out, m)
    return out

