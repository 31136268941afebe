"""Memory helpers for generated modules and row kernels: new arrays (with the huge-page
hint where they are large), reshapes (`shaped`, `reshape_any`), transposed and broadcast
views, contiguous views or copies, casts and copies, copies into a slice (`copy_into`) or
into one part of a concatenation (`copy_at`), broadcast copies (`expanded`) and their
inverse, sums down to a broadcast shape (`summed_to`).

numba's own np.empty, reshape, transpose, broadcast_to, astype, copy, ravel,
np.ascontiguousarray, np.concatenate and slice assignment of arrays are
Python-level implementations in numba.np.arrayobj, compiled into the caller as one more
function per signature and recorded with their module, so loading cached code that used
one imports that module first (~30 ms of a ~0.3 s warm start). These build the arrays in
LLVM IR instead, as numba does inside those implementations, lowered in place in the
caller: none of them is a function numba compiles on its own.
"""

from __future__ import annotations

import sys

from llvmlite import ir
from numba import types
from numba.core import cgutils, ir_utils
from numba.extending import intrinsic

_HUGE_BYTES = 4 << 20   # NumPy advises huge pages from 4 MiB on; so do we
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_HAS_MADVISE = sys.platform.startswith("linux")


def _advise_huge(context, builder, data, nbytes):
    """Ask Linux to back a new array's whole pages with transparent huge pages, as NumPy
    does, where it is 4 MiB or more: libc's madvise, called by symbol name so the machine
    code stays cacheable. A hint only: its result is ignored.

    Why: a fresh 40 MB output otherwise costs ~10,000 page faults on first touch, which
    took longer than computing W1's fused loop itself (37 ms vs 20 ms for 10M float32)."""
    if not _HAS_MADVISE:
        return
    intp = nbytes.type
    with builder.if_then(builder.icmp_signed(">=", nbytes, intp(_HUGE_BYTES)), likely=False):
        address = builder.ptrtoint(data, intp)
        mask = intp(~(_HUGE_PAGE - 1))
        start = builder.and_(builder.add(address, intp(_HUGE_PAGE - 1)), mask)
        end = builder.and_(builder.add(address, nbytes), mask)
        with builder.if_then(builder.icmp_signed(">", end, start)):
            byte_pointer = ir.IntType(8).as_pointer()
            madvise = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.IntType(32), [byte_pointer, intp,
                                                                 ir.IntType(32)]), "madvise")
            builder.call(madvise, [builder.inttoptr(start, byte_pointer),
                                   builder.sub(end, start), ir.IntType(32)(_MADV_HUGEPAGE)])


def _element(dtype):
    """The element type a dtype argument (np.float32, or a dtype value) stands for."""
    element = getattr(dtype, "instance_type", getattr(dtype, "dtype", None))
    return element if isinstance(element, (types.Number, types.Boolean)) else None


@intrinsic
def new_empty(typingctx, size, dtype):
    """np.empty(size, dtype): a new 1-d C-contiguous array (generated code reshapes it with
    `shaped`), with np.empty's errors. Lowered in place, so it compiles no function of
    its own: as a cached njit function it was one more compile per dtype (~0.07 s each,
    five in the MLP step) and one more file to load on a warm start."""
    element = _element(dtype)
    if not isinstance(size, types.Integer) or element is None:
        return None
    result = types.Array(element, 1, "C")

    def codegen(context, builder, sig, args):
        n = context.cast(builder, args[0], sig.args[0], types.intp)
        with builder.if_then(builder.icmp_signed("<", n, n.type(0)), likely=False):
            context.call_conv.return_user_exc(builder, ValueError, (
                "negative dimensions are not allowed",))
        return _allocate(context, builder, result, [n])._getvalue()
    return result(size, dtype), codegen


