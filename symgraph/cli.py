"""The `symgraph` command: `symgraph demo` (and `python -m symgraph demo`)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="symgraph",
        description="symgraph: a symbolic graph compiler for Python with an eager mode.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="train a digit classifier as a static graph and eagerly, and compare",
        description="Train a small neural network on scikit-learn's handwritten digits "
                    "twice — compiled as a static graph and run define-by-run (eager) — "
                    "then print a side-by-side table and write a loss-curve PNG and a "
                    "picture of the optimized graph.")
    demo.add_argument("--epochs", type=int, default=10, help="passes over the data (default 10)")
    demo.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    demo.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    demo.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    demo.add_argument("--backend", default=None,
                      help="numba (default), python (the reference interpreter) or cuda")
    demo.add_argument("--out", default="symgraph-demo",
                      help="folder for loss_curve.png and graph.svg (default ./symgraph-demo)")
    compile_cmd = commands.add_parser(
        "compile", help="compile an expression, show its graph and code, time it vs NumPy",
        description="Compile an expression given as text over typed variables, print the "
                    "optimized graph and the generated source, and time it against NumPy.",
        epilog='example: symgraph compile "exp(-x**2) * sin(y)" --var x=float32[1000000] '
               "--var y=float32[1000000]")
    compile_cmd.add_argument("expression", help="Python syntax over the variables and "
                             "NumPy-named functions (exp, sin, sum, where, …)")
    compile_cmd.add_argument("--var", action="append", default=[], metavar="NAME=DTYPE[SHAPE]",
                             help="a variable, e.g. x=float32[1000] (repeat for each)")
    compile_cmd.add_argument("--backend", default=None, help="numba (default), python or cuda")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "compile":
        from symgraph.expr import main as compile_main

        return compile_main(args.expression, args.var, args.backend)
    from symgraph.demo import run

    run(epochs=args.epochs, hidden=args.hidden, batch=args.batch_size, lr=args.lr,
        backend=args.backend, out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
