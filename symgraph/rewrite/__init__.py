"""The optimizer: rewrite passes over the graph IR.

The passes, in the order `symgraph/compile.py` lists them:

    canonicalize   one spelling per expression (constants last, left-deep sums, x-c -> x+-c)
    fold           constant subgraphs computed now (size-capped)
    simplify       algebraic identities (x*1, --x, log(exp(x)), sum_to of the same shape, …)
    stabilize      log(1+x) -> log1p, log(softmax) -> log_softmax, … (the stable forms)
    specialize     x**2 -> x*x, x**0.5 -> sqrt
    share_log_softmax  softmax(z) and cross_entropy(z, labels) from one log_softmax(z)
    optimize_loops scan steps optimized, loop invariants hoisted, unused history dropped
    fuse           elementwise chains -> Fused, with their reductions -> FusedReduce
    plan_reuse     where an output may overwrite a dead input (graph.reuse, for backends)

Each rule pass also runs the rules of the passes before it, so what a later rule builds is
put back in canonical form in the same fixpoint; common subexpressions are merged and dead
nodes dropped by every rule pass. See docs/optimizer.md.
"""

from symgraph.graph import graph_hash
from symgraph.rewrite.canonicalize import canonicalize
from symgraph.rewrite.engine import RuleSet, collect_stats, rank
from symgraph.rewrite.fold import fold
from symgraph.rewrite.fuse import fuse
from symgraph.rewrite.loops import optimize_loops
from symgraph.rewrite.reuse import plan_reuse, reuse
from symgraph.rewrite.simplify import simplify
from symgraph.rewrite.share import share_log_softmax
from symgraph.rewrite.specialize import specialize
from symgraph.rewrite.stabilize import stabilize

__all__ = ["RuleSet", "canonicalize", "collect_stats", "fold", "fuse", "graph_hash",
           "optimize_loops", "plan_reuse", "rank", "reuse", "share_log_softmax", "simplify",
           "specialize", "stabilize"]
