"""The differential fuzzer on the cuda backend under the simulator: run as a script, in a
subprocess with NUMBA_ENABLE_CUDASIM=1 (the simulator is chosen when numba.cuda is first
imported, so it cannot run inside the ordinary test process). tests/test_fuzz.py runs it.

    NUMBA_ENABLE_CUDASIM=1 python tests/fuzz_cuda_sim.py EXAMPLES [SEED]

Prints one line `ran=N skipped=M` and exits 0 when every program agrees with the python
backend; otherwise raises with the reproducer. Small shapes only: simulated threads are
slow. Without SEED the programs are derandomized (the same on every run).
"""

import os
import sys

from hypothesis import HealthCheck, given, seed, settings

import graphcheck
import graphgen

sys.setswitchinterval(5e-5)  # simulated CUDA threads wait on each other at barriers


def main(examples: int, chosen_seed: int | None) -> None:
    assert os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", "run with NUMBA_ENABLE_CUDASIM=1"
    counts = {"ran": 0, "skipped": 0}

    @settings(max_examples=examples, derandomize=chosen_seed is None, database=None,
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(graphgen.programs(families=("elemwise", "reduce", "shape", "index", "linalg"),
                             max_steps=5))
    def prop(program):
        result = graphcheck.run_all(program, ("cuda_opt",))
        counts["ran" if result["ran"] else "skipped"] += 1

    if chosen_seed is not None:
        prop = seed(chosen_seed)(prop)
    prop()
    print(f"ran={counts['ran']} skipped={counts['skipped']}")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