@intrinsic
def empty_of(typingctx, shape, dtype):
    """np.empty(shape, dtype) for a tuple `shape` of any length: a new C-contiguous array,
    with np.empty's errors. Lowered in place (numba's np.empty is a compile per rank and
    dtype in every process)."""
    element = _element(dtype)
    if not (isinstance(shape, types.BaseTuple) and element is not None
            and all(isinstance(d, types.Integer) for d in shape)):
        return None
    result = types.Array(element, len(shape), "C")

    def codegen(context, builder, sig, args):
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[0], len(shape)), shape)]
        for d in dims:
            with builder.if_then(builder.icmp_signed("<", d, d.type(0)), likely=False):
                context.call_conv.return_user_exc(builder, ValueError, (
                    "negative dimensions are not allowed",))
        return _allocate(context, builder, result, dims)._getvalue()
    return result(shape, dtype), codegen


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
        _fill_in_c_order(context, builder, out, element, shape, source.data, shape, strides,
                         a.layout, lambda where: context.cast(builder, context.unpack_value(
                             builder, a.dtype, where), a.dtype, element))
        return out._getvalue()
    return result(a, dtype), codegen


def _c_copy(context, builder, a, source):
    """A new C-contiguous copy of `source`, an array struct of type `a` (any layout)."""
    shape = cgutils.unpack_tuple(builder, source.shape, a.ndim)
    strides = cgutils.unpack_tuple(builder, source.strides, a.ndim)
    out = _allocate(context, builder, types.Array(a.dtype, a.ndim, "C"), shape)
    _fill_in_c_order(context, builder, out, a.dtype, shape, source.data, shape, strides,
                     a.layout, lambda where: context.unpack_value(builder, a.dtype, where))
    return out


def _fill_in_c_order(context, builder, out, element, dims, data, sizes, strides, layout,
                     value_at):
    """Write the new C-contiguous `out` (of `element`s, shape `dims`) in C order: the
    element at index i is `value_at(pointer to the source element at i)`, the source being
    `data` read at `sizes` and `strides` (in bytes) of `layout`."""
    intp = context.get_value_type(types.intp)
    target = cgutils.alloca_once_value(builder, out.data)
    with cgutils.loop_nest(builder, dims, intp) as index:
        where = cgutils.get_item_pointer2(context, builder, data, sizes, strides, layout, index)
        pointer = builder.load(target)
        context.pack_value(builder, element, value_at(where), pointer)
        builder.store(builder.gep(pointer, [intp(1)]), target)


@intrinsic
def expanded(typingctx, a, shape):
    """np.ascontiguousarray(np.broadcast_to(a, shape)) for an `a` with as many or fewer
    dimensions than `shape` (aligned at the end, each 1 or the target's: the caller
    checked): a new C-contiguous array, read from `a` at its own strides, a length-1 or
    missing axis repeated. Fused loops with long bodies run on such copies where an input
    broadcasts or is strided (kernels/elemwise.py), cross-entropy on broadcast logits."""
    if not (isinstance(a, types.Array) and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape) and len(shape) >= a.ndim):
        return None
    lead = len(shape) - a.ndim
    result = types.Array(a.dtype, len(shape), "C")

    def codegen(context, builder, sig, args):
        source = context.make_array(a)(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], len(shape)), shape)]
        out = _allocate(context, builder, result, dims)
        sizes = cgutils.unpack_tuple(builder, source.shape, a.ndim)
        steps = [builder.select(builder.icmp_signed("==", n, intp(1)), intp(0), step)
                 for n, step in zip(sizes, cgutils.unpack_tuple(builder, source.strides,
                                                                a.ndim))]
        _fill_in_c_order(context, builder, out, a.dtype, dims, source.data,
                         dims[:lead] + sizes, [intp(0)] * lead + steps, "A",
                         lambda where: context.unpack_value(builder, a.dtype, where))
        return out._getvalue()
    return result(a, shape), codegen


