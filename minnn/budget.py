"""A cap on the numbers that building layers may allocate while a file is loaded.

``load_model`` must rebuild the architecture a file describes before it can
compare the file's weights with it, and building draws every weight's initial
values. A crafted file could describe a layer of 2**27 units beside weights of
shape (4, 3), and minnn would allocate gigabytes before noticing. So while
``load_model`` builds, each ``Layer.add_weight`` first reserves its size against
the number of values the file's own weights hold (known from their headers):
a model that loads must have exactly that many, so a larger one is refused
before its first oversized array exists.
"""
import contextlib
import contextvars

_remaining = contextvars.ContextVar("minnn_weight_budget", default=None)


class BudgetExceeded(ValueError):
    """A layer asked for more weight values than the file being loaded holds."""


def limit(stack, n_values):
    """Until ``stack`` (a ``contextlib.ExitStack`` being used in a ``with``) closes, layers
    may create at most ``n_values`` weight values in total. Setting the limit and
    registering its removal are one statement, and the removal is the C-level
    ``ContextVar.reset`` called by the ExitStack, so no Ctrl-C can leave it in place."""
    stack.callback(_remaining.reset, _remaining.set([n_values]))


def reserve(shape, what):
    """Count a weight of ``shape`` against the current limit, if any; raise if it is over."""
    box = _remaining.get()
    if box is None:
        return
    size = 1
    for d in shape:
        size *= int(d)
    if size > box[0]:
        raise BudgetExceeded(
            f"the architecture asks for a weight {what} of shape {tuple(shape)}, more values "
            f"than the file's weights hold ({box[0]} left); the file does not match its own "
            "architecture."
        )
    box[0] -= size
