"""Memory helpers for generated modules and row kernels: new arrays (with the huge-page
hint where they are large), C-contiguous reshapes, casts and copies.

numba's own np.empty, reshape, astype, copy, ravel and np.ascontiguousarray are
Python-level implementations in numba.np.arrayobj, compiled into the caller as one more
function per signature and recorded with their module, so loading cached code that used
one imports that module first (~30 ms of a ~0.3 s warm start). These build the arrays in
LLVM IR instead, as numba does inside those implementations (`contiguous` falls back to
np.ascontiguousarray for an array not typed C-contiguous).
"""

from __future__ import annotations

import sys

import numpy as np

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils, ir_utils
from numba.extending import intrinsic, overload

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


def _element(dtype):
    """The element type a dtype argument (np.float32, or a dtype value) stands for."""
    element = getattr(dtype, "instance_type", getattr(dtype, "dtype", None))
    return element if isinstance(element, (types.Number, types.Boolean)) else None


@intrinsic
def _empty_1d(typingctx, size, dtype):
    """np.empty(size, dtype) as a 1-d C-contiguous array (size >= 0)."""
    element = _element(dtype)
    if not isinstance(size, types.Integer) or element is None:
        return None
    result = types.Array(element, 1, "C")

    def codegen(context, builder, sig, args):
        n = context.cast(builder, args[0], sig.args[0], types.intp)
        return _allocate(context, builder, result, [n])._getvalue()
    return result(size, dtype), codegen


@intrinsic
def converted(typingctx, a, dtype):
    """a.astype(dtype) (so a.copy() too): a new C-contiguous array, from `a` of any
    layout, each element cast as numba casts on assignment (as NumPy's astype does)."""
    element = _element(dtype)
    if not isinstance(a, types.Array) or element is None:
        return None
    result = types.Array(element, a.ndim, "C")

    def codegen(context, builder, sig, args):
        source = context.make_array(a)(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, source.shape, a.ndim)
        strides = cgutils.unpack_tuple(builder, source.strides, a.ndim)
        out = _allocate(context, builder, result, shape)
        intp = context.get_value_type(types.intp)
        if a.layout == "C" and a.dtype == element:  # a copy: one memcpy
            cgutils.raw_memcpy(builder, out.data, source.data, source.nitems,
                               _itemsize(context, element))
            return out._getvalue()
        if a.layout == "C":  # one flat loop, which LLVM vectorizes
            with cgutils.for_range(builder, source.nitems) as loop:
                value = context.unpack_value(builder, a.dtype,
                                             builder.gep(source.data, [loop.index]))
                context.pack_value(builder, element, context.cast(builder, value, a.dtype,
                                                                  element),
                                   builder.gep(out.data, [loop.index]))
            return out._getvalue()
        target = cgutils.alloca_once_value(builder, out.data)  # written in C order
        with cgutils.loop_nest(builder, shape, intp) as index:
            where = cgutils.get_item_pointer2(context, builder, source.data, shape, strides,
                                              a.layout, index)
            value = context.cast(builder, context.unpack_value(builder, a.dtype, where),
                                 a.dtype, element)
            pointer = builder.load(target)
            context.pack_value(builder, element, value, pointer)
            builder.store(builder.gep(pointer, [ir.Constant(intp, 1)]), target)
        return out._getvalue()
    return result(a, dtype), codegen


