"""One implementation's rows, in a process of its own, printed as JSON.

    python -m benchmarks.worker --impl torch --size full --only W1,W3

The runner starts one worker per implementation, so that no two libraries' thread pools
(OpenBLAS, numba, OpenMP in torch, XLA's) share a process and spin against each other
on 2 cores, and so that a crashing peer loses only its own rows. Progress goes to
stderr; the rows go to the last line of stdout as one JSON list.
"""

import argparse
import json
import sys

from benchmarks.cases import IMPLS, WORKLOADS, all_cases
from benchmarks.harness import run_case


def add_arguments(parser):
    parser.add_argument("--size", default="full", choices=["full", "quick"])
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--budget", type=float, default=3.0)


def run(impl, args):
    found = []
    for case in all_cases(args.size, args.only.split(",")):
        found += run_case(case, [impl], repeat=args.repeat, budget_s=args.budget)
    print(json.dumps(found), flush=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", required=True, choices=IMPLS)
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.impl, args)


if __name__ == "__main__":
    sys.exit(main())
