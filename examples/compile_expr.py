"""Compile an expression given on the command line; print its optimized graph, the generated
kernel source, and a timing against NumPy.

    python examples/compile_expr.py "exp(-x**2) * sin(y)" --var x=float32[1000000] \
        --var y=float32[1000000]
"""

import sys

from symgraph.cli import main

if __name__ == "__main__":
    sys.exit(main(["compile", *sys.argv[1:]]))