def _allocate(context, builder, array_type, shape):
    """A new C-contiguous array struct of `array_type` and `shape` (intp values), through
    numba's runtime, 32-byte aligned as numba's np.empty, with its errors: ValueError where
    the size in bytes overflows, MemoryError where the allocation fails."""
    intp = context.get_value_type(types.intp)
    itemsize = ir.Constant(intp, _itemsize(context, array_type.dtype))
    nitems, overflow = ir.Constant(intp, 1), cgutils.false_bit
    for d in shape:
        product = builder.smul_with_overflow(nitems, d)
        nitems = builder.extract_value(product, 0)
        overflow = builder.or_(overflow, builder.extract_value(product, 1))
    product = builder.smul_with_overflow(nitems, itemsize)
    overflow = builder.or_(overflow, builder.extract_value(product, 1))
    with builder.if_then(overflow, likely=False):
        context.call_conv.return_user_exc(builder, ValueError, (
            "array is too big; `arr.size * arr.dtype.itemsize` is larger than the maximum "
            "possible size.",))
    meminfo = context.nrt.meminfo_alloc_aligned(
        builder, size=builder.extract_value(product, 0), align=32)
    array = context.make_array(array_type)(context, builder)
    _fill(context, builder, array, array_type, context.nrt.meminfo_data(builder, meminfo),
          meminfo, shape, _c_strides(builder, itemsize, shape), nitems)
    return array


def _itemsize(context, element) -> int:
    """Bytes per element of `element` in an array (a bool is one byte)."""
    return context.get_abi_sizeof(context.get_data_type(element))


def _c_strides(builder, itemsize, shape):
    """The strides of a C-contiguous array of this shape."""
    strides = [itemsize] if shape else []
    for d in reversed(shape[1:]):
        strides.insert(0, builder.mul(strides[0], d))
    return strides


def _fill(context, builder, array, array_type, data, meminfo, shape, strides, nitems):
    """Set every field of a new array struct (what numba's populate_array does)."""
    intp = context.get_value_type(types.intp)
    array.data = builder.bitcast(data, array.data.type)
    array.shape = cgutils.pack_array(builder, shape, intp)
    array.strides = cgutils.pack_array(builder, strides, intp)
    array.itemsize = ir.Constant(intp, _itemsize(context, array_type.dtype))
    array.meminfo = meminfo
    array.parent = cgutils.get_null_value(array.parent.type)
    array.nitems = nitems


@njit(cache=True, error_model="numpy", no_cfunc_wrapper=True)
def new_empty(size, dtype):
    """np.empty(size, dtype): a new 1-d array (generated code reshapes it with `shaped`),
    with the huge-page hint where it is large (`advise_huge`). A cached function, called
    by generated code: typed once per machine and dtype, and the hint is not inlined at
    every use (each inlined call made numba re-scan the whole entry function)."""
    if size < 0:
        raise ValueError("negative dimensions are not allowed")
    return advise_huge(_empty_1d(size, dtype))


@intrinsic
def shaped(typingctx, a, shape):
    """a.reshape(shape) for an `a` the caller knows to be C-contiguous (by its type, or
    checked at run time) and of the size `shape` multiplies to: the same memory with C
    strides for the new shape. Unchecked: anywhere else, use numba's reshape."""
    if not (isinstance(a, types.Array) and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape)):
        return None
    result = a.copy(ndim=len(shape), layout="C")

    def codegen(context, builder, sig, args):
        source = context.make_array(sig.args[0])(context, builder, args[0])
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], len(shape)), shape)]
        array = context.make_array(result)(context, builder)
        _fill(context, builder, array, result, source.data, source.meminfo, dims,
              _c_strides(builder, source.itemsize, dims), source.nitems)
        array.parent = source.parent
        context.nrt.incref(builder, sig.args[0], args[0])  # the view holds the memory too
        return array._getvalue()
    return result(a, shape), codegen


def contiguous(a):
    """np.ascontiguousarray(a): `a` itself where its type is C-contiguous already."""


def _aliases(lhs, args, alias_map, arg_aliases):
    """numba's alias analysis, told that a call's result may share its first argument's
    memory: parallel loops writing through the result are then not dropped as dead."""
    ir_utils._add_alias(lhs, args[0].name, alias_map, arg_aliases)


for _function in ("shaped", "contiguous"):
    ir_utils.alias_func_extensions[(_function, __name__)] = _aliases


@overload(contiguous)
def _contiguous(a):
    if isinstance(a, types.Array) and a.layout == "C":
        return lambda a: a
    return lambda a: np.ascontiguousarray(a)