@intrinsic
def summed_to(typingctx, g, shape, dtype):
    """What `expanded` undoes: `g` summed down to `shape` (as many or fewer dimensions,
    aligned at the end, each 1 or g's own: the caller checked), in a new C-contiguous
    array of the float or integer `dtype`, adding in g's C order as a loop nest over g
    would. Lowered in place: the Python loops it replaced were ~0.2 s of a cold compile
    each (the MLP step has two), for a case that rarely runs (kernels/reduce.py)."""
    element = _element(dtype)
    if not (isinstance(g, types.Array) and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape) and len(shape) <= g.ndim
            and isinstance(element, (types.Float, types.Integer))
            and isinstance(g.dtype, (types.Float, types.Integer, types.Boolean))):
        return None
    rank, lead = len(shape), g.ndim - len(shape)
    result = types.Array(element, rank, "C")

    def codegen(context, builder, sig, args):
        source = context.make_array(g)(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], rank), shape)]
        out = _allocate(context, builder, result, dims)
        cgutils.memset(builder, out.data, builder.mul(out.nitems, out.itemsize), 0)
        sizes = cgutils.unpack_tuple(builder, source.shape, g.ndim)
        strides = cgutils.unpack_tuple(builder, source.strides, g.ndim)
        with cgutils.loop_nest(builder, sizes, intp) as index:
            where = cgutils.get_item_pointer2(context, builder, source.data, sizes, strides,
                                              g.layout, index)
            value = context.cast(builder, context.unpack_value(builder, g.dtype, where),
                                 g.dtype, element)
            offset = intp(0)
            for d, i in zip(dims, index[lead:]):  # a length-1 target axis takes every i
                i = builder.select(builder.icmp_signed("==", d, intp(1)), intp(0), i)
                offset = builder.add(builder.mul(offset, d), i)
            target = builder.gep(out.data, [offset])
            total = context.unpack_value(builder, element, target)
            add = builder.fadd if isinstance(element, types.Float) else builder.add
            context.pack_value(builder, element, add(total, value), target)
        return out._getvalue()
    return result(g, shape, dtype), codegen


def _allocate(context, builder, array_type, shape):
    """A new C-contiguous array struct of `array_type` and `shape` (intp values), through
    numba's runtime, 32-byte aligned as numba's np.empty, with its errors: ValueError where
    the size in bytes overflows, MemoryError where the allocation fails. Large ones get
    the huge-page hint (`_advise_huge`)."""
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
    nbytes = builder.extract_value(product, 0)
    meminfo = context.nrt.meminfo_alloc_aligned(builder, size=nbytes, align=32)
    data = context.nrt.meminfo_data(builder, meminfo)
    _advise_huge(context, builder, data, nbytes)
    array = context.make_array(array_type)(context, builder)
    _fill(context, builder, array, array_type, data, meminfo, shape,
          _c_strides(builder, itemsize, shape), nitems)
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


def _view(context, builder, result, source_type, value, shape, strides, nitems):
    """A `result`-typed view of the array `value` (of `source_type`): its memory with
    another shape and strides. The view holds a reference to the memory too."""
    source = context.make_array(source_type)(context, builder, value)
    array = context.make_array(result)(context, builder)
    _fill(context, builder, array, result, source.data, source.meminfo, shape, strides,
          nitems)
    array.parent = source.parent
    context.nrt.incref(builder, source_type, value)
    return array._getvalue()


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
        return _view(context, builder, result, sig.args[0], args[0], dims,
                     _c_strides(builder, source.itemsize, dims), source.nitems)
    return result(a, shape), codegen


@intrinsic
def transposed(typingctx, a, axes):
    """a.transpose(axes) for a permutation `axes` written as literal ints (the generated
    code's): a view of the same memory with permuted shape and strides. numba's own
    transpose checks its axes at run time with messages it formats from the shapes, and
    compiling that formatting (str, repr, concatenation) took ~5 s of every cold compile
    of a graph with a transpose."""
    if not (isinstance(a, types.Array) and isinstance(axes, types.BaseTuple)
            and len(axes) == a.ndim
            and all(isinstance(p, types.IntegerLiteral) for p in axes)):
        return None
    perm = [p.literal_value for p in axes]
    if sorted(perm) != list(range(a.ndim)):
        return None
    result = a.copy(layout="A") if perm != sorted(perm) else a

    def codegen(context, builder, sig, args):
        source = context.make_array(sig.args[0])(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, source.shape, a.ndim)
        strides = cgutils.unpack_tuple(builder, source.strides, a.ndim)
        return _view(context, builder, result, sig.args[0], args[0],
                     [shape[p] for p in perm], [strides[p] for p in perm], source.nitems)
    return result(a, axes), codegen


