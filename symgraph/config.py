"""Configuration: a handful of settings, each overridable by a `SYMGRAPH_*` variable.

`sg.config.floatX` is the dtype of variables declared without one; `backend` is the
backend `sg.function` uses when none is given; `cache_dir` is where compiled code is kept;
`debug` is 0 (quiet) to 3 (print graphs per pass, generated source, verify every rewrite);
`parallel_threshold` is how many elements the loop kernels' inputs must hold before the
numba backend runs its multi-threaded entry (read when a function is compiled; 0 always
runs it, a huge number never does).
"""

import math
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

from symgraph.errors import SymgraphError

_FLOATS = ("float32", "float64")


def _default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(pathlib.Path.home(), ".cache")
    return os.path.join(base, "symgraph")


@dataclass
class Config:
    """The settings; assign attributes to change them for this process."""

    floatX: str = field(default_factory=lambda: os.environ.get("SYMGRAPH_FLOATX", "float32"))
    backend: str = field(default_factory=lambda: os.environ.get("SYMGRAPH_BACKEND", "numba"))
    cache_dir: str = field(
        default_factory=lambda: os.environ.get("SYMGRAPH_CACHE_DIR", _default_cache_dir())
    )
    debug: int = field(default_factory=lambda: os.environ.get("SYMGRAPH_DEBUG", "0"))
    # Why 2**18 elements: the parallel entry is a second compile that took longer than the
    # first (MLP step: 10 s serial, then 14 s parallel), a parallel launch costs µs on a quiet
    # machine and ms when the cores are busy, and on 2 cores it at best halves a loop (tanh
    # over 2**17 float32: 162 µs serial, 82 µs parallel, interleaved medians).
    parallel_threshold: int = field(
        default_factory=lambda: os.environ.get("SYMGRAPH_PARALLEL_THRESHOLD", 1 << 18))

    def __setattr__(self, name: str, value: Any) -> None:
        """Each setting is checked where it is set (from its environment variable, or by
        assignment), so a bad value is reported once, naming the setting."""
        check = _CHECKS.get(name)
        super().__setattr__(name, value if check is None else check(name, value))


def _bad(name: str, value: Any, allowed: str) -> SymgraphError:
    return SymgraphError(f"sg.config.{name} (SYMGRAPH_{name.upper()}) is {value!r}; "
                         f"it must be {allowed}")


def _float_dtype(name: str, value: Any) -> str:
    if value not in _FLOATS:
        raise _bad(name, value, "'float32' or 'float64'")
    return value


def _text(name: str, value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise _bad(name, value, "a non-empty string")
    return value


def _count(low: int, high: float, allowed: str):
    def check(name: str, value: Any) -> int:
        number = value
        if isinstance(value, str):  # from the environment: "2", or "1e6"
            try:
                number = float(value.strip() or "0")
            except ValueError:
                raise _bad(name, value, allowed) from None
        if (isinstance(number, bool) or not isinstance(number, (int, float))
                or not math.isfinite(number) or number != int(number)
                or not low <= number <= high):
            raise _bad(name, value, allowed)
        return int(number)
    return check


_CHECKS = {"floatX": _float_dtype, "backend": _text, "cache_dir": _text,
           "debug": _count(0, 3, "0, 1, 2 or 3"),
           "parallel_threshold": _count(0, float("inf"), "a whole number of elements, >= 0")}


config = Config()
