"""Callbacks: code that ``fit``, ``evaluate`` and ``predict`` call at fixed points, as in Keras.

``fit(epochs=2, validation_split=...)`` calls, in this order::

    on_train_begin
    per epoch:   on_epoch_begin(e)
                 per batch: on_train_batch_begin(b), on_train_batch_end(b, logs)
                 on_test_begin, per validation batch on_test_batch_begin/end, on_test_end(logs)
                 on_epoch_end(e, logs)             # logs hold the val_ keys too
    on_train_end(logs of the last epoch)

``evaluate`` calls the ``on_test_*`` hooks and ``predict`` the ``on_predict_*`` ones.
The callbacks run in Keras's order: the user's (as given), then ``History``,
then the progress bar, and they all receive the **same** logs dict, with its
keys sorted as Keras sorts them. So a value that a callback writes into
``logs`` in ``on_epoch_end`` reaches ``history`` and the progress line.
A callback may set ``self.model.stop_training = True``: fit stops after the
current batch (that epoch's validation and ``on_epoch_end`` still run).

Beside ``History`` and ``ProgbarLogger``, the Keras callbacks ``EarlyStopping``,
``ModelCheckpoint`` (built on the atomic ``model.save``), ``TerminateOnNaN`` and
``LambdaCallback`` live here.
"""
import math
import numbers
import os
import warnings

from . import progress


class Callback:
    """Base class: override the hooks you need. ``self.model`` is set by ``fit``.

    As in Keras, ``on_train_batch_begin/end`` call ``on_batch_begin/end`` unless
    they are overridden, so either spelling works.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """Records each epoch's logs: ``history.history['loss'][e]`` is epoch e's loss.

    ``history.epoch`` lists the epochs run (0-based, so ``fit(initial_epoch=2)``
    starts at 2) and ``history.params`` holds fit's ``verbose``, ``epochs`` and ``steps``.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.diverged = None  # set by fit to {'epoch', 'step', 'what', 'loss'} if it diverged

    def on_train_begin(self, logs=None):
        self.epoch = []
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        history = {k: list(v) for k, v in self.history.items()}
        for k, v in (logs or {}).items():
            history.setdefault(k, []).append(v)
        # One statement: a Ctrl-C leaves the epoch recorded with all its logs, or not at all.
        self.history, self.epoch = history, self.epoch + [epoch]


class ProgbarLogger(Callback):
    """The progress output of fit, evaluate and predict (verbose=1: a bar; 2: a line per epoch).

    It runs after every other callback, as Keras's does, so their messages come
    before an epoch's progress line, and what they wrote into the logs is shown.
    """

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self.bar = None
        self._in_fit = False

    def _new_bar(self):
        self.bar = progress.Progbar(self.params.get("steps") or 1, self.verbose)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if self.verbose and epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}")
        self._new_bar()

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.bar.finish(logs or {})

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.bar.finish(logs or {})

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_end(self, logs=None):
        self.bar.finish({})


class CallbackList:
    """Calls a hook on every callback in turn: the user's, then History, then the progress bar."""

    def __init__(self, callbacks, model, params, history=None, progbar=None):
        if callbacks is None:
            callbacks = []
        if not isinstance(callbacks, (list, tuple)):
            raise TypeError(
                f"`callbacks` must be a list of minnn.callbacks.Callback, received "
                f"{type(callbacks).__name__}."
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"Every callback must be an instance of minnn.callbacks.Callback, "
                    f"received {cb!r}."
                )
        # Keras's order: History after the user's callbacks, so that what they write
        # into an epoch's logs is recorded; the progress bar last, so it shows it too.
        self.callbacks = list(callbacks) + [cb for cb in (history, progbar) if cb is not None]
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def _call(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)


