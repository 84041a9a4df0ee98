"""Training: compile, fit, evaluate, predict and train_on_batch, with Keras's semantics.

``Trainer`` is mixed into ``Model``; it relies on the model's ``forward``,
``backward`` and flat parameter buffers. One training step is::

    y_pred = model.forward(x)            # every layer caches what it needs
    L      = loss.forward(y, y_pred)      # computed *before* the update, as Keras logs it
    dy     = loss.backward(y, y_pred)
    grads  = 0;  model.backward(dy)       # layers add into their gradients
    optimizer.apply(params, grads)        # the only place weights change

``fit`` logs, per epoch, the batch-size-weighted mean of those pre-update
losses, Σ n_b·L_b / Σ n_b, which is why it differs from ``evaluate`` on the
final weights.
"""
import math
import numbers

import numpy as np

from . import callbacks as callbacks_module
from . import losses as losses_module
from . import optimizers as optimizers_module
from . import progress, utils
from .graph import SymbolicTensor
from .guard import StepGuard, TrainingDiverged  # noqa: F401  (TrainingDiverged is re-exported)



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


def to_array(data, what, shape, dtype, model_name=None, index=0, expand_last=False):
    """Return ``data`` as a C-contiguous (N, *shape) array of ``dtype``, or raise a clear error.

    shape: the shape of one sample, e.g. (2,) or (28, 28) (an int means (int,)).
    Integers and bools are converted to floats; nothing is broadcast, and a
    single sample of shape ``shape`` is refused rather than guessed at.
    expand_last: for targets, Keras's one allowed reshape: (N,) against an output
    (None, 1) becomes (N, 1).
    """
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if isinstance(data, SymbolicTensor):
        raise TypeError(
            f"{what} received a symbolic tensor {data!r}; expected a numpy array of data. "
            "Symbolic tensors only build models."
        )
    if data is None:
        raise ValueError(f"{what} is missing: received None, expected an array of shape {_shape_text(shape)}.")
    arr = utils.as_real_array(data, what)
    if expand_last and shape[-1] == 1 and arr.ndim == len(shape):
        arr = arr.reshape(arr.shape + (1,))
    if arr.ndim != len(shape) + 1:
        width = shape[0]
        hint = ""
        if len(shape) == 1 and arr.ndim == 1 and arr.shape[0] == width:
            hint = f" For a single sample, pass x.reshape(1, {width})."
        elif len(shape) == 1 and arr.ndim == 1:
            hint = f" For {arr.shape[0]} samples of one feature, pass x.reshape(-1, 1)."
        elif len(shape) == 1 and arr.ndim > 2:
            hint = (f" Flatten each sample first, x.reshape(len(x), -1), or start the model "
                    f"with Input(shape={arr.shape[1:]}) and a Flatten() layer.")
        elif arr.shape == shape:
            hint = f" For a single sample, pass x[None] (shape {(1,) + shape})."
        raise ValueError(
            f"{what} must be a {len(shape) + 1}-D array of shape {_shape_text(shape)}; "
            f"received an array of shape {arr.shape}.{hint}"
        )
    if arr.shape[1:] != shape:
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


def _target_hint(message, y, output_shape):
    """Add what to do when the targets look like class labels but the output has K > 1 units."""
    shape, k = np.shape(y), output_shape[-1]
    if k > 1 and len(shape) in (len(output_shape) - 1, len(output_shape)) and (
            len(shape) == len(output_shape) - 1 or shape[-1] == 1):
        message = message.split(" For ")[0]
        message += (f" These look like integer class labels, but the output has {k} units: "
                    "use loss='sparse_categorical_crossentropy', or turn them into one-hot rows "
                    f"with minnn.utils.to_categorical(y, {k}).")
    elif len(shape) == len(output_shape) and shape[-1] != k:
        message += f". The output has {k} units, so each target row needs {k} values."
    return message


