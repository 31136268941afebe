"""`symgraph compile "exp(-x**2) * sin(y)" --var x=float32[1000] ...`: compile an expression
given as text, print the optimized graph and the generated kernel source, and time it
against NumPy evaluating the same text."""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np

import symgraph as sg

_SPEC = re.compile(r"^(\w+)=(\w+)\[([\d, ]*)\]$")
_NAMES = ["exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "arctan",
          "sinh", "cosh", "abs", "sign", "floor", "ceil", "maximum", "minimum", "where",
          "sum", "prod", "mean", "max", "min", "clip", "power", "arctan2", "round"]


def parse_spec(text: str) -> tuple[str, str, tuple[int, ...]]:
    """`x=float32[1000,3]` -> ("x", "float32", (1000, 3)); `[]` is a scalar."""
    match = _SPEC.match(text.replace(" ", ""))
    if not match:
        raise SystemExit(f"cannot read variable spec {text!r}; write NAME=DTYPE[SHAPE], "
                         "e.g. x=float32[1000] or s=float64[]")
    name, dtype, dims = match.groups()
    shape = tuple(int(d) for d in dims.split(",") if d)
    return name, dtype, shape


def _namespace(module: Any, variables: dict[str, Any]) -> dict[str, Any]:
    space = {name: getattr(module, name) for name in _NAMES if hasattr(module, name)}
    space.update(variables)
    return space


def _median_time(fn: Any, args: list, repeat: int = 20) -> float:
    fn(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compile_expression(text: str, specs: list[str], backend: str | None = None,
                       seed: int = 0) -> dict[str, Any]:
    """Compile `text` over the variables in `specs`, check it against NumPy and time both."""
    parsed = [parse_spec(s) for s in specs]
    symbols = {name: sg.tensor(name, dtype, shape) for name, dtype, shape in parsed}
    output = eval(text, {"__builtins__": {}}, _namespace(sg, symbols))  # the user's own text
    start = time.perf_counter()
    fn = sg.function(list(symbols.values()), output, backend=backend)
    compile_s = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    data = [rng.uniform(-2, 2, shape).astype(dtype) for _, dtype, shape in parsed]
    numpy_fn = lambda *values: eval(text, {"__builtins__": {}},  # noqa: E731
                                    _namespace(np, dict(zip(symbols, values))))
    got, want = fn(*data), np.asarray(numpy_fn(*data))
    tol = 1e-4 if got.dtype == np.float32 else 1e-10
    agree = bool(np.allclose(got, want, rtol=tol, atol=tol, equal_nan=True))
    return {"function": fn, "compile_s": compile_s, "agree": agree,
            "symgraph_s": _median_time(fn, data), "numpy_s": _median_time(numpy_fn, data)}


def main(text: str, specs: list[str], backend: str | None) -> int:
    result = compile_expression(text, specs, backend)
    fn = result["function"]
    print(f"== optimized graph ({len(fn.unoptimized)} nodes as written, {len(fn.graph)} after)")
    print(fn.graph)
    print("\n== generated source")
    print(fn.source or f"(the {fn.backend!r} backend interprets the graph; no source)")
    print("\n== timing (median of 20 calls)")
    ratio = result["numpy_s"] / result["symgraph_s"]
    print(f"compile {result['compile_s'] * 1e3:.1f} ms | symgraph {result['symgraph_s'] * 1e3:.3f}"
          f" ms | NumPy {result['numpy_s'] * 1e3:.3f} ms | speed-up x{ratio:.2f} | "
          f"results agree with NumPy: {result['agree']}")
    return 0 if result["agree"] else 1
