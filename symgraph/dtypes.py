"""dtype names and promotion.

dtypes are plain strings (`"float32"`). Promotion follows NumPy 2 (NEP 50): Python scalars
are *weak*, so `float32_var * 2.0` stays float32 and `int8_var + 1` stays int8, while two
typed operands promote as NumPy does (`int32 / int32` is float64). float16 is not
supported: where NumPy would produce it (`exp` of an int8), symgraph produces float32.
"""

import numpy as np

from symgraph.errors import DTypeError

BOOL = "bool"
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTEGERS = SIGNED + UNSIGNED
FLOATS = ("float32", "float64")
ALL = (BOOL,) + INTEGERS + FLOATS


_NAMES: dict[np.dtype, str] = {}


def name_of(dtype: np.dtype) -> str:
    """`dtype.name`, cached: NumPy 2 computes the name in Python (microseconds per call),
    which dominated eager and reference-backend elementwise calls."""
    name = _NAMES.get(dtype)
    if name is None:
        name = _NAMES.setdefault(dtype, np.dtype(dtype).name)
    return name


def as_dtype(dtype: object) -> str:
    """The canonical name of `dtype` (a name, a NumPy dtype or a Python type)."""
    if type(dtype) is str and dtype in ALL:  # the common case, no NumPy dtype built
        return dtype
    try:
        name = name_of(np.dtype(dtype))
    except TypeError as exc:
        raise DTypeError(f"unknown dtype {dtype!r}; supported: {', '.join(ALL)}") from exc
    if name == "float16":
        return "float32"
    if name not in ALL:
        raise DTypeError(f"dtype {name} is not supported; supported: {', '.join(ALL)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOATS


def is_integer(dtype: str) -> bool:
    return dtype in INTEGERS


def is_python_scalar(value: object) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def result_type(*operands: object) -> str:
    """Promote dtype names and weak Python scalars as NumPy 2 does (float16 -> float32)."""
    args = [value if is_python_scalar(value) else np.dtype(value) for value in operands]
    return as_dtype(np.result_type(*args))


def default_dtype(value: object) -> str:
    """The dtype a Python scalar gets on its own: bool, int64, or `config.floatX`."""
    from symgraph.config import config

    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return "int64"
    return config.floatX


def can_cast(source: str, target: str) -> bool:
    """Whether `source` data may be fed where `target` is declared (safe casts only)."""
    return bool(np.can_cast(source, target, "safe"))