class Trainer:
    """compile / fit / evaluate / predict / train_on_batch for a Model."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.history = None
        self.stop_training = False
        self._loss_fns = None
        self._step_guard = StepGuard()  # makes each optimiser step all-or-nothing

    # -- compile ----------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None):
        """Choose the optimiser and the loss. ``loss`` may be one loss, a list, or a dict
        keyed by output name (``{'decoder': recon_loss}``)."""
        opt = optimizers_module.get(optimizer)
        loss_fns = self._resolve_losses(loss)
        self.optimizer, self.loss, self._loss_fns = opt, loss, loss_fns
        self.compiled = True

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
            try:
                out.append(to_array(a, f"{label} (target of output '{n}')", s[1:], self.dtype, n,
                                    expand_last=True))
            except ValueError as e:
                raise ValueError(_target_hint(str(e), a, s)) from None
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

    def _loss_and_grad(self, ys, y_pred):
        """Total loss (sum over outputs, as Keras) and dL/dy_pred for each output."""
        if self._single_output:
            fn = self._loss_fns[0]
            return fn.forward(ys[0], y_pred), fn.backward(ys[0], y_pred)
        total, grads = 0.0, []
        for fn, y, p in zip(self._loss_fns, ys, y_pred):
            total += fn.forward(y, p)
            grads.append(fn.backward(y, p))
        return total, grads

    def _train_step(self, xb, ys):
        """One optimiser step on one batch; returns the loss computed before the update."""
        y_pred = self.forward(xb, training=True)  # Dropout drops only here
        loss, dy = self._loss_and_grad(ys, y_pred)
        if not math.isfinite(loss):
            raise TrainingDiverged(loss)
        for g in self._grad_flats:
            g.fill(0)
        self.backward(dy, need_dx=False)  # dL/dx of the data is never used: skip it
        self._step_guard.apply(self.optimizer, self._param_flats, self._grad_flats, loss)
        return loss

    # -- fit ---------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True):
        """Train for ``epochs`` passes over (x, y); returns the History (also ``model.history``).

        Nothing is lost when training goes wrong:

        - if the loss becomes NaN or inf, or an update would make a weight NaN or inf,
          training stops with a message naming the epoch and the step; the model keeps
          the weights of the last finite step, and the History holds the completed
          epochs (the unfinished epoch is not logged, so every entry is a full-epoch mean);
        - on Ctrl-C (KeyboardInterrupt) the model holds the weights after the last
          completed step (a step is never half applied), ``model.history`` holds the
          completed epochs, and the KeyboardInterrupt is raised again.
        """
        before = self.history
        try:
            # A diverging run is reported in one clear message (see _report_divergence),
            # so numpy's overflow warnings on the way there would only be noise.
            with np.errstate(over="ignore", invalid="ignore"):
                return self._fit(x, y, batch_size, epochs, verbose, callbacks,
                                 validation_split, validation_data, shuffle)
        except KeyboardInterrupt:
            self._report_interrupt(started=self.history is not before)
            raise

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

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split,
             validation_data, shuffle):
        self._require_compiled()
        batch_size = _check_batch_size(batch_size)
        if not _is_int(epochs) or epochs < 0:
            raise ValueError(f"Invalid epochs: received epochs={epochs!r}, expected an integer >= 0.")
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

        steps = -(-n // batch_size)  # ceil: the last, partial batch is kept
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            callbacks, self,
            {"epochs": epochs, "steps": steps, "verbose": verbose}, history=history)
        self.history = history
        self.stop_training = False
        rng = utils.get_rng()
        shuffled = {}  # the buffers each epoch's shuffled copy is written into
        cbs.on_train_begin()
        for epoch in range(epochs):
            if verbose and epochs > 1:
                print(f"Epoch {epoch + 1}/{epochs}")
            cbs.on_epoch_begin(epoch)
            if shuffle:
                # One permuted copy per epoch; the batches below are views into it.
                perm = rng.permutation(n)
                ex, ey = _permuted(xs, ys, perm, shuffled)
            else:
                ex, ey = xs, ys
            bar = progress.Progbar(steps, verbose)
            total, seen = 0.0, 0
            for step in range(steps):
                lo, hi = step * batch_size, min(n, (step + 1) * batch_size)
                xb = ex[0][lo:hi] if self._single_input else [a[lo:hi] for a in ex]
                try:
                    loss = self._train_step(xb, [a[lo:hi] for a in ey])
                except TrainingDiverged as e:
                    self._report_divergence(epoch, step, e, verbose)
                    cbs.on_train_end()
                    return history
                total += (hi - lo) * loss
                seen += hi - lo
                logs = {"loss": total / seen}
                bar.update(step + 1, logs)
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:  # as Keras: a callback may stop after any batch
                    break
            logs = {"loss": total / seen}
            if val is not None:
                logs["val_loss"] = self._evaluate_arrays(val[0], val[1], batch_size)
            bar.finish(logs)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        return history

    def _report_divergence(self, epoch, step, err, verbose):
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

    # -- evaluate / predict / train_on_batch -------------------------------------------
    def _evaluate_arrays(self, xs, ys, batch_size):
        n = len(xs[0])
        total = 0.0
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            y_pred = self.forward(self._unpack([a[lo:hi] for a in xs]))
            loss = 0.0
            for fn, y, p in zip(self._loss_fns, ys,
                                [y_pred] if self._single_output else y_pred):
                loss += fn.forward(y[lo:hi], p)
            total += (hi - lo) * loss
        return total / n

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto"):
        """The loss on (x, y): the batch-size-weighted mean over batches of ``batch_size``."""
        self._require_compiled()
        batch_size = _check_batch_size(batch_size)
        verbose = progress.resolve_verbose(verbose)
        xs, ys, _ = self._standardize_xy(x, y)
        loss = self._evaluate_arrays(xs, ys, batch_size)
        progress.Progbar(-(-len(xs[0]) // batch_size), verbose).finish({"loss": loss})
        return loss

    def predict(self, x, batch_size=None, verbose="auto"):
        """The model's output for x, computed ``batch_size`` rows at a time (no shuffling)."""
        batch_size = _check_batch_size(batch_size)
        verbose = progress.resolve_verbose(verbose)
        xs = self._standardize_x(x)
        n = self._check_same_length(xs, [])
        # The result is allocated once and filled batch by batch: no per-batch list to stack.
        outs = [np.empty((n,) + tuple(s[1:]), dtype=self.dtype) for s in self._output_shapes]
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            y = self.forward(self._unpack([a[lo:hi] for a in xs]))
            for o, yi in zip(outs, [y] if self._single_output else y):
                o[lo:hi] = yi
        self.cache = None  # drop the last batch's activations
        progress.Progbar(-(-n // batch_size), verbose).finish({})
        return outs[0] if self._single_output else outs

    def train_on_batch(self, x, y):
        """One optimiser step on (x, y) as a single batch; returns the pre-update loss."""
        self._require_compiled()
        xs, ys, _ = self._standardize_xy(x, y)
        self._ensure_flat()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # reported below, clearly
                return self._train_step(self._unpack(xs), ys)
        except TrainingDiverged as e:
            what = (f"The loss is {e.value} on this batch" if e.what == "loss" else
                    f"This update would make some weights NaN or inf (loss {e.value:.6g})")
            raise ValueError(
                f"{what}; the weights were not updated. Try a lower learning_rate "
                f"(it is {self.optimizer.learning_rate:g})."
            ) from None
