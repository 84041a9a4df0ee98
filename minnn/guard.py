"""An optimiser step that happens completely or not at all.

The training step wraps its update in this guard, visibly::

    with self._step_guard.protect(self.optimizer, weights, loss):
        self.optimizer.apply(grads, weights)

An Adam step changes the weights, m, v and ``iterations`` in a dozen in-place
NumPy calls. Three things can stop it half-way or spoil it:

- a loss that is already NaN or inf: its gradients would spoil every weight,
  so the guard refuses to enter (TrainingDiverged('loss')) and nothing changes;
- Ctrl-C: Python raises KeyboardInterrupt between any two of those calls, and
  the model would be left with some weights updated and others not;
- an update that overflows, leaving a weight NaN or ±inf.

On entering, ``protect`` copies the flat weight buffers and the optimiser's
state into buffers it keeps (``memcpy``s of P numbers). On leaving, it checks
the weights are still finite (one dot product with zeros); if the block raised
or a weight is not finite, it copies everything back, and the exception (or
TrainingDiverged('weights')) goes on. For the tutorial's 1003 weights this
costs a few microseconds per step, a few percent of a step. The model then
holds exactly the weights of the last completed, finite step.
"""
import math

import numpy as np


class TrainingDiverged(RuntimeError):
    """The loss (before an update) or the weights (after one) became NaN or inf.

    ``value`` is the offending loss; ``what`` is 'loss' or 'weights'.
    """

    def __init__(self, value, what="loss"):
        super().__init__(value, what)
        self.value = value
        self.what = what

    def __str__(self):
        if self.what == "loss":
            return f"the loss is {self.value}: a step from it would spoil every weight"
        return (f"the update made some weights NaN or inf (the loss before it was "
                f"{self.value:.6g}); it was undone")


def all_finite(arrays, zeros):
    """True if every number in ``arrays`` is finite.

    x·0 is 0 for every finite x and NaN for NaN or ±inf, so one dot product
    with a vector of zeros answers the question without a boolean copy and
    without the risk of a sum overflowing (``zeros[i]`` matches ``arrays[i]``).
    """
    for a, z in zip(arrays, zeros):
        if not math.isfinite(np.dot(a, z)):
            return False
    return True


def _state_arrays(optimizer):
    # The optimiser's live state arrays (Adam's m and v), or [] for a stateless
    # or not yet built optimiser. A custom optimiser may define `_state_arrays`.
    fn = getattr(optimizer, "_state_arrays", None)
    return fn() if fn is not None else []


class StepGuard:
    """Makes one optimiser step on the model's flat buffers all or nothing (see ``protect``)."""

    def __init__(self):
        self._live = None      # the arrays the copies below were made for
        self._copies = []      # one preallocated copy per live array
        self._zeros = []       # one vector of zeros per parameter array, for all_finite

    def _prepare(self, params, state):
        # (Re)allocate the copies when the model or the optimiser state changed;
        # on every other step this is skipped, so a step allocates nothing.
        live = list(params) + list(state)
        if self._live is None or len(live) != len(self._live) or any(
                a is not b for a, b in zip(live, self._live)):
            self._live = live
            self._copies = [np.empty_like(a) for a in live]
            self._zeros = [np.zeros(p.size, dtype=p.dtype) for p in params]
        return self._live

    def protect(self, optimizer, params, loss):
        """``with guard.protect(optimizer, params, loss): optimizer.apply(grads, params)``
        updates ``params`` (1-D arrays, changed in place) all or nothing; see the module
        docstring. Raises TrainingDiverged('loss') before anything changes if ``loss``
        is not finite, and TrainingDiverged('weights') after undoing an update that
        made a weight non-finite."""
        self._step = (optimizer, params, loss)
        return self

    def __enter__(self):
        optimizer, params, loss = self._step
        if not math.isfinite(loss):
            raise TrainingDiverged(loss)
        state = _state_arrays(optimizer)
        self._had_state = bool(state)
        live = self._prepare(params, state)
        for c, a in zip(self._copies, live):
            np.copyto(c, a)
        self._iterations = optimizer.iterations
        return self

    def __exit__(self, exc_type, exc, tb):
        optimizer, params, loss = self._step
        if exc_type is None and all_finite(params, self._zeros):
            return False
        self._restore(optimizer, self._live, self._had_state, self._iterations)
        if exc_type is None:
            raise TrainingDiverged(loss, "weights")
        return False  # the exception (Ctrl-C included) goes on, with the step undone

    def _restore(self, optimizer, live, had_state, iterations):
        # A second Ctrl-C while restoring must not leave the copy half done.
        interrupted = False
        while True:
            try:
                for c, a in zip(self._copies, live):
                    np.copyto(a, c)
                if not had_state and _state_arrays(optimizer):
                    # The state was created by this very step: drop it again.
                    optimizer.set_state([])
                optimizer.iterations = iterations
                break
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt
