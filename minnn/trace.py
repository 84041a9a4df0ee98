"""What one training step does, layer by layer: ``trace_step(model, x, y)``.

    >>> import minnn.trace
    >>> trace = minnn.trace.trace_step(model, x[:128], x[:128])
    >>> print(trace)                    # a table, one row per layer, in backward order
    >>> trace.layers[0].grads           # {'dense_5/kernel': array, 'dense_5/bias': array}

The step runs on a deep copy of the model, so the model, its weights, its
optimiser state and minnn's random generator are left exactly as they were.
On the copy it is the step ``train_step`` takes (forward in training mode, the
loss, zeroed gradients, backward, the guarded optimiser update), except that
backward computes dL/dx for every layer, the first included, so that every
row has its |dx|. Each leaf layer's forward and backward are watched as they
run, nested models opened; a layer called twice (shared) gets one record per
call, and its gradients, summed over its calls, in each. A step that fit
would stop at (a loss that is NaN or inf, or an update that would make a weight
so) is traced too: the guard refuses the update, ``.refused`` says why,
``.loss_after`` and the update ratios are None, and the gradients are there.

Per record: the input and output shapes, the norms of dy (the gradient
arriving at the layer's output) and dx (the one it sends back), a copy of each
weight's gradient, each weight's update-to-weight ratio ‖Δw‖ / ‖w‖ (about 1e-3
is healthy; much larger jumps, much smaller stalls), and for layers with a ReLU
the number of dead units: units whose input to the ReLU is ≤ 0 on every row of
the batch, so that they pass no gradient back at all.

``python -m minnn.trace`` prints the trace of one batch of the tutorial model.
"""
import copy

import numpy as np

from . import activations, guard, utils
from .layers import Activation, ReLU


class LayerTrace:
    """One leaf layer's call, as the step ran it (see the module docstring)."""

    def __init__(self, name, call, input_shape, output_shape, layer=None):
        self.name = name
        self._layer = layer             # the copy's layer, while the trace is built (names may repeat)
        self.call = call                # 0 for the layer's first call in the forward pass
        self.input_shape = input_shape  # a tuple, or a list of tuples for several inputs
        self.output_shape = output_shape
        self.dy_norm = None
        self.dx_norm = None             # None for a layer whose backward returns nothing
        self.grads = {}                 # weight name -> a copy of its gradient
        self.update_ratios = {}         # weight name -> ‖Δw‖ / ‖w‖ (None where w was all 0)
        self.dead_units = None          # an int for layers with a ReLU, None otherwise

    def __repr__(self):
        return (f"<LayerTrace {self.name} call={self.call} {self.input_shape} -> "
                f"{self.output_shape} |dy|={self.dy_norm} dead={self.dead_units}>")


class StepTrace:
    """The result of ``trace_step``: the loss before and after, and one LayerTrace per call."""

    def __init__(self, loss_before, loss_after, layers, refused=None):
        self.loss_before = loss_before  # the step's loss, before the update (what fit logs)
        self.loss_after = loss_after    # the same batch's loss after the update (inference mode)
        self.layers = layers            # in backward order
        self.refused = refused          # why the step guard refused the update, or None

    def __str__(self):
        names = [rec.name if rec.call == 0 else f"{rec.name} [call {rec.call + 1}]"
                 for rec in self.layers]
        shapes = [f"{_shape(rec.input_shape)} -> {_shape(rec.output_shape)}" for rec in self.layers]
        shorts = [w.rsplit("/", 1)[-1] for rec in self.layers for w in rec.grads]
        # Columns as wide as their longest entry, so that long names and shapes stay aligned.
        nw = max([18] + [len(n) for n in names])
        sw = max([22] + [len(s) for s in shapes])
        ww = max([8] + [len(w) for w in shorts])
        head = (f"{'layer':<{nw}} {'input -> output':<{sw}} {'|dy|':>9} {'|dx|':>9}  "
                f"{'weight':<{ww}} {'|grad|':>9} {'update/w':>9} {'dead':>6}")
        if self.refused:
            first = (f"one training step: loss {self.loss_before:.6g}; the update was refused "
                     f"({self.refused}): fit stops here, keeping the weights")
        else:
            first = (f"one training step: loss {self.loss_before:.6g} -> {self.loss_after:.6g} "
                     "(same batch, after the update)")
        lines = [first, head, "-" * len(head)]
        for rec, name, shape in zip(self.layers, names, shapes):
            dead = "" if rec.dead_units is None else str(rec.dead_units)
            weights = list(rec.grads) or [None]
            for i, wname in enumerate(weights):
                left = (f"{name:<{nw}} {shape:<{sw}} {_num(rec.dy_norm):>9} {_num(rec.dx_norm):>9}"
                        if i == 0 else " " * (nw + sw + 21))
                if wname is None:
                    right = f"  {'':<{ww}} {'':>9} {'':>9}"
                else:
                    short = wname.rsplit("/", 1)[-1]
                    right = (f"  {short:<{ww}} {_num(_norm(rec.grads[wname])):>9} "
                             f"{_num(rec.update_ratios.get(wname)):>9}")
                lines.append(f"{left}{right} {dead if i == 0 else '':>6}")
        lines.append("|dy|, |dx|, |grad|: Frobenius norms; update/w: ‖Δw‖/‖w‖ (about 1e-3 is "
                     "healthy); dead: ReLU units ≤ 0 on every row.")
        return "\n".join(lines)

    __repr__ = __str__


def _shape(s):
    if isinstance(s, list):
        return "[" + ", ".join(_shape(t) for t in s) + "]"
    return "(" + ", ".join(str(d) for d in s) + ")"


def _num(v):
    return "-" if v is None else f"{v:.3g}"


