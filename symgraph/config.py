"""Configuration: a handful of settings, each overridable by a `SYMGRAPH_*` variable.

`sg.config.floatX` is the dtype of variables declared without one; `backend` is the
backend `sg.function` uses when none is given; `cache_dir` is where compiled code is kept;
`debug` is 0 (quiet) to 3 (print graphs per pass, generated source, verify every rewrite);
`parallel_threshold` is how many elements the loop kernels' inputs must hold before the
numba backend runs its multi-threaded entry (read when a function is compiled; 0 always
runs it, a huge number never does).
"""

import os
import pathlib
from dataclasses import dataclass, field


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
    debug: int = field(default_factory=lambda: int(os.environ.get("SYMGRAPH_DEBUG", "0") or 0))
    # Why 2**18 elements: the parallel entry is a second compile that took longer than the
    # first (MLP step: 10 s serial, then 14 s parallel), a parallel launch costs µs on a quiet
    # machine and ms when the cores are busy, and on 2 cores it at best halves a loop (tanh
    # over 2**17 float32: 162 µs serial, 82 µs parallel, interleaved medians).
    parallel_threshold: int = field(
        default_factory=lambda: int(os.environ.get("SYMGRAPH_PARALLEL_THRESHOLD", 1 << 18)))


config = Config()
