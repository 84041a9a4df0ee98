"""Callbacks: code that ``fit`` calls at fixed points of training, as in Keras.

``fit`` calls, in order: ``on_train_begin``, then per epoch ``on_epoch_begin``,
``on_train_batch_end`` after every step, ``on_epoch_end`` with the epoch's
logs, and finally ``on_train_end``. A callback may set
``self.model.stop_training = True`` to end training after the current epoch.

Beside ``History``, the Keras callbacks ``EarlyStopping``, ``ModelCheckpoint``
(built on the atomic ``model.save``) and ``TerminateOnNaN`` live here.
"""
import math
import numbers
import os
import warnings


class Callback:
    """Base class: override the hooks you need. ``self.model`` is set by ``fit``."""

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

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass


class History(Callback):
    """Records each epoch's logs: ``history.history['loss'][e]`` is epoch e's loss."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self.diverged = None  # set by fit to {'epoch', 'step', 'what', 'loss'} if it diverged

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        history = {k: list(v) for k, v in self.history.items()}
        for k, v in (logs or {}).items():
            history.setdefault(k, []).append(v)
        # One statement: a Ctrl-C leaves the epoch recorded with all its logs, or not at all.
        self.history, self.epoch = history, self.epoch + [epoch]


class CallbackList:
    """Calls a hook on every callback in turn."""

    def __init__(self, callbacks, model, params, history=None):
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
        # fit's History comes first, so an epoch is recorded before any user callback runs.
        self.callbacks = ([history] if history is not None else []) + list(callbacks)
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


# ---------------------------------------------------------------------------
# Keras's standard callbacks
# ---------------------------------------------------------------------------
def _monitor_op(monitor, mode):
    """'min' or 'max' for ``mode`` ('auto' picks 'max' for accuracies, else 'min')."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"Invalid mode: received mode={mode!r}, expected 'auto', 'min' or 'max'.")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return mode


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


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving, with Keras's semantics.

    An epoch improves if its value beats the best so far by more than
    ``min_delta``. After ``patience`` epochs in a row without improvement,
    training stops (never after the first epoch). With ``restore_best_weights``
    the model gets back the weights of the best epoch *when it stops early*; if
    training runs to the last epoch, it keeps the last weights (as Keras).
    A ``monitor`` missing from the logs gives a warning each epoch, as in Keras,
    and training goes on.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = _check_monitor(monitor)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
                or not math.isfinite(min_delta):
            raise ValueError(f"Invalid min_delta: received min_delta={min_delta!r}, expected a finite number.")
        for name, v in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
                raise ValueError(f"Invalid {name}: received {name}={v!r}, expected an integer >= 0.")
        if baseline is not None and (isinstance(baseline, bool) or not isinstance(baseline, numbers.Real)):
            raise ValueError(f"Invalid baseline: received baseline={baseline!r}, expected a number or None.")
        if not isinstance(restore_best_weights, bool):
            raise TypeError(
                f"restore_best_weights must be True or False, received {restore_best_weights!r}.")
        self.mode = _monitor_op(monitor, mode)
        self.min_delta = abs(min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _is_improvement(self, value, reference):
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

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
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if math.isfinite(current) and self._is_improvement(current, self.best):
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
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose > 0:
                    print("Restoring model weights from the end of the best epoch: "
                          f"{self.best_epoch + 1}.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) at the end of every epoch, atomically.

    ``filepath`` may hold Keras-style fields filled from the epoch (1-based) and
    the logs, e.g. ``'ckpt-{epoch:02d}-{val_loss:.3f}.minnn'``. With
    ``save_best_only`` a file is written only when ``monitor`` improves, so
    ``filepath`` always holds the best model so far. Each write goes to a
    temporary file that is then renamed, so a crash never leaves half a file.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", initial_value_threshold=None):
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(
                f"ModelCheckpoint expects a file path, received filepath={filepath!r} of type "
                f"{type(filepath).__name__}.")
        self.filepath = os.fspath(filepath)
        self.monitor = _check_monitor(monitor)
        for name, v in (("save_best_only", save_best_only), ("save_weights_only", save_weights_only)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be True or False, received {name}={v!r}.")
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = _monitor_op(monitor, mode)
        self.best = initial_value_threshold

    def _improved(self, current):
        if not math.isfinite(current):
            return False
        if self.best is None:
            return True
        return current < self.best if self.mode == "min" else current > self.best

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint filepath {self.filepath!r} refers to {e}, which is not in the "
                f"logs {sorted(logs)}.") from None

    def _save(self, path):
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self._path(epoch, logs)
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
            self._save(path)
            return
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Can save best model only with {self.monitor} available, skipping. Available "
                f"metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self._improved(current):
            if self.verbose > 0:
                before = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {before} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
            self._save(path)
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")


class TerminateOnNaN(Callback):
    """Stop training as soon as a logged loss is NaN or inf.

    minnn's fit already stops by itself, before the update, on a NaN or inf
    training loss; this callback is there for Keras code and also stops on a
    non-finite value in the epoch's logs (such as val_loss).
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
