"""The backend registry: `get(name)` and `available()`.

Backends are imported lazily, so the core never needs numba. Each backend module exposes
`BACKEND`, an object with `name`, `kinds` (the kernel kinds it implements) and
`lower(graph) -> runner`, where `runner(input_arrays) -> list of output arrays`.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "python": "backends.python",
    "numba": "backends.numba_cpu",
    "cuda": "backends.numba_cuda",
}


def get(name: str) -> Any:
    """The backend called `name`, or an error listing the known ones."""
    from symgraph.errors import SymgraphError

    if name not in _MODULES:
        raise SymgraphError(f"unknown backend {name!r}; choose one of {', '.join(_MODULES)}")
    try:
        module = importlib.import_module(_MODULES[name])
    except ImportError as exc:
        raise SymgraphError(f"backend {name!r} is not available here: {exc}") from exc
    return module.BACKEND


def available() -> list[str]:
    """The backends that import on this machine."""
    names = []
    for name in _MODULES:
        try:
            get(name)
        except Exception:
            continue
        names.append(name)
    return names
