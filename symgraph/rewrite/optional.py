"""Op classes that other parts of symgraph may or may not define yet.

Rules may name ops from families that are written in parallel (softmax, transpose, …);
`op_class` returns None when the class does not exist, and `RuleSet.rule` skips None.
"""

from __future__ import annotations

import importlib


def op_class(module: str, name: str) -> type | None:
    """`module.name` if that module defines it, else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
