"""The differential fuzzer, run long: `python -m benchmarks.soak --examples N --seed S`.

Runs the properties of tests/test_fuzz.py (random programs agree across the python backend
unoptimized and optimized, eager mode, sg.jit and the numba backend; random differentiable
programs' gradients agree with finite differences) in batches of fresh random programs
until `--examples` programs per property or `--minutes` have passed. A failure does not
stop the run: each distinct failure is kept with its reproducer (the program's source and
data seed) and printed at the end; `--json PATH` writes the counts and failures.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from typing import Any, Callable

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))

import graphcheck  # noqa: E402
import graphgen  # noqa: E402

ALL = tuple(f for f in graphgen.FAMILIES if f != "smooth")


def _differential(evaluators: tuple[str, ...]) -> Callable:
    def check(program: graphgen.Program) -> str:
        result = graphcheck.run_all(program, evaluators)
        return "skipped" if result["skipped"] and not result["ran"] else "ran"
    return check


def _gradients(backends: tuple[str, ...]) -> Callable:
    def check(program: graphgen.Program) -> str:
        return "ran" if graphcheck.check_gradients(program, backends) else "skipped"
    return check


PROPERTIES: dict[str, tuple[Any, Callable, int]] = {
    # name: (strategy, check, examples per batch)
    "python+eager+jit": (graphgen.programs(families=ALL),
                         _differential(("python_opt", "eager", "jit")), 100),
    "numba": (graphgen.programs(families=graphgen.NUMBA_FAMILIES),
              _differential(("numba_opt",)), 20),
    "gradients": (graphgen.programs(families=graphgen.SMOOTH, dtypes=("float64",),
                                    specials=False, max_leaves=2, max_steps=6),
                  _gradients(("python", "numba")), 5),
}


def run_batch(name: str, batch_seed: int, examples: int, stats: dict, failures: dict,
              deadline: float | None = None) -> None:
    strategy, check, _ = PROPERTIES[name]

    @seed(batch_seed)
    @settings(max_examples=examples, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(program: graphgen.Program) -> None:
        if deadline and time.monotonic() > deadline:
            return  # out of time: let the batch run out without checking more programs
        try:
            stats[name][check(program)] += 1
        except Exception as error:  # keep going: one reproducer per distinct failure
            stats[name]["failed"] += 1
            text = str(error).strip()
            key = (name, text.splitlines()[0][:160] if text else type(error).__name__)
            if key not in failures:
                failures[key] = f"{type(error).__name__}: {text}\n{program}"
                print(f"\n===== new failure in {name}\n{failures[key][:4000]}\n", flush=True)

    prop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000,
                        help="random programs per property (default 1000)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=sorted(PROPERTIES), action="append")
    parser.add_argument("--json", help="write the counts and failures here")
    args = parser.parse_args(argv)
    names = args.only or list(PROPERTIES)
    stats = {name: collections.Counter() for name in names}
    failures: dict = {}
    start = time.monotonic()
    deadline = start + 60 * args.minutes if args.minutes else None
    batch = 0
    while True:
        pending = [n for n in names if sum(stats[n].values()) < args.examples]
        if not pending or (deadline and time.monotonic() > deadline):
            break
        for name in pending:
            per_batch = min(PROPERTIES[name][2], args.examples - sum(stats[name].values()))
            run_batch(name, args.seed * 1_000_003 + batch, per_batch, stats, failures, deadline)
        batch += 1
        done = ", ".join(f"{n}: {dict(stats[n])}" for n in names)
        print(f"[{time.monotonic() - start:7.1f}s] {done}; {len(failures)} distinct failures",
              flush=True)
    print(f"\n{len(failures)} distinct failures:")
    for name, headline in failures:
        print(f"  {name}: {headline}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"seed": args.seed, "seconds": round(time.monotonic() - start, 1),
                       "programs": {n: dict(stats[n]) for n in names},
                       "failures": [{"property": n, "headline": h, "detail": d}
                                    for (n, h), d in failures.items()]}, handle, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
