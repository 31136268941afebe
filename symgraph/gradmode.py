"""Grad mode for eager tensors: whether eager operations record a tape, per thread
(`sg.eager.no_grad()`, `sg.eager.enable_grad()`, `sg.eager.is_grad_enabled()`)."""

from __future__ import annotations

import functools
import threading
from typing import Any


class _GradMode(threading.local):
    enabled = True  # per thread, like PyTorch: a no_grad block in one thread is not global


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether eager operations record a tape in this thread."""
    return _mode.enabled


class _SetGradMode:
    """A context manager (and decorator) that sets grad mode and restores it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.saved: list[bool] = []

    def __enter__(self) -> None:
        self.saved.append(_mode.enabled)
        _mode.enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        _mode.enabled = self.saved.pop()

    def __call__(self, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _SetGradMode(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


def no_grad() -> _SetGradMode:
    """`with sg.eager.no_grad():` (or `@sg.eager.no_grad()`): compute without recording."""
    return _SetGradMode(False)


def enable_grad() -> _SetGradMode:
    """Turn recording back on inside a `no_grad` block."""
    return _SetGradMode(True)
