"""The few exception classes symgraph raises.

Every message names the op, shows the offending shapes or dtypes, says what was expected,
and ends with the user's source line that created the node when one is known.
"""


class SymgraphError(Exception):
    """Base class of every error symgraph raises on purpose."""


class ShapeError(SymgraphError, ValueError):
    """Shapes that cannot work together (broadcasting, reshape, matmul, indexing, …)."""


class DTypeError(SymgraphError, TypeError):
    """A dtype that is not supported here, or an unsafe cast that was refused."""


class GradientError(SymgraphError):
    """A gradient that cannot be taken: non-scalar cost, disconnected or integer input, …"""


class LoweringError(SymgraphError):
    """A backend that cannot compile a node (no kernel for that op kind, say)."""


class NonFiniteError(SymgraphError, FloatingPointError):
    """A NaN or inf found by the NaN guard (`sg.function(..., check_nan=True)`)."""


def with_origin(error: SymgraphError, origin: str | None) -> SymgraphError:
    """Return `error` with ` (created at FILE:LINE)` appended, once."""
    message = str(error)
    if origin and "(created at" not in message:
        error.args = (f"{message} (created at {origin})",) + error.args[1:]
    return error
