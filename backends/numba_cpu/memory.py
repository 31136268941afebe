"""Memory helpers for generated modules and row kernels: the huge-page hint for large
new arrays."""

from __future__ import annotations

import sys

import numpy as np

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_HUGE_BYTES = 4 << 20   # NumPy advises huge pages from 4 MiB on; so do we
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_HAS_MADVISE = sys.platform.startswith("linux")


@intrinsic
def _madvise(typingctx, address, length, advice):
    """libc's madvise, called by symbol name so the machine code stays cacheable (a ctypes
    pointer would be a process-specific address)."""
    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(8).as_pointer(), i64, ir.IntType(32)])
        function = cgutils.get_or_insert_function(builder.module, fnty, "madvise")
        pointer = builder.inttoptr(args[0], ir.IntType(8).as_pointer())
        return builder.call(function, [pointer, args[1], builder.trunc(args[2], ir.IntType(32))])
    return types.int32(types.intp, types.intp, types.intp), codegen


@njit(inline="always")
def advise_huge(a):
    """Ask Linux to back a large new array with transparent huge pages, as NumPy does.

    Why: a fresh 40 MB output otherwise costs ~10,000 page faults on first touch, which
    took longer than computing W1's fused loop itself (37 ms vs 20 ms for 10M float32).
    A hint only: its result is ignored, and arrays below 4 MiB are left alone. Inlined, so
    that the one compiled function (`_advise_range`) serves every dtype and rank."""
    _advise_range(a.ctypes.data, a.nbytes)
    return a


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True)
def _advise_range(address, nbytes):
    """The huge-page hint for the bytes [address, address + nbytes), whole pages only."""
    if _HAS_MADVISE and nbytes >= _HUGE_BYTES:
        start = (address + _HUGE_PAGE - 1) & ~(_HUGE_PAGE - 1)
        end = (address + nbytes) & ~(_HUGE_PAGE - 1)
        if end > start:
            _madvise(start, end - start, _MADV_HUGEPAGE)


# A cached wrapper of np.empty, which generated code calls: numba compiles its own
# implementation anew in every process that types a call to it; a call to this is typed
# once per machine and signature, then loaded from the disk cache.

@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True)
def new_empty(size, dtype):
    """np.empty(size, dtype): a new 1-d array (generated code reshapes it), with the
    huge-page hint where it is large (`advise_huge`). Here, not at each use: every
    inlined call made numba re-scan the whole entry function."""
    return advise_huge(np.empty(size, dtype))
