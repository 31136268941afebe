"""Configuration: a handful of settings, each overridable by a `SYMGRAPH_*` variable.

`sg.config.floatX` is the dtype of variables declared without one; `backend` is the
backend `sg.function` uses when none is given; `cache_dir` is where compiled code is kept;
`debug` is 0 (quiet) to 3 (print graphs per pass, generated source, verify every rewrite).
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


config = Config()
