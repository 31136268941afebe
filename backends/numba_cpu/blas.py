"""`blas_dot`: float matrix products through BLAS, as numba's `np.dot` calls it, without
the cost of importing `scipy.linalg`.

numba's compiled `np.dot` takes gemm from SciPy's Cython module `scipy.linalg.cython_blas`,
which it imports on the first call (and when it types one). Imported the ordinary way,
that module first runs `scipy/linalg/__init__.py`, which imports most of SciPy: ~0.15 s,
a third of a warm start of the MLP step. The extension module needs none of it, so importing
this module loads that one file and registers it under its name; numba's import then finds
it in `sys.modules`. Any surprise in SciPy's layout falls back to the ordinary import. A
later `import scipy.linalg` by the user works as usual and reuses the loaded module.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

import numpy as np
from numba import njit
from numba.extending import overload

CYTHON_BLAS = "scipy.linalg.cython_blas"


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
        module.__pyx_capi__["dgemm"]  # what numba will look up
    except Exception:  # noqa: BLE001 - any surprise: numba's own, ordinary import
        return
    sys.modules[CYTHON_BLAS] = module


_load_cython_blas()

_HELPER = dict(cache=True, error_model="numpy", no_cfunc_wrapper=True)


def blas_ready(a):
    """`a` as BLAS takes it: C- or F-contiguous arrays as they are, others copied."""


@overload(blas_ready)
def _blas_ready(a):
    if a.layout in "CF":
        return lambda a: a
    return lambda a: np.ascontiguousarray(a)


# A cached wrapper: numba compiles its own implementation of np.dot anew in every process
# that types a call to it (~1.4 s for the three matrix products of an MLP step); a call to
# this is typed once per machine and signature, then loaded from the disk cache.

@njit(**_HELPER)
def blas_dot(a, b):
    """a @ b of two float matrices through BLAS (np.dot), `blas_ready` operands."""
    return np.dot(blas_ready(a), blas_ready(b))