def _norm(a):
    if a is None:
        return None
    if isinstance(a, (list, tuple)):
        return float(np.sqrt(sum(np.sum(np.square(np.asarray(t, dtype=np.float64))) for t in a)))
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64)))


def _leaves(model, out):
    for layer in model.layers:
        if hasattr(layer, "_steps"):  # a nested model: open it
            _leaves(layer, out)
        elif layer.weights or layer.__class__.__name__ != "InputLayer":
            if all(layer is not seen for seen in out):
                out.append(layer)
    return out


def _relu_input(layer, x):
    """The array that enters the layer's ReLU, or None if the layer has no ReLU."""
    relu = isinstance(getattr(layer, "activation", None), activations.Relu)  # (the copy's own)
    if isinstance(layer, ReLU) or (isinstance(layer, Activation) and relu):
        return x
    if relu and getattr(layer, "kernel", None) is not None:  # Dense(relu): its pre-activation
        z = x @ layer.kernel.value
        return z + layer.bias.value if layer.bias is not None else z
    return None


def _dead_units(z):
    if z is None:
        return None
    z = z.reshape(len(z), -1)
    return int(np.sum(np.all(z <= 0, axis=0)))


def _watch(layer, records, pending):
    """Wrap this instance's forward and backward so that each call is recorded."""
    forward, backward = layer.forward, layer.backward
    calls = [0]
    alive = []  # the caches seen, kept alive so that their ids stay unique

    def watched_forward(x, *args, **kwargs):
        y = forward(x, *args, **kwargs)
        shape_in = [t.shape for t in x] if isinstance(x, (list, tuple)) else x.shape
        shape_out = [t.shape for t in y] if isinstance(y, (list, tuple)) else y.shape
        rec = LayerTrace(layer.name, calls[0], shape_in, shape_out, layer)
        rec.dead_units = _dead_units(None if isinstance(x, (list, tuple)) else _relu_input(layer, x))
        calls[0] += 1
        alive.append(layer.cache)
        pending.setdefault((id(layer), id(layer.cache)), []).append(rec)
        return y

    def watched_backward(dy, *args, **kwargs):
        # The model restores each call's cache before its backward: that names the call.
        # (Equal small caches, such as Add's count, fall back to last-called-first.)
        rec = pending[(id(layer), id(layer.cache))].pop()
        dx = backward(dy, *args, **kwargs)
        rec.dy_norm, rec.dx_norm = _norm(dy), _norm(dx)
        records.append(rec)
        return dx

    layer.forward, layer.backward = watched_forward, watched_backward


def trace_step(model, x, y):
    """One training step of a compiled model, on a copy; returns a StepTrace.

    x, y: one batch, as fit takes them (arrays, or lists / dicts for several inputs
    or outputs). The model, its weights, its optimiser state and minnn's random
    generator are not changed.
    """
    if not hasattr(model, "_steps") or not hasattr(model, "_require_compiled"):
        raise TypeError(f"trace_step expects a minnn Model (functional or Sequential); "
                        f"received model={model!r} of type {type(model).__name__}.")
    model._require_compiled()
    rng_state = utils.get_rng().bit_generator.state
    try:
        return _trace_on_copy(model, x, y)
    finally:
        utils.get_rng().bit_generator.state = rng_state  # a Dropout mask drew from it


def _trace_on_copy(model, x, y):
    twin = copy.deepcopy(model)  # weights, optimiser state and a run lock of its own
    xs, ys, _ = twin._standardize_xy(x, y)
    records, pending = [], {}
    leaves = _leaves(twin, [])
    for layer in leaves:
        _watch(layer, records, pending)
    twin._ensure_flat()  # the copy's own runs of weights, its optimiser state cut to them
    before = {id(w): w.value.copy() for w in twin.weights}  # by the Weight: names may repeat

    with np.errstate(over="ignore", invalid="ignore"):
        y_pred = twin.forward(twin._unpack(xs), training=True)
        loss, _ = twin._compute_losses(ys, y_pred)
        dy = twin._loss_grads(ys, y_pred)
        twin.zero_grad()
        twin.backward(dy)  # need_dx=True: every layer's dx, for the table
        grads, weights = twin._flat_grads_and_weights()
        try:
            with twin._step_guard.protect(twin.optimizer, weights, loss):
                twin.optimizer.apply(grads, weights)
        except guard.TrainingDiverged as e:
            # Where fit stops; the gradients that led here are what one wants to see.
            refused = ("the loss is not finite" if e.what == "loss"
                       else "it would make a weight NaN or inf")
            loss_after = None
        else:
            refused = None
            loss_after, _ = twin._compute_losses(ys, twin.forward(twin._unpack(xs)))

    for rec in records:
        for w in rec._layer.weights:  # the record's own layer, not one of the same name
            rec.grads[w.name] = w.grad.copy()
            size = np.linalg.norm(before[id(w)].astype(np.float64))
            step = np.linalg.norm(w.value.astype(np.float64) - before[id(w)])
            # None where w = 0 (undefined) or where no update was made
            rec.update_ratios[w.name] = float(step / size) if size > 0 and not refused else None
        rec._layer = None  # the copy is not kept alive by the trace
    return StepTrace(float(loss), None if refused else float(loss_after), records, refused)


def _tutorial_model():
    from .datasets import two_gaussians
    ae = two_gaussians.tutorial_autoencoder()
    ae.compile(optimizer="adam", loss="mse")
    return ae


def main():
    from .datasets import two_gaussians
    utils.set_random_seed(0)
    data, _ = two_gaussians.load_data(seed=0)
    model = _tutorial_model()
    print("The tutorial autoencoder (2 → 20 → 20 → 1 → 20 → 20 → 2), one batch of 128 rows:\n")
    print(trace_step(model, data[:128], data[:128]))


if __name__ == "__main__":
    main()
