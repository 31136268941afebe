"""Compile recorded kernels to PTX without a GPU, and check float32 kernels for float64.

Run a workload with `SYMGRAPH_CUDA_RECORD=FILE` (under the simulator, say), then

    python -m backends.numba_cuda.ptx FILE

regenerates every recorded kernel in its real-hardware form (warp-shuffle reductions,
16 x 16 matmul tiles), compiles it with `numba.cuda.compile_ptx(..., cc=(8, 0))` and, for
kernels whose floating-point values are all float32, fails on any `.f64` instruction. One
exception is allowed, libdevice's own: `sinf`/`cosf`/`tanf` reduce huge arguments
(|x| > 105615) with a float64 multiply by pi/2; the check accepts exactly those three
instructions, and only in kernels that call sin, cos or tan.
"""

from __future__ import annotations

import pickle
import re
import sys
from typing import Any

import numpy as np

from backends.numba_cuda import codegen, random  # noqa: F401 (registers its kernels)

_LIBDEVICE_TRIG = re.compile(r"^\s*(cvt\.rn\.f64\.s64\s|cvt\.rn\.f32\.f64\s|mul\.f64\s+%fd\d+, "
                             r"%fd\d+, 0d3BF921FB54442D19;)")
_F64 = re.compile(r"^\s*[a-z][\w.]*\.f64\b")


def load(path: str) -> list[tuple]:
    """The recorded (generator, params) keys, in order, without repeats."""
    keys, seen = [], set()
    with open(path, "rb") as f:
        while True:
            try:
                key = pickle.load(f)
            except EOFError:
                break
            if key not in seen:
                seen.add(key)
                keys.append(key)
    return keys


def hardware_form(name: str, params: dict) -> dict:
    params = dict(params)
    if name == "reduce":
        params.update(block=256, warp=True)
    if name == "matmul":
        params.update(tile=16)
    return params


def representative(name: str, params: dict) -> tuple:
    """Kernels differing only in layout or rank share typing: compile one of each."""
    skip = {"elemwise": ("modes", "ndim"), "reduce": ("n_kept", "n_red"),
            "index": ("ndim",), "offsets": ("ndim",),
            "draw": ("lo_mode", "hi_mode")}.get(name, ())
    return (name,) + tuple((k, v) for k, v in sorted(params.items()) if k not in skip)


def _numba_type(kind: str, dtype: str) -> Any:
    from numba import from_dtype, types

    scalar = from_dtype(np.dtype(dtype))
    return types.Array(scalar, 1, "C") if kind == "array" else scalar


def compile_one(name: str, params: dict) -> tuple[str, str, list]:
    """(source, ptx, signature) of one kernel in its hardware form."""
    from numba import cuda

    text, sig = codegen.source(name, **params)
    space = codegen.namespace()
    exec(compile(text, f"<symgraph-cuda {name}>", "exec"), space)
    ptx, _ = cuda.compile_ptx(space["kernel"], tuple(_numba_type(k, d) for k, d in sig),
                              cc=(8, 0))
    return text, ptx, sig


def float64_lines(text: str, ptx: str) -> list[str]:
    """The float64 instructions of a kernel's PTX, less libdevice's trig reduction."""
    trig = any(f"math.{f}(" in text for f in ("sin", "cos", "tan"))
    found = []
    for line in ptx.splitlines():
        if line.strip().startswith(".reg") or not _F64.match(line):
            continue
        if trig and _LIBDEVICE_TRIG.match(line):
            continue
        found.append(line.strip())
    return found


def _check_one(job: tuple[str, dict]) -> str | None:
    name, params = job
    try:
        text, ptx, sig = compile_one(name, params)
    except Exception as error:  # report every failing kernel, not just the first
        return f"{name} {params}: does not compile: {error}"
    floats = {d for _, d in sig if d.startswith("float")}
    if floats == {"float32"} and float64_lines(text, ptx):
        return (f"{name} {params}: float64 in a float32 kernel: "
                f"{float64_lines(text, ptx)[:3]}\n{text}")
    return None


def check(path: str, workers: int = 2) -> tuple[int, list[str]]:
    """Compile one representative of every recorded kernel; (count, problems)."""
    from concurrent.futures import ProcessPoolExecutor

    jobs, done = [], set()
    for name, items in load(path):
        params = hardware_form(name, dict(items))
        key = representative(name, params)
        if key not in done:
            done.add(key)
            jobs.append((name, params))
    with ProcessPoolExecutor(workers) as pool:
        problems = [p for p in pool.map(_check_one, jobs, chunksize=8) if p]
    return len(jobs), problems


if __name__ == "__main__":
    count, problems = check(sys.argv[1])
    print(f"compiled {count} kernels to PTX; {len(problems)} problem(s)")
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)