@intrinsic
def broadcast_view(typingctx, a, shape):
    """np.broadcast_to(a, shape) for an `a` the caller checked broadcasts to `shape` (as
    many or more dimensions, aligned at the end): a read-only view of the same memory,
    stride 0 along the axes it repeats. numba's own checks the shapes again and compiles
    as three functions per signature (~0.4 s of a cold compile each)."""
    if not (isinstance(a, types.Array) and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape) and len(shape) >= a.ndim):
        return None
    rank, lead = len(shape), len(shape) - a.ndim
    result = a.copy(ndim=rank, layout="A", readonly=True)

    def codegen(context, builder, sig, args):
        source = context.make_array(sig.args[0])(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], rank), shape)]
        sizes = cgutils.unpack_tuple(builder, source.shape, a.ndim)
        steps = [builder.select(builder.icmp_signed("==", n, intp(1)), intp(0), step)
                 for n, step in zip(sizes, cgutils.unpack_tuple(builder, source.strides,
                                                                a.ndim))]
        nitems = intp(1)
        for d in dims:
            nitems = builder.mul(nitems, d)
        return _view(context, builder, result, sig.args[0], args[0], dims,
                     [intp(0)] * lead + steps, nitems)
    return result(a, shape), codegen


@intrinsic
def reshape_any(typingctx, a, shape):
    """a.reshape(shape) for a size the caller checked (runtime.resolve_shape): a view of an
    array typed C-contiguous, a C-contiguous copy of any other (NumPy copies where it must;
    a copy is always correct). Lowered in place: as an overload it compiled a function per
    signature (~0.1 s each)."""
    if not (isinstance(a, types.Array) and isinstance(shape, types.BaseTuple)
            and all(isinstance(d, types.Integer) for d in shape)):
        return None
    result = a.copy(ndim=len(shape), layout="C", readonly=a.layout == "C" and not a.mutable)

    def codegen(context, builder, sig, args):
        dims = [context.cast(builder, d, t, types.intp)
                for d, t in zip(cgutils.unpack_tuple(builder, args[1], len(shape)), shape)]
        source = context.make_array(a)(context, builder, args[0])
        if a.layout != "C":   # a new C-contiguous copy, reshaped in place
            copy = _c_copy(context, builder, a, source)
            array = context.make_array(result)(context, builder)
            _fill(context, builder, array, result, copy.data, copy.meminfo, dims,
                  _c_strides(builder, copy.itemsize, dims), copy.nitems)
            return array._getvalue()
        return _view(context, builder, result, sig.args[0], args[0], dims,
                     _c_strides(builder, source.itemsize, dims), source.nitems)
    return result(a, shape), codegen


@intrinsic
def copy_into(typingctx, target, source):
    """target[...] = source for two C-contiguous arrays of one dtype and a shape the caller
    checked is the same: one memcpy. numba's slice assignment checks the shapes itself,
    with a message it formats at run time, and compiling that formatting took ~4 s of the
    first cold compile of a process that assigned an array into a slice."""
    if not (isinstance(target, types.Array) and isinstance(source, types.Array)
            and target.layout == source.layout == "C" and target.dtype == source.dtype
            and target.ndim == source.ndim and target.mutable):
        return None

    def codegen(context, builder, sig, args):
        out = context.make_array(target)(context, builder, args[0])
        into = context.make_array(source)(context, builder, args[1])
        cgutils.raw_memcpy(builder, out.data, into.data, into.nitems,
                           _itemsize(context, source.dtype))
        return context.get_dummy_value()
    return types.void(target, source), codegen