# ---------------------------------------------------------------------------
# Keras's standard callbacks
# ---------------------------------------------------------------------------
def _check_mode(mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Invalid mode: received mode={mode!r}, expected 'auto', 'min' or 'max'.")
    return mode


def _resolve_mode(who, monitor, mode, model):
    """'min' or 'max'. Mode 'auto' follows Keras: a loss (``loss``, ``val_loss``) is
    minimised; a compiled metric of that name goes the way its ``direction`` says
    (accuracies up, errors down); anything else is an error asking for the mode."""
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    found = "min" if name == "loss" else None
    for m in getattr(model, "metrics", None) or []:
        if m.name == name and getattr(m, "direction", None) is not None:
            found = "max" if m.direction == "up" else "min"
    if found is None:
        raise ValueError(
            f"{who} callback received monitor={monitor}, but minnn (as Keras) cannot tell "
            "whether that metric should be maximized or minimized. Pass `mode='max'` in order "
            "to monitor based on the highest metric value, or pass `mode='min'` in order to "
            "use the lowest value.")
    return found


def _check_monitor(monitor):
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(f"monitor must be a log name such as 'val_loss', received monitor={monitor!r}.")
    return monitor


def _missing_monitor_warning(who, monitor, logs):
    # As Keras: a warning, not an error, so that a run is not lost to a typo; the
    # hint names the usual cause (no validation data, so no 'val_loss').
    hint = ""
    if monitor.startswith("val_") and not any(k.startswith("val_") for k in logs):
        hint = " Pass validation_split or validation_data to fit() to get validation logs."
    warnings.warn(
        f"{who} conditioned on metric `{monitor}` which is not available. Available metrics "
        f"are: {','.join(logs)}.{hint}", stacklevel=3)


class _MonitorCallback(Callback):
    """What EarlyStopping and ModelCheckpoint share: a monitored log, a mode, a best value."""

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor = _check_monitor(monitor)
        self.mode = _check_mode(mode)
        self.min_delta = abs(min_delta)
        self._direction = None  # 'min' or 'max', settled at the first epoch's end (as Keras)

    def _is_improvement(self, value, reference):
        # A NaN or inf value never counts as an improvement (Keras would keep a NaN as
        # the best value, and nothing could beat it afterwards).
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        if self._direction == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def _settle_direction(self):
        if self._direction is None:
            self._direction = _resolve_mode(type(self).__name__, self.monitor, self.mode, self.model)


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has stopped improving, with Keras 3's semantics.

    An epoch improves if its value beats the best so far by more than
    ``min_delta``. After ``patience`` epochs in a row without improvement,
    training stops (never after the first epoch). With ``restore_best_weights``
    the model gets back the weights from the end of the best epoch when training
    ends, whether it stopped early or ran every epoch (as Keras 3). With
    ``verbose=1`` it prints, at the end, ``Epoch 3: early stopping`` (if it
    stopped early) and then ``Restoring model weights from the end of the best
    epoch: 2.``. A ``monitor`` missing from the logs gives a warning each epoch,
    as in Keras, and training goes on.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
                or not math.isfinite(min_delta):
            raise ValueError(f"Invalid min_delta: received min_delta={min_delta!r}, expected a finite number.")
        super().__init__(monitor, mode, min_delta)
        for name, v in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"Invalid {name}: received {name}={v!r}, expected an integer >= 0.")
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, numbers.Real)):
            raise ValueError(f"Invalid baseline: received baseline={baseline!r}, expected a number or None.")
        if not isinstance(restore_best_weights, bool):
            raise TypeError(
                f"restore_best_weights must be True or False, received {restore_best_weights!r}.")
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            _missing_monitor_warning("Early stopping", self.monitor, logs)
            return
        if epoch < self.start_from_epoch:
            return
        self._settle_direction()
        if self.restore_best_weights and self.best_weights is None:
            # The first epoch watched is the best so far, whatever its value.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or only its weights) at the end of every epoch, atomically.

    ``filepath`` may hold Keras-style fields filled from the epoch (1-based) and
    the logs, e.g. ``'ckpt-{epoch:02d}-{val_loss:.3f}.minnn'``. With
    ``save_best_only`` a file is written only when ``monitor`` improves, so
    ``filepath`` always holds the best model so far. Each write goes to a
    temporary file that is then renamed, so a crash never leaves half a file.
    With ``verbose=1`` it prints Keras's messages, such as
    ``Epoch 1: val_loss improved from None to 1.84840, saving model to best.minnn``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", initial_value_threshold=None):
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(
                f"ModelCheckpoint expects a file path, received filepath={filepath!r} of type "
                f"{type(filepath).__name__}.")
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        for name, v in (("save_best_only", save_best_only), ("save_weights_only", save_weights_only)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be True or False, received {name}={v!r}.")
        if not save_weights_only:
            # Refused now, not after the first epoch's training (model.save would refuse it).
            from .saving import _refuse_keras_path
            _refuse_keras_path(self.filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.best = initial_value_threshold

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} refers to {e}, which is not in the "
                f"logs {sorted(logs)}.") from None

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            # As Keras: warn, and save anyway (there is nothing to compare).
            warnings.warn(
                f"Can save best model only with {self.monitor} available. Available metrics "
                f"are: {','.join(logs)}.", stacklevel=3)
            return True
        self._settle_direction()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")


class LambdaCallback(Callback):
    """A callback made of plain functions, one per hook, as in Keras::

        LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))

    The functions take the hook's arguments: ``(epoch, logs)`` for the epoch hooks,
    ``(batch, logs)`` for the batch hooks, ``(logs)`` for the train hooks. Any other
    hook (``on_test_end=...``, ``on_batch_end=...``) is given by its name. Keras stores
    a misspelt name silently and never calls it; minnn refuses it with a TypeError.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        hooks = {"on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
                 "on_train_begin": on_train_begin, "on_train_end": on_train_end,
                 "on_train_batch_begin": on_train_batch_begin,
                 "on_train_batch_end": on_train_batch_end, **kwargs}
        known = sorted(n for n in vars(Callback) if n.startswith("on_"))
        for name, fn in hooks.items():
            if name not in known:
                raise TypeError(
                    f"LambdaCallback received an unknown hook {name}=...; the hooks are: "
                    f"{', '.join(known)}.")
            if fn is not None and not callable(fn):
                raise TypeError(
                    f"LambdaCallback expects a function for {name}, received {fn!r}.")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training as soon as a logged value is NaN or inf.

    What it does in minnn: fit already stops by itself when a batch's loss is NaN
    or inf, *before* that batch's update, keeping the last finite weights; it then
    prints one message and does not call ``on_train_batch_end`` for that batch, so
    this callback never sees a non-finite training loss. It still stops training on a
    non-finite value in the epoch's logs, such as val_loss. Keras code that
    passes it runs unchanged.

    In Keras this callback is what stops training, one step late: the bad batch's
    update has already been applied (the weights are NaN), and History gets one
    entry for the partial epoch, ``{'loss': [nan]}``. minnn's History holds the
    completed epochs only; ``history.diverged`` says where it stopped and why.
    """

    def _check(self, where, logs):
        for k, v in (logs or {}).items():
            if isinstance(v, numbers.Real) and not math.isfinite(v):
                print(f"{where}: Invalid {k} ({v}), terminating training")
                self.model.stop_training = True
                return

    def on_train_batch_end(self, batch, logs=None):
        self._check(f"Batch {batch}", {"loss": (logs or {}).get("loss", 0.0)})

    def on_epoch_end(self, epoch, logs=None):
        self._check(f"Epoch {epoch + 1}", logs)


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
