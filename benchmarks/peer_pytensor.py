"""PyTensor's rows, run by the python of benchmarks/.venv-pytensor (PyTensor pins its numba).

    benchmarks/.venv-pytensor/bin/python -m benchmarks.peer_pytensor --size full --only W1,W3
    benchmarks/.venv-pytensor/bin/python -m benchmarks.peer_pytensor --probe mlp

The first form is a worker (see worker.py) for the PyTensor implementation: the same
inputs, check against NumPy and timing as every other row, printed as one JSON list on
the last line of stdout. The second form is one W4 compile-latency probe (see
compile_latency.py). The runner calls both; only NumPy-only modules are imported here.
"""

import argparse
import json
import sys

from benchmarks import worker


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    worker.add_arguments(parser)
    parser.add_argument("--probe", choices=["mlp", "chain"])
    args = parser.parse_args(argv)
    if args.probe:
        from benchmarks.compile_latency import probe
        print(json.dumps(probe("pytensor", args.probe)), flush=True)
        return 0
    return worker.run("pytensor", args)


if __name__ == "__main__":
    sys.exit(main())
