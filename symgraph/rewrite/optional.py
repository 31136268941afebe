"""Op classes that other parts of symgraph may or may not define yet.

Rules may name ops from families that are written in parallel (softmax, transpose, …);
`op_class` returns None when the class does not exist; `RuleSet.rule` skips None, and
`when(...)` drops a rule whose pattern or result needs a missing class.
"""

from __future__ import annotations

import importlib


def op_class(module: str, name: str) -> type | None:
    """`module.name` if that module defines it, else None."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def when(*required: type | None) -> tuple:
    """Use as `@rule(*when(LogSoftmax)(Log))`: the op classes to register the rule for,
    or none when a class the rule builds or matches is missing."""
    def classes(*op_classes: type) -> tuple:
        return op_classes if all(r is not None for r in required) else ()

    return classes
