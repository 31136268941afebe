"""`sg.random`: reproducible random numbers inside compiled graphs.

    srng = sg.random.RandomStream(seed=42)
    noise = srng.normal((x.shape[0], 3), scale=0.1)
    f = sg.function([x], x @ w + noise)     # each call of f draws fresh numbers

A thin namespace over `symgraph/api/random.py`; the draw ops are in
`symgraph/ops/random.py`.
"""

from symgraph.api.random import RandomStream

__all__ = ["RandomStream"]