@intrinsic
def copy_at(typingctx, target, source, offset, axis):
    """target[..., offset:offset + n, ...] = source along the literal `axis`, for a
    C-contiguous `target` whose other dimensions the caller checked are source's (of any
    layout and the same dtype): what np.concatenate does for each of its inputs, in one
    loop nest, without numba's np.concatenate (a compile per signature, ~0.17 s)."""
    if not (isinstance(target, types.Array) and isinstance(source, types.Array)
            and target.layout == "C" and target.mutable and target.dtype == source.dtype
            and target.ndim == source.ndim and isinstance(offset, types.Integer)
            and isinstance(axis, types.IntegerLiteral)
            and 0 <= axis.literal_value < target.ndim):
        return None
    along = axis.literal_value

    def codegen(context, builder, sig, args):
        out = context.make_array(target)(context, builder, args[0])
        into = context.make_array(source)(context, builder, args[1])
        start = context.cast(builder, args[2], offset, types.intp)
        intp = context.get_value_type(types.intp)
        sizes = cgutils.unpack_tuple(builder, into.shape, source.ndim)
        strides = cgutils.unpack_tuple(builder, into.strides, source.ndim)
        out_sizes = cgutils.unpack_tuple(builder, out.shape, target.ndim)
        out_strides = cgutils.unpack_tuple(builder, out.strides, target.ndim)
        with cgutils.loop_nest(builder, sizes, intp) as index:
            where = cgutils.get_item_pointer2(context, builder, into.data, sizes, strides,
                                              source.layout, index)
            shifted = [builder.add(i, start) if j == along else i for j, i in enumerate(index)]
            to = cgutils.get_item_pointer2(context, builder, out.data, out_sizes, out_strides,
                                           "C", shifted)
            builder.store(builder.load(where), to)
        return context.get_dummy_value()
    return types.void(target, source, offset, axis), codegen


@intrinsic
def contiguous(typingctx, a):
    """np.ascontiguousarray(a): `a` itself where its type is C-contiguous; else a view of
    it typed C-contiguous where its strides are at run time (a slice of rows, say), else a
    C-contiguous copy. Lowered in place: numba's np.ascontiguousarray is a compile per
    signature."""
    if not isinstance(a, types.Array):
        return None
    result = a.copy(layout="C")

    def codegen(context, builder, sig, args):
        if a.layout == "C":
            context.nrt.incref(builder, a, args[0])
            return args[0]
        source = context.make_array(a)(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        shape = cgutils.unpack_tuple(builder, source.shape, a.ndim)
        strides = cgutils.unpack_tuple(builder, source.strides, a.ndim)
        fits, expected = cgutils.true_bit, source.itemsize
        for n, stride in zip(reversed(shape), reversed(strides)):  # NumPy's C-contiguity
            fits = builder.and_(fits, builder.or_(builder.icmp_signed("==", n, intp(1)),
                                                  builder.icmp_signed("==", stride, expected)))
            expected = builder.mul(expected, n)
        fits = builder.or_(fits, builder.icmp_signed("==", source.nitems, intp(0)))
        slot = cgutils.alloca_once(builder, context.get_value_type(result))
        with builder.if_else(fits) as (view, copy):
            with view:
                builder.store(_view(context, builder, result, a, args[0], shape,
                                    _c_strides(builder, source.itemsize, shape),
                                    source.nitems), slot)
            with copy:
                builder.store(_c_copy(context, builder, a, source)._getvalue(), slot)
        return builder.load(slot)
    return result(a), codegen


def _aliases(lhs, args, alias_map, arg_aliases):
    """numba's alias analysis, told that a call's result may share its first argument's
    memory: parallel loops writing through the result are then not dropped as dead."""
    ir_utils._add_alias(lhs, args[0].name, alias_map, arg_aliases)


for _function in ("shaped", "contiguous", "transposed", "broadcast_view", "reshape_any"):
    ir_utils.alias_func_extensions[(_function, __name__)] = _aliases

