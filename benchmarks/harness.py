"""Run one case for a set of implementations: build, first call, check, time.

NumPy-only, like common.py, so PyTensor's venv runs its rows with the same code.
"""

import dataclasses
import sys
import time
from typing import Callable

import numpy as np

from benchmarks.common import check, check_dtypes, describe, measure


@dataclasses.dataclass
class Case:
    """One workload at one dtype: lazily made inputs, a reference, implementations.

    Each implementation is a factory `make(*inputs) -> call` (or `(call, fetch)`); `call()`
    runs the workload once with the work finished (async peers block inside) and returns
    its outputs, or `fetch()` returns them when fetching would cost inside the timing.
    `post(outputs, inputs)` maps outputs before the check (e.g. parameters to updates).
    """
    name: str
    dtype: str
    inputs: Callable[[], tuple]
    reference: Callable[..., list]
    impls: dict
    tol: tuple | None = None
    post: Callable | None = None
    ops_per_call: int | None = None  # adds a per-op time to the row's note
    labels: dict = dataclasses.field(default_factory=dict)  # impl -> name shown in the table


def to_numpy(out):
    """Outputs of any implementation as a list of NumPy arrays (outside the timing)."""
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in to_numpy(o)]
    if hasattr(out, "detach"):  # torch
        return [out.detach().cpu().numpy()]
    if hasattr(out, "numpy") and not isinstance(out, np.ndarray):  # eager tensors
        return [np.asarray(out.numpy())]
    return [np.asarray(out)]


def _failure(impl, exc):
    """Classify an exception: peers not installed and unfinished symgraph are 'unavailable'."""
    if impl == "symgraph" or isinstance(exc, (ImportError, NotImplementedError)):
        return "unavailable", describe(exc)
    return "failed", describe(exc)


def run_case(case, impl_names, repeat=7, budget_s=3.0, log=sys.stderr):
    """Rows (dicts) for the named implementations of one case that it defines."""
    rows = []
    inputs = None
    reference = None
    for impl in impl_names:
        if impl not in case.impls:
            continue
        row = {"case": case.name, "impl": impl, "label": case.labels.get(impl, impl),
               "status": "ok", "reason": ""}
        rows.append(row)
        print(f"  {case.name:<22} {impl:<14}", end="", file=log, flush=True)
        if inputs is None:
            inputs = case.inputs()
        try:
            t0 = time.perf_counter()
            made = case.impls[impl](*inputs)
            call, fetch = made if isinstance(made, tuple) else (made, None)
            out = call()
            out = to_numpy(fetch() if fetch else out)
            row["first_s"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - a broken peer must not stop the run
            row["status"], row["reason"] = _failure(impl, exc)
            print(f" {row['status']}: {row['reason']}", file=log, flush=True)
            continue
        if reference is None:
            reference = [np.asarray(r) for r in case.reference(*inputs)]
            if case.post:
                reference = case.post(reference, inputs)
        problem = check_dtypes(out, case.dtype)
        if case.post:
            out = case.post(out, inputs)
        problem = problem or check(out, reference, case.dtype, case.tol)
        if problem:
            row["status"], row["reason"] = "mismatch", problem
        try:
            row.update(measure(call, repeat=repeat, budget_s=budget_s))
        except Exception as exc:  # noqa: BLE001
            row["status"], row["reason"] = _failure(impl, exc)
        if case.ops_per_call and "median_s" in row:
            row["reason"] = (row["reason"] + "; " if row["reason"] else "") + \
                f"{row['median_s'] / case.ops_per_call * 1e6:.2f} us/op"
        shown = f" {row['median_s'] * 1e3:10.4f} ms" if "median_s" in row else ""
        print(f"{shown} {row['status']} {row['reason']}", file=log, flush=True)
        del call, fetch, made
    return rows
