"""Training: compile, fit, evaluate, predict and train_on_batch, with Keras's semantics.

``Trainer`` is mixed into ``Model``; it relies on the model's ``forward``,
``backward`` and flat parameter buffers. ``Model.train_step`` is one training
step, and reads as the textbook does: forward, loss, zero the gradients,
backward, ``optimizer.apply(grads, weights)`` (the only place weights change).
``fit`` is a loop of train_step over each epoch's shuffled batches.

``fit`` logs, per epoch, the batch-size-weighted mean of the losses computed
*before* each update, Σ n_b·L_b / Σ n_b (the total kept in float32, as Keras's
loss tracker keeps it), which is why it differs from ``evaluate`` on the final
weights. minnn/reference.py has the plain versions (``fit_epoch``,
``epoch_batches``), which tests prove equal to this, bit for bit.
"""
import contextlib
import math
import numbers
import threading

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import progress, utils
from .graph import SymbolicTensor
from .guard import StepGuard, TrainingDiverged  # noqa: F401  (TrainingDiverged is re-exported)



class AlreadyFittingError(RuntimeError):
    """fit() on a model that is already fitting: from one of its callbacks, or from
    another thread. Two runs interleaving their steps on one set of weights would
    corrupt both."""


class _RunLock:
    """The lock fit holds; a copy of a model (copy.deepcopy, pickle) gets a free one."""

    def __init__(self):
        self.lock = threading.Lock()

    def __deepcopy__(self, memo):
        return _RunLock()

    def __reduce__(self):
        return (_RunLock, ())


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate/train_on_batch before compile. A RuntimeError, as in Keras, and
    also a ValueError, as every other bad call in minnn."""


# ---------------------------------------------------------------------------
# Checking data at the API boundary
# ---------------------------------------------------------------------------
def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_finite(arr, what):
    # In slices, so that a big array never needs a full-size boolean copy.
    flat = arr.reshape(arr.shape[0], -1)
    rows = max(1, (1 << 22) // max(1, flat.shape[1]))
    for start in range(0, flat.shape[0], rows):
        ok = np.isfinite(flat[start:start + rows])
        if not ok.all():
            r, c = np.argwhere(~ok)[0]
            pos = np.unravel_index(c, arr.shape[1:])
            col = f"column {pos[0]}" if len(pos) == 1 else f"position {tuple(int(i) for i in pos)}"
            raise ValueError(
                f"{what} contains NaN or inf: received value {flat[start + r, c]!r} at "
                f"row {start + r}, {col}; expected finite numbers"
                + (" (values beyond ±3.4e38 overflow float32)." if arr.dtype == np.float32 else ".")
            )


def _shape_text(sample_shape):
    return "(N,)" if not sample_shape else "(" + ", ".join(["N"] + [str(d) for d in sample_shape]) + ")"


def to_array(data, what, shape, dtype, model_name=None, index=0, expand_last=False,
             output=None):
    """Return ``data`` as a C-contiguous (N, *shape) array of ``dtype``, or raise a clear error.

    shape: the shape of one sample, e.g. (2,) or (28, 28) (an int means (int,)).
    Integers and bools are converted to floats; nothing is broadcast, and a
    single sample of shape ``shape`` is refused rather than guessed at.
    expand_last: for targets, Keras's one allowed reshape: (N,) against an output
    (None, 1) becomes (N, 1).
    output: the name of the model output this array is the target of (for y), so
    that errors speak of targets and outputs, not of the model's inputs.
    """
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if isinstance(data, SymbolicTensor):
        raise TypeError(
            f"{what} received a symbolic tensor {data!r}; expected a numpy array of data. "
            "Symbolic tensors only build models."
        )
    if data is None:
        raise ValueError(f"{what} is missing: received None, expected an array of shape {_shape_text(shape)}.")
    if not hasattr(data, "__len__") and hasattr(data, "__iter__"):
        # A generator, a tf.data.Dataset, a keras.utils.PyDataset: Keras streams batches
        # from them; minnn takes the whole data set as arrays.
        raise TypeError(
            f"{what} received {type(data).__name__}, a stream of batches (a generator or a "
            "dataset), which minnn does not support: pass NumPy arrays, such as "
            f"x of shape {_shape_text(shape)}, and let fit make the batches (batch_size=...).")
    arr = utils.as_real_array(data, what)
    if expand_last and shape[-1] == 1 and arr.ndim == len(shape):
        arr = arr.reshape(arr.shape + (1,))
    if arr.ndim != len(shape) + 1:
        hint = _shape_hint(arr, shape, output)
        raise ValueError(
            f"{what} must be a {len(shape) + 1}-D array of shape {_shape_text(shape)}; "
            f"received an array of shape {arr.shape}.{hint}"
        )
    if arr.shape[1:] != shape:
        if output is not None:
            hint = ""
            if len(shape) == 1 and arr.ndim == 2:
                hint = f" The output has {shape[0]} units, so each target row needs {shape[0]} values."
                if arr.shape[1] == 1:
                    hint += _labels_hint(arr, shape[0])
            raise ValueError(
                f"{what} does not fit output '{output}': expected shape={(None,) + shape}, "
                f"found shape={arr.shape}.{hint}"
            )
        where = f"layer '{model_name}'" if model_name else "the model"
        raise ValueError(
            f"{what}: input {index} of {where} is incompatible with the layer: "
            f"expected shape={(None,) + shape}, found shape={arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: received an array of shape {arr.shape}; expected at least one sample.")
    with np.errstate(over="ignore"):  # a value too big for float32 is reported just below
        arr = np.ascontiguousarray(arr, dtype=dtype)
    _check_finite(arr, what)
    return arr


def _shape_hint(arr, shape, output):
    """A hint for an array of the wrong rank; it names x or y, and fits the model."""
    name = "x" if output is None else "y"
    if len(shape) == 1 and arr.ndim == 1:
        width = shape[0]
        if output is None:
            if arr.shape[0] == width:
                return f" For a single sample, pass x.reshape(1, {width})."
            if width == 1:
                return f" For {arr.shape[0]} samples of one feature, pass x.reshape(-1, 1)."
            return ""
        # A target (N,) for an output of K > 1 units (one of 1 unit takes it as it is).
        return (f" Output '{output}' has {width} units, so every sample needs a target row of "
                f"{width} values." + _labels_hint(arr, width))
    if len(shape) == 1 and arr.ndim > 2:
        return (f" Flatten each sample first, {name}.reshape(len({name}), -1), or start the model "
                f"with Input(shape={arr.shape[1:]}) and a Flatten() layer.")
    if arr.shape == shape:
        return f" For a single sample, pass {name}[None] (shape {(1,) + shape})."
    return ""


def _labels_hint(arr, k):
    """What to do with integer class labels given to an output of k units."""
    whole = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all()
        and np.all(arr == np.round(arr)))
    if not whole:
        return ""
    return (f" If y holds class labels 0..{k - 1}, use loss='sparse_categorical_crossentropy', "
            f"or turn them into one-hot rows: minnn.utils.to_categorical(y, {k}) has shape "
            f"({len(arr)}, {k}).")


def _flatten(items):
    """A metric or a (nested) list of them -> a flat list."""
    if isinstance(items, (list, tuple)):
        return [m for item in items for m in _flatten(item)]
    return [items]


def to_labels(data, what, output_shape, model_name=None):
    """Integer class labels for an output (None, K): shape (N,) or (N, 1), each an integer
    in [0, K). Returned as an int64 array (N,); anything else is a clear error naming the
    first bad value and its row, raised before any weight changes."""
    k = output_shape[-1]
    if data is None:
        raise ValueError(f"{what} is missing: received None, expected integer labels of shape (N,).")
    arr = utils.as_real_array(data, what)
    sample = tuple(output_shape[1:-1])
    if arr.ndim == len(sample) + 2 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != len(sample) + 1 or arr.shape[1:] != sample:
        hint = ""
        if arr.ndim == len(sample) + 2 and arr.shape[-1] == k:
            hint = (" These look like one-hot rows: use loss='categorical_crossentropy' for "
                    "them, or pass the labels themselves, y.argmax(axis=-1).")
        raise ValueError(
            f"{what} (target of output '{model_name}'): sparse_categorical_crossentropy expects "
            f"integer class labels of shape {_shape_text(sample)} or {_shape_text(sample + (1,))}, "
            f"received an array of shape {arr.shape}.{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{what} is empty: received an array of shape {arr.shape}; expected at least one sample.")
    losses_module.check_class_labels(arr, k, f"{what} (target of output '{model_name}')")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if not _is_int(batch_size) or batch_size <= 0:
        raise ValueError(
            f"Invalid batch_size: received batch_size={batch_size!r}, expected a positive integer."
        )
    return int(batch_size)


def _same_data(a, b):
    """True if a and b show the same elements: the same array, or equal views of one buffer."""
    return a is b or (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
                      and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _permuted(xs, ys, perm, buffers):
    """The rows of every x and y in the order ``perm``, written into ``buffers``.

    ``buffers`` holds one array per x and y, made in the first epoch and refilled
    in every later one: only one shuffled copy of the data ever exists, and the
    memory is not fetched from the system again each epoch, which for a large data
    set costs more than the copy itself. A target that is an input (an
    autoencoder's) shares the input's copy instead of making a second one.
    """
    ex = [_take_rows(a, perm, buffers, ("x", i)) for i, a in enumerate(xs)]
    ey = []
    for j, b in enumerate(ys):
        match = [e for a, e in zip(xs, ex) if _same_data(a, b)]
        ey.append(match[0] if match else _take_rows(b, perm, buffers, ("y", j)))
    return ex, ey


def _take_rows(a, perm, buffers, key):
    if key not in buffers:
        buffers[key] = np.empty_like(a)
    # mode="clip" lets take write straight into `out` (mode="raise" first makes a
    # full temporary copy); every index in perm is valid, so nothing is clipped.
    return np.take(a, perm, axis=0, out=buffers[key], mode="clip")


def _weighted(dy, w):
    # w·dL/dŷ for an output with loss weight w; untouched (no copy, no rounding) for w = 1.
    return dy if w == 1.0 else dy * dy.dtype.type(w)


class Trainer:
    """compile / fit / evaluate / predict / train_on_batch for a Model."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.history = None
        self.stop_training = False
        self._loss_fns = None
        self._loss_weights = None
        self._output_weights = None    # per output: its loss weight (1.0 without loss_weights)
        self._metric_specs = None      # per output: the identifiers given to compile, or None
        self._compiled_metrics = None  # per output: Metric objects, made at the first batch
        self._loss_tracker = None
        self._output_loss_trackers = []
        self._step_guard = StepGuard()  # makes each optimiser step all-or-nothing
        self._fit_lock = _RunLock()  # held while fit runs: one run at a time

    # -- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None):
        """Choose the optimiser, the loss and the metrics, as Keras's ``compile``.

        ``loss`` may be one loss (applied to every output), a list with one per
        output, or a dict keyed by output name (``{'decoder': recon_loss}``).
        ``loss_weights`` (a list in output order, or a dict) makes the total loss
        Σ w_k·L_k; the per-output losses ``<output>_loss`` are logged unweighted.
        ``metrics`` is a list (``['accuracy', 'mae']``) for a one-output model; for
        several outputs, a list with one entry per output or a dict keyed by output
        name, an entry being a metric or a list of them.
        """
        opt = optimizers_module.get(optimizer)
        loss_fns = self._resolve_losses(loss)
        weights = self._resolve_loss_weights(loss_weights, loss, len(loss_fns))
        specs = self._resolve_metric_specs(metrics)
        self.optimizer, self.loss, self._loss_fns = opt, loss, loss_fns
        self._loss_weights = weights
        self._output_weights = weights or [1.0] * len(loss_fns)
        self._metric_specs, self._compiled_metrics = specs, None
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = ([metrics_module.Mean(name=f"{n}_loss") for n in self.output_names]
                                      if len(self.output_names) > 1 else [])
        self.compiled = True
        self._optimizer_built = False  # Keras builds it in fit, evaluate, train_on_batch

    def _resolve_losses(self, loss):
        names = self.output_names
        if loss is None:
            raise ValueError(
                "compile() needs a loss: received loss=None, expected for example loss='mse' "
                "or a minnn.losses.Loss instance."
            )
        if isinstance(loss, dict):
            if sorted(loss) != sorted(names):
                raise ValueError(
                    f"Expected keys {names} in loss dict, but found loss.keys()={list(loss)}"
                )
            return [losses_module.get(loss[n]) for n in names]
        if isinstance(loss, (list, tuple)):
            if len(loss) != len(names):
                raise ValueError(
                    f"The model has {len(names)} output(s) {names}, but received a list of "
                    f"{len(loss)} losses."
                )
            return [losses_module.get(item) for item in loss]
        one = losses_module.get(loss)
        return [one] + [losses_module.get(loss) for _ in names[1:]]

    def _resolve_loss_weights(self, loss_weights, loss, n_outputs):
        """None, or one float per output, from a number, a list or a dict (as Keras)."""
        if loss_weights is None:
            return None
        names = self.output_names
        given_one_loss = not isinstance(loss, (list, tuple, dict))
        n_losses = 1 if given_one_loss else n_outputs
        if isinstance(loss_weights, dict):
            unknown = [k for k in loss_weights if k not in names]
            if unknown:
                raise ValueError(
                    f"loss_weights has keys {unknown} that are not output names; the model's "
                    f"outputs are {names}.")
            if len(loss_weights) != n_losses:
                raise ValueError(
                    f"`loss_weights` must match the number of losses, got {n_losses} losses and "
                    f"{len(loss_weights)} weights.")
            values = [loss_weights[n] for n in names] if n_outputs > 1 else list(loss_weights.values())
        elif isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != n_losses:
                raise ValueError(
                    f"`loss_weights` must match the number of losses, got {n_losses} losses and "
                    f"{len(loss_weights)} weights.")
            values = list(loss_weights)
        elif n_outputs == 1:
            values = [loss_weights]
        else:
            raise ValueError(
                f"loss_weights for a model with {n_outputs} outputs must be a list or a dict "
                f"keyed by output name {names}; received loss_weights={loss_weights!r}.")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(
                    f"Invalid loss_weights={loss_weights!r}: every weight must be a finite number.")
        return [float(v) for v in values]

    def _resolve_metric_specs(self, metrics):
        """Per output, the list of metric identifiers, checked now so that a wrong name fails
        in compile. 'accuracy' is resolved at the first batch, from the data's shapes."""
        if metrics is None:
            return None
        names = self.output_names
        if not isinstance(metrics, (list, tuple, dict)):
            raise ValueError(
                "Expected `metrics` argument to be a list, tuple, or dict. Received instead: "
                f"metrics={metrics!r} of type {type(metrics)}. For example: metrics=['accuracy'].")
        if len(names) == 1:
            flat = _flatten(list(metrics.values()) if isinstance(metrics, dict) else metrics)
            specs = [flat]
        elif isinstance(metrics, dict):
            unknown = [k for k in metrics if k not in names]
            if unknown:
                raise ValueError(
                    f"Invalid `metrics`: keys {unknown} are not output names; the model's outputs "
                    f"are {names}. Received: metrics={metrics!r}")
            specs = [_flatten(metrics[n]) if n in metrics else [] for n in names]
        else:
            if len(metrics) != len(names):
                raise ValueError(
                    f"Invalid `metrics`: the model has {len(names)} outputs {names}, so `metrics` "
                    f"must be a list with one entry per output (a metric or a list of them) or a "
                    f"dict keyed by output name. Received: metrics={metrics!r}")
            specs = [_flatten(m) for m in metrics]
        for spec in specs:
            for identifier in spec:
                metrics_module.check(identifier)
        return specs if any(specs) else None

    # -- the running means that fit, evaluate and train_on_batch log ----------------------
    @property
    def metrics(self):
        """The trackers, in Keras's order: the loss, the compiled metrics, the per-output losses."""
        if not self.compiled:
            return []
        out = [self._loss_tracker]
        for ms in self._compiled_metrics or []:
            out.extend(ms)
        return out + list(self._output_loss_trackers)

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def _build_metrics(self, ys, y_preds):
        # Keras resolves 'accuracy' from the first batch's shapes; so does minnn.
        self._compiled_metrics = [
            [metrics_module.resolve(i, y, p) for i in spec]
            for spec, y, p in zip(self._metric_specs, ys, y_preds)]

    def _update_metrics(self, ys, y_pred, total, per_output, n):
        """Add one batch to the running means: its total loss and, with several outputs,
        each output's loss (both weighted by the batch size n), then the metrics."""
        self._loss_tracker.update_state(total, n)
        for tracker, value in zip(self._output_loss_trackers, per_output):
            tracker.update_state(value, n)
        if self._metric_specs is not None:
            y_preds = [y_pred] if self._single_output else y_pred
            if self._compiled_metrics is None:
                self._build_metrics(ys, y_preds)
            for ms, y, p in zip(self._compiled_metrics, ys, y_preds):
                for m in ms:
                    m.update_state(y, p)

    def _metric_logs(self):
        """{name: running mean}, keys sorted as Keras's logs (a repeated name gets _1, _2, ...)."""
        logs = {"loss": self._loss_tracker.result()}
        if self._compiled_metrics is None and not self._output_loss_trackers:
            return logs  # the common case, once per step: nothing to name or sort
        if self._compiled_metrics is not None:
            counts = {}
            prefixes = [f"{n}_" if len(self.output_names) > 1 else "" for n in self.output_names]
            for prefix, ms in zip(prefixes, self._compiled_metrics):
                for m in ms:
                    name = prefix + m.name
                    if name in counts:
                        counts[name] += 1
                        name = f"{name}_{counts[name] - 1}"
                    else:
                        counts[name] = 1
                    logs[name] = m.result()
        for tracker in self._output_loss_trackers:
            logs[tracker.name] = tracker.result()
        return dict(sorted(logs.items()))

    def _results_in_order(self, logs):
        """evaluate's and train_on_batch's list, as Keras builds it: the values whose names
        are in ``metrics_names``, in that order, then the others sorted by name; a lone
        value is returned as a float."""
        names = self.metrics_names
        out = [logs[n] for n in names if n in logs]
        out += [logs[k] for k in sorted(logs) if k not in names]
        return out[0] if len(out) == 1 else out

    def _require_compiled(self):
        if not self.compiled:
            raise NotCompiledError(
                "You must call `compile()` before using the model. Model "
                f"'{self.name}' has compiled=False (no optimizer, no loss): call for example "
                "model.compile(optimizer='adam', loss='mse')."
            )

    # -- turning user data into lists of arrays ---------------------------------------
    def _standardize_x(self, x, what="x"):
        shapes = self._input_shapes
        names = [layer.name for layer in self._input_layers]
        if isinstance(x, dict):
            unknown = sorted(set(x) - set(names))
            if unknown or len(x) != len(names):
                raise ValueError(f"{what} dict keys {sorted(x)} do not match the input names {names}.")
            x = [x[n] for n in names]
        if len(shapes) == 1:
            if isinstance(x, (list, tuple)) and len(x) == 1 and hasattr(x[0], "shape"):
                x = x[0]
            xs = [x]
        else:
            if not isinstance(x, (list, tuple)) or len(x) != len(shapes):
                raise ValueError(
                    f"{what}: the model has {len(shapes)} inputs {names}; pass a list of "
                    f"{len(shapes)} arrays or a dict keyed by input name."
                )
            xs = list(x)
        return [to_array(a, f"{what}" if len(xs) == 1 else f"{what}[{i}]", s[1:], self.dtype,
                         self.name, i) for i, (a, s) in enumerate(zip(xs, shapes))]

    def _standardize_xy(self, x, y, prefix=""):
        """x and y as lists of checked arrays of one length. A target that is the input
        itself (an autoencoder's fit(x, x)) is converted once and shared, so that it is
        neither converted nor, in fit, shuffled a second time."""
        xs = self._standardize_x(x, prefix + "x")
        ys = self._standardize_y(y, prefix + "y", same_as=(x, xs[0]) if self._single_input else None)
        n = self._check_same_length(xs, ys)
        return xs, ys, n

    def _standardize_y(self, y, what="y", same_as=None):
        names = self.output_names
        shapes = self._output_shapes
        if isinstance(y, dict):
            unknown = sorted(set(y) - set(names))
            missing = [n for n in names if n not in y]
            if unknown or missing:
                raise ValueError(
                    f"{what} dict has keys {sorted(y)}, but the model's outputs are {names}"
                    + (f"; unknown keys: {unknown}" if unknown else "")
                    + (f"; missing: {missing}" if missing else "") + "."
                )
            ys = [y[n] for n in names]
        elif len(names) == 1:
            if isinstance(y, (list, tuple)) and len(y) == 1 and hasattr(y[0], "shape"):
                y = y[0]
            ys = [y]
        else:
            if not isinstance(y, (list, tuple)) or len(y) != len(names):
                raise ValueError(
                    f"{what}: the model has {len(names)} outputs {names}; pass a list of "
                    f"{len(names)} arrays or a dict keyed by output name."
                )
            ys = list(y)
        out = []
        for n, a, s, fn in zip(names, ys, shapes, self._loss_fns or [None] * len(names)):
            label = what if len(names) == 1 else f"{what}['{n}']"
            if getattr(fn, "sparse_labels", False):  # integer class labels, not one-hot rows
                out.append(to_labels(a, label, s, n))
                continue
            if same_as is not None and a is same_as[0] and same_as[1].shape[1:] == tuple(s[1:]):
                out.append(same_as[1])
                continue
            out.append(to_array(a, f"{label} (target of output '{n}')", s[1:], self.dtype, n,
                                expand_last=True, output=n))
        return out

    @staticmethod
    def _check_same_length(xs, ys):
        nx = {len(a) for a in xs}
        ny = {len(a) for a in ys}
        if len(nx | ny) != 1:
            raise ValueError(
                "Data cardinality is ambiguous: "
                f"x sizes: {', '.join(str(len(a)) for a in xs)}; "
                f"y sizes: {', '.join(str(len(a)) for a in ys)}. "
                "Make sure all arrays contain the same number of samples."
            )
        return nx.pop()

    # -- one step ---------------------------------------------------------------------
    def _unpack(self, xs):
        return xs[0] if self._single_input else xs

    def _compute_losses(self, ys, y_pred):
        """(total, per-output losses): total = Σ_k w_k·L_k over the outputs (w_k = 1 without
        loss_weights); the per-output losses are unweighted, as Keras logs them."""
        preds = [y_pred] if self._single_output else y_pred
        losses = [fn.forward(y, p) for fn, y, p in zip(self._loss_fns, ys, preds)]
        return sum(w * loss for w, loss in zip(self._output_weights, losses)), losses

    def _loss_grads(self, ys, y_pred):
        """dL/dy_pred, for the total of _compute_losses: each output's w_k·dL_k/dy_pred_k
        (a list with several outputs)."""
        preds = [y_pred] if self._single_output else y_pred
        dys = [_weighted(fn.backward(y, p), w)
               for fn, y, p, w in zip(self._loss_fns, ys, preds, self._output_weights)]
        return dys[0] if self._single_output else dys

    def train_step(self, data):
        """One optimiser step on one batch, as Keras's ``Model.train_step`` (override it to
        customise training; ``fit`` calls it for every batch).

        data = (x, y): x an (N, D) array (a list for several inputs), y an (N, M) array
        (a list for several outputs), of the model's dtype, as fit hands them.
        Returns the logs: the running means since the epoch began (``reset_metrics``) of
        the loss, each batch's computed before its update, and of the metrics.
        """
        x, y = data
        ys = [y] if self._single_output else list(y)
        y_pred = self.forward(x, training=True)                  # every layer caches what backward needs
        loss, per_output = self._compute_losses(ys, y_pred)      # L
        dy = self._loss_grads(ys, y_pred)                        # dL/dŷ
        self.zero_grad()                                         # backward adds into the gradients
        self.backward(dy, need_dx=False)                         # dL/dθ for every weight (dL/dx unused)
        grads, weights = self._flat_grads_and_weights()          # all of them, one buffer each
        with self._step_guard.protect(self.optimizer, weights, loss):  # all or nothing: guard.py
            self.optimizer.apply(grads, weights)
        # As Keras, the metrics are updated after the step, from the predictions made before it.
        self._update_metrics(ys, y_pred, loss, per_output, len(ys[0]))
        return self._metric_logs()

    # -- fit ---------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        """Train for ``epochs`` passes over (x, y); returns the History (also ``model.history``).

        ``initial_epoch=i`` resumes a run, as Keras: the 0-based epochs i … epochs−1 run,
        and the progress shows ``Epoch i+1/epochs``.

        Nothing is lost when training goes wrong:

        - if the loss becomes NaN or inf, or an update would make a weight NaN or inf,
          training stops with a message naming the epoch and the step; the model keeps
          the weights of the last finite step, and the History holds the completed
          epochs (the unfinished epoch is not logged, so every entry is a full-epoch mean);
        - on Ctrl-C (KeyboardInterrupt) the model holds the weights after the last
          completed step (a step is never half applied), ``model.history`` holds the
          completed epochs, and the KeyboardInterrupt is raised again.
        """
        with self._fit_guard():  # one fit at a time; Ctrl-C reported (see _fit_guard)
            xs, ys, val, batch_size, verbose = self._fit_data(x, y, batch_size, epochs, verbose,
                validation_split, validation_data, shuffle, initial_epoch)  # every check first
            return self._fit_loop(xs, ys, val, batch_size, epochs, verbose, callbacks, shuffle,
                                  initial_epoch)

    @contextlib.contextmanager
    def _fit_guard(self):
        """Around a whole fit: hold the run locks of the model and of every model nested in
        it (they share weights: a second fit of any of them, from a callback or another
        thread, gets AlreadyFittingError); silence numpy's overflow warnings (a diverging
        run gets one clear message instead, see _stop_diverged); and on Ctrl-C say what
        the model holds before the KeyboardInterrupt goes on."""
        before = self.history
        try:
            with contextlib.ExitStack() as held:
                # Acquire and register the release on one line, so that no Ctrl-C falls
                # between them; the ExitStack then calls the C-level Lock.release however
                # fit ends. (No `try:` line may follow inside this block: an interrupt
                # traced at a `try:` line skips the handlers around it.)
                for model, lock in self._run_locks():
                    if lock.acquire(blocking=False): held.callback(lock.release)
                    else: raise self._already_fitting(model)  # noqa: E701
                with np.errstate(over="ignore", invalid="ignore"):
                    yield
        except KeyboardInterrupt:
            self._report_interrupt(started=self.history is not before)
            raise

    def _run_locks(self):
        """[(model, its run lock)] for this model and every model nested in it, each once."""
        found, todo = [], [self]
        while todo:
            model = todo.pop(0)
            if all(model is not m for m, _ in found):
                found.append((model, model._fit_lock.lock))
                todo.extend(layer for layer in model.layers if hasattr(layer, "_fit_lock"))
        return found

    def _already_fitting(self, busy):
        which = "it" if busy is self else f"model '{busy.name}', nested in it,"
        return AlreadyFittingError(
            f"fit() was called on model '{self.name}' while {which} is already fitting (in "
            "its own fit or in that of a model nesting it, which trains the same weights; "
            "called from one of the callbacks, or from another thread). Weights train in one "
            "run at a time: wait for the running fit to return, or stop it with "
            "model.stop_training = True."
        )

    def _report_interrupt(self, started):
        if not started:
            print("Training interrupted before the first step; the model is unchanged.")
            return
        done = len(self.history.epoch)
        print(
            f"Training interrupted during epoch {done + 1}. The model holds the weights after "
            f"the last completed step (optimizer step {self.optimizer.iterations}); "
            f"model.history holds the {done} completed epoch(s)."
        )

    def _fit_data(self, x, y, batch_size, epochs, verbose, validation_split, validation_data,
                  shuffle, initial_epoch):
        """Every check of fit's arguments, before anything changes. Returns the training
        arrays, the validation arrays (or None), the batch size and the verbosity."""
        self._require_compiled()
        batch_size = _check_batch_size(batch_size)
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"Invalid epochs: received epochs={epochs!r}, expected an integer >= 0.")
        if not _is_int(initial_epoch) or initial_epoch < 0:
            raise ValueError(
                f"Invalid initial_epoch: received initial_epoch={initial_epoch!r}, expected an "
                "integer >= 0 (the 0-based epoch to start from).")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, received shuffle={shuffle!r}.")
        verbose = progress.resolve_verbose(verbose)
        if (isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
                or not 0.0 <= validation_split < 1.0):
            raise ValueError(
                f"Invalid validation_split: received validation_split={validation_split!r}, "
                "expected a number in [0, 1)."
            )
        xs, ys, n = self._standardize_xy(x, y)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "validation_data must be a tuple (x_val, y_val); received "
                    f"{type(validation_data).__name__}"
                    + (f" of length {len(validation_data)}." if hasattr(validation_data, '__len__') else ".")
                )
            vx, vy, _ = self._standardize_xy(*validation_data, prefix="validation_data ")
            val = (vx, vy)
        elif validation_split > 0:
            split_at = int(n * (1.0 - validation_split))  # Keras: the *last* rows, before shuffling
            if split_at == 0 or split_at == n:
                raise ValueError(
                    f"validation_split={validation_split} of {n} samples leaves "
                    f"{split_at} for training and {n - split_at} for validation; both must "
                    "be non-empty."
                )
            val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys])
            xs, ys = [a[:split_at] for a in xs], [a[:split_at] for a in ys]
            n = split_at
        self._ensure_flat()
        self._optimizer_built = True
        return xs, ys, val, batch_size, verbose

    def _fit_loop(self, xs, ys, val, batch_size, epochs, verbose, callbacks, shuffle,
                  initial_epoch):
        """fit's loop: for each epoch, train_step on each batch; returns the History."""
        cbs = self._fit_callbacks(callbacks, verbose, epochs, steps=-(-len(xs[0]) // batch_size))
        rng, buffers = utils.get_rng(), {}  # buffers: reused for each epoch's shuffled copy
        cbs.on_train_begin()
        logs = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            for step, batch in enumerate(self._epoch_batches(xs, ys, batch_size, shuffle, rng, buffers)):
                cbs.on_train_batch_begin(step)
                try:
                    logs = self.train_step(batch)
                except TrainingDiverged as e:  # the model keeps the last finite step's weights
                    return self._stop_diverged(epoch, step, e, cbs)
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:  # as Keras: a callback may stop after any batch
                    break
            logs = self._epoch_logs(logs, val, batch_size, cbs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _fit_callbacks(self, callbacks, verbose, epochs, steps):
        """The CallbackList of one fit, with a new History (also ``self.history``) run last."""
        # (steps: per epoch, the ceiling of N / batch_size: the last, partial batch is kept)
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            callbacks, self, {"verbose": verbose, "epochs": epochs, "steps": steps},
            history=history, progbar=callbacks_module.ProgbarLogger(verbose) if verbose else None)
        self.history = history
        self.stop_training = False
        return cbs

    def _epoch_logs(self, logs, val, batch_size, cbs):
        """The epoch's logs: the running means, then the val_ ones. The means are read before
        validation, which resets the trackers. As Keras: a custom train_step that logs other
        keys has its last logs kept."""
        metric_logs = self._metric_logs()
        logs = metric_logs if set(logs) == set(metric_logs) else dict(logs)
        if val is not None:
            val_logs = self._evaluate_arrays(val[0], val[1], batch_size, cbs)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        return logs

    def _epoch_batches(self, xs, ys, batch_size, shuffle, rng, buffers):
        """Yield one epoch's batches (x, y), as train_step takes them: the fast version of
        reference.epoch_batches. The rows are permuted once, into reused buffers (see
        _permuted); every batch is a view into that copy."""
        n = len(xs[0])
        ex, ey = _permuted(xs, ys, rng.permutation(n), buffers) if shuffle else (xs, ys)
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            yield (ex[0][lo:hi] if self._single_input else [a[lo:hi] for a in ex],
                   ey[0][lo:hi] if self._single_output else [a[lo:hi] for a in ey])

    def _stop_diverged(self, epoch, step, err, cbs):
        """End a fit whose step diverged (TrainingDiverged): record and say where, end the
        callbacks, and return the History of the completed epochs."""
        self.stop_training = True
        self.history.diverged = {"epoch": epoch, "step": step, "what": err.what,
                                 "loss": err.value}
        if err.what == "loss":
            what = f"the loss became {err.value}"
        else:
            what = f"the update made some weights NaN or inf (the loss before it was {err.value:.6g})"
        print(
            f"Training stopped: {what} at epoch {epoch + 1}, step {step + 1}. The model keeps "
            "the weights of the last finite step, and history holds the "
            f"{len(self.history.epoch)} completed epoch(s). Try a lower learning_rate "
            f"(it is {self.optimizer.learning_rate:g})."
        )
        cbs.on_train_end()
        return self.history

    # -- evaluate / predict / train_on_batch -------------------------------------------
    def _evaluate_arrays(self, xs, ys, batch_size, cbs):
        """The running means over (xs, ys) in batches, with the on_test_* hooks; returns the logs."""
        n = len(xs[0])
        self.reset_metrics()
        cbs.on_test_begin()
        logs = {}
        for step, lo in enumerate(range(0, n, batch_size)):
            hi = min(n, lo + batch_size)
            cbs.on_test_batch_begin(step)
            y_pred = self.forward(self._unpack([a[lo:hi] for a in xs]))
            yb = [a[lo:hi] for a in ys]
            total, per_output = self._compute_losses(yb, y_pred)
            self._update_metrics(yb, y_pred, total, per_output, hi - lo)
            logs = self._metric_logs()
            cbs.on_test_batch_end(step, logs)
        cbs.on_test_end(logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None,
                 return_dict=False):
        """The loss (and metrics) on (x, y): means over every sample, in batches of ``batch_size``.

        As Keras: a float when only the loss is compiled; otherwise a list, the loss
        first, then (several outputs) each output's loss, then the metrics; or, with
        ``return_dict=True``, a dict with Keras's sorted log names.
        """
        self._require_compiled()
        batch_size = _check_batch_size(batch_size)
        verbose = progress.resolve_verbose(verbose)
        if not isinstance(return_dict, bool):
            raise TypeError(f"return_dict must be True or False, received return_dict={return_dict!r}.")
        xs, ys, n = self._standardize_xy(x, y)
        self._optimizer_built = True  # as Keras, whose evaluate builds it (summary counts it)
        steps = -(-n // batch_size)
        cbs = callbacks_module.CallbackList(
            callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps},
            progbar=callbacks_module.ProgbarLogger(verbose) if verbose else None)
        logs = self._evaluate_arrays(xs, ys, batch_size, cbs)
        return logs if return_dict else self._results_in_order(logs)

    def test_on_batch(self, x, y, return_dict=False):
        """The loss (and metrics) of (x, y) as one batch, without any update."""
        self._require_compiled()
        xs, ys, n = self._standardize_xy(x, y)
        return self.evaluate(xs if not self._single_input else xs[0],
                             ys if not self._single_output else ys[0],
                             batch_size=n, verbose=0, return_dict=return_dict)

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's output for x, computed ``batch_size`` rows at a time (no shuffling)."""
        batch_size = _check_batch_size(batch_size)
        verbose = progress.resolve_verbose(verbose)
        xs = self._standardize_x(x)
        n = self._check_same_length(xs, [])
        steps = -(-n // batch_size)
        cbs = callbacks_module.CallbackList(
            callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps},
            progbar=callbacks_module.ProgbarLogger(verbose) if verbose else None)
        cbs.on_predict_begin()
        # The result is allocated once and filled batch by batch: no per-batch list to stack.
        outs = [np.empty((n,) + tuple(s[1:]), dtype=self.dtype) for s in self._output_shapes]
        for step, lo in enumerate(range(0, n, batch_size)):
            hi = min(n, lo + batch_size)
            cbs.on_predict_batch_begin(step)
            y = self.forward(self._unpack([a[lo:hi] for a in xs]))
            for o, yi in zip(outs, [y] if self._single_output else y):
                o[lo:hi] = yi
            cbs.on_predict_batch_end(step, {"outputs": y})
        self.cache = None  # drop the last batch's activations
        cbs.on_predict_end()
        return outs[0] if self._single_output else outs

    def predict_on_batch(self, x):
        """The model's output for x, computed as one batch (no callbacks, no progress bar),
        as Keras's ``predict_on_batch``."""
        n = self._check_same_length(self._standardize_x(x), [])
        return self.predict(x, batch_size=max(n, 1), verbose=0)

    def train_on_batch(self, x, y, return_dict=False):
        """One optimiser step on (x, y) as a single batch; returns what it logged before
        the update, as Keras: the loss (a float), or with metrics or several outputs a
        list [loss, <output>_loss ..., metrics ...], or a dict with ``return_dict=True``."""
        self._require_compiled()
        if not isinstance(return_dict, bool):
            raise TypeError(f"return_dict must be True or False, received return_dict={return_dict!r}.")
        xs, ys, _ = self._standardize_xy(x, y)
        self._ensure_flat()
        self._optimizer_built = True
        self.reset_metrics()  # as Keras (reset_metrics=True): the logs hold this batch only
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # reported below, clearly
                logs = self.train_step((self._unpack(xs), ys[0] if self._single_output else ys))
        except TrainingDiverged as e:
            what = (f"The loss is {e.value} on this batch" if e.what == "loss" else
                    f"This update would make some weights NaN or inf (loss {e.value:.6g})")
            raise ValueError(
                f"{what}; the weights were not updated. Try a lower learning_rate "
                f"(it is {self.optimizer.learning_rate:g})."
            ) from None
        return logs if return_dict else self._results_in_order(logs)
