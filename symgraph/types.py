"""TensorType and static broadcasting.

A type is a dtype and a shape whose entries are ints or `None` (unknown until run time).
Static broadcasting is checked when a node is built; a `None` dimension may turn out to be
1 at run time and then broadcasts like NumPy (PyTensor refuses this; symgraph does not).
"""

from dataclasses import dataclass

from symgraph.errors import ShapeError

Shape = tuple[int | None, ...]


@dataclass(frozen=True)
class TensorType:
    """The static type of a variable: dtype name and shape with `None` for unknown."""

    dtype: str
    shape: Shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"

    def accepts_shape(self, shape: tuple[int, ...]) -> bool:
        """Whether a concrete `shape` fits this type's known dimensions."""
        if len(shape) != self.ndim:
            return False
        return all(d is None or d == s for d, s in zip(self.shape, shape))


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """NumPy broadcasting of static shapes; raises ShapeError when known sizes clash."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out: list[int | None] = []
    for axis in range(ndim):
        dims = [s[axis] for s in padded]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            listed = " with ".join("[" + ",".join("?" if d is None else str(d) for d in s) + "]"
                                   for s in shapes)
            raise ShapeError(
                f"{op}: cannot broadcast {listed}: dimension {axis - ndim} has sizes "
                f"{sorted(known)}; trailing dimensions must be equal or 1"
            )
        if known:
            out.append(known.pop())
        elif all(d == 1 for d in dims):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def normalize_axis(axis: int, ndim: int, op: str) -> int:
    """A non-negative axis, or a ShapeError naming the op."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for a {ndim}-d input")
    return axis % ndim


def normalize_axes(axis: int | tuple[int, ...] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Sorted non-negative axes from `None` (all), an int or a tuple; duplicates refused."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = tuple(sorted(normalize_axis(a, ndim, op) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return out


@dataclass(frozen=True)
class TupleType:
    """The type of a multi-output node; `sg.*` wrappers split it with TupleGet nodes."""

    types: tuple[TensorType, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.types) + ")"
