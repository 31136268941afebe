"""`sg.nn`: activations, the softmax family, one-hot encoding, losses and dropout.

A thin namespace: the functions live in `symgraph/api/nn.py` (and the elementwise and
reduction families); `softmax`, `log_softmax` and the cross-entropy are stable ops of
their own (`symgraph/ops/nn.py`).
"""

from symgraph.api.math import sigmoid, softplus
from symgraph.api.nn import (binary_cross_entropy, cross_entropy, dropout, log_softmax, one_hot,
                             relu, softmax)
from symgraph.api.reduce import logsumexp

__all__ = ["relu", "sigmoid", "softplus", "softmax", "log_softmax", "logsumexp", "one_hot",
           "binary_cross_entropy", "cross_entropy", "dropout"]
