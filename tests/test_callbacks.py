"""EarlyStopping, ModelCheckpoint and TerminateOnNaN, with Keras's semantics."""
import os
import re

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, saving
from minnn import callbacks as callbacks_module
from minnn.callbacks import Callback, EarlyStopping, ModelCheckpoint, TerminateOnNaN

X = np.random.default_rng(2).normal(size=(50, 2)).astype("float32")


class FakeModel:
    """Just what the callbacks touch: weights and the stop flag. Weights = [epoch seen]."""

    def __init__(self):
        self.stop_training = False
        self.w = [np.zeros(1)]

    def get_weights(self):
        return [a.copy() for a in self.w]

    def set_weights(self, ws):
        self.w = [a.copy() for a in ws]


def drive(cb, values, monitor="val_loss"):
    """Feed `values` as the monitored log, one epoch each, the way fit does; returns the
    epoch after which training stopped (or None) and the fake model."""
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin()
    for epoch, v in enumerate(values):
        model.w = [np.array([float(epoch)])]  # "weights at the end of this epoch"
        cb.on_epoch_end(epoch, {"loss": 1.0, monitor: v})
        if model.stop_training:
            cb.on_train_end()
            return epoch, model
    cb.on_train_end()
    return None, model


# Sequences worked by hand with Keras's rule: wait += 1 each epoch; an improvement
# (value + min_delta < best) returns at once, resetting wait if it also beats the baseline;
# otherwise stop when wait >= patience (never at epoch 0).
@pytest.mark.parametrize("values, kw, stop_epoch, best_epoch", [
    ([1.0, 0.9, 0.95, 0.93, 0.97], dict(patience=2), 3, 1),
    ([1.0, 0.9, 0.95, 0.93, 0.97], dict(patience=0), 2, 1),
    ([1.0, 0.9, 0.8, 0.7], dict(patience=1), None, 3),
    ([1.0, 0.95, 0.9, 0.85], dict(patience=1, min_delta=0.1), 1, 0),
    ([1.0, 0.95, 0.9, 0.85], dict(patience=2, min_delta=0.1), 2, 0),
    # Keras: improving epochs never stop training, but above the baseline they do not
    # reset `wait`, so the first epoch that does not improve stops at once.
    ([5.0, 4.0, 3.0, 3.5], dict(patience=2, baseline=1.0), 3, 2),
    ([5.0, 4.0, 3.0, 3.5], dict(patience=2), None, 2),
    ([1.0, 2.0, 3.0], dict(patience=0, start_from_epoch=2), None, 2),
    ([0.5, 0.6, 0.7], dict(patience=1, mode="max", monitor="val_acc"), None, 2),
])
def test_early_stopping_follows_keras(values, kw, stop_epoch, best_epoch):
    monitor = kw.get("monitor", "val_loss")
    es = EarlyStopping(restore_best_weights=True, **kw)
    stopped, model = drive(es, values, monitor)
    assert stopped == stop_epoch
    assert es.best_epoch == best_epoch
    if stop_epoch is not None:
        assert es.stopped_epoch == stop_epoch
    # Keras 3 restores the best epoch's weights at the end of training, whether it stopped
    # early or ran every epoch (keras-semantics-2.md §9, verified by running Keras 3.15).
    assert model.w[0][0] == best_epoch


class Keep(Callback):
    """Records each epoch's val_loss with the weights at that epoch's end."""

    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append((logs["val_loss"], self.model.get_weights()))


def test_early_stopping_restores_the_best_weights_in_fit():
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(Dense(6, activation="relu")(x)))
    m.compile(minnn.optimizers.Adam(0.05), "mse")

    keep = Keep()
    es = EarlyStopping(patience=1, restore_best_weights=True)
    h = m.fit(X, X, epochs=200, batch_size=5, validation_split=0.2, verbose=0, callbacks=[keep, es])
    n = len(h.history["loss"])
    assert n < 200 and es.stopped_epoch == n - 1
    losses = [v for v, _ in keep.per_epoch]
    best = int(np.argmin(losses))
    assert es.best_epoch == best
    for a, b in zip(m.get_weights(), keep.per_epoch[best][1]):
        np.testing.assert_array_equal(a, b)


def test_missing_monitor_warns_like_keras_and_training_goes_on():
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile("adam", "mse")
    with pytest.warns(UserWarning, match="`val_loss` which is not available. Available metrics "
                                         "are: loss.*validation_split"):
        h = m.fit(X, X, epochs=3, verbose=0, callbacks=[EarlyStopping()])
    assert len(h.history["loss"]) == 3


def test_model_checkpoint_saves_the_best_model_atomically(tmp_path):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(Dense(6, activation="relu")(x)))
    m.compile(minnn.optimizers.Adam(0.05), "mse")

    keep = Keep()
    path = tmp_path / "best.minnn"
    ck = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    m.fit(X, X, epochs=15, batch_size=5, validation_split=0.2, verbose=0, callbacks=[keep, ck])
    best = int(np.argmin([v for v, _ in keep.per_epoch]))
    loaded = minnn.models.load_model(path)
    for a, b in zip(loaded.get_weights(), keep.per_epoch[best][1]):
        np.testing.assert_array_equal(a, b)
    assert ck.best == keep.per_epoch[best][0]
    assert os.listdir(tmp_path) == ["best.minnn"]


def test_model_checkpoint_every_epoch_with_a_pattern_and_weights_only(tmp_path):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2, name="ck_out")(x))
    m.compile("adam", "mse")
    pattern = str(tmp_path / "w-{epoch:02d}-{loss:.3f}.npz")
    m.fit(X, X, epochs=3, verbose=0, callbacks=[ModelCheckpoint(pattern, save_weights_only=True)])
    files = sorted(os.listdir(tmp_path))
    assert [f[:4] for f in files] == ["w-01", "w-02", "w-03"]
    twin = Model.from_config(m.get_config())
    twin.load_weights(tmp_path / files[-1])
    for a, b in zip(twin.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyError, match="val_loss"):
        m.fit(X, X, epochs=1, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "{val_loss}.npz"))])


def test_a_crashing_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile("adam", "mse")
    path = tmp_path / "ck.minnn"
    m.fit(X, X, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path)])
    good = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(saving.np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        m.fit(X, X, epochs=1, verbose=0, callbacks=[ModelCheckpoint(path)])
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["ck.minnn"]


def test_terminate_on_nan():
    cb = TerminateOnNaN()
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_batch_end(0, {"loss": 0.5})
    cb.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.7})
    assert not model.stop_training
    cb.on_epoch_end(1, {"loss": 0.5, "val_loss": float("inf")})
    assert model.stop_training
    model.stop_training = False
    cb.on_train_batch_end(3, {"loss": float("nan")})
    assert model.stop_training


def test_terminate_on_nan_stops_fit_on_a_non_finite_val_loss():
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile("adam", "mse")

    class BreakValidation(Callback):
        # Huge validation targets: val_loss overflows float32 while training stays fine.
        pass

    vx = np.ones((5, 2), dtype="float32")
    vy = np.full((5, 2), 3e38, dtype="float32")
    with np.errstate(all="ignore"):
        h = m.fit(X, X, epochs=5, verbose=0, validation_data=(vx, vy), callbacks=[TerminateOnNaN()])
    assert len(h.history["loss"]) == 1 and not np.isfinite(h.history["val_loss"][0])


class StopAfterBatch(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.stop_training = True


def test_stop_training_set_after_a_batch_stops_after_that_batch():
    # As Keras: fit looks at model.stop_training after every batch, not only per epoch.
    # Without that check, the run would finish the epoch (5 steps) and this would fail.
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile("adam", "mse")
    h = m.fit(X, X, epochs=4, batch_size=10, verbose=0, callbacks=[StopAfterBatch(1, 2)])
    assert m.optimizer.iterations == 5 + 3
    assert h.epoch == [0, 1]  # the cut epoch is still logged, with its partial mean


def test_a_diverging_fit_prints_one_message_and_no_numpy_warnings(capsys):
    import warnings
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile(minnn.optimizers.SGD(1e30), "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning from numpy would raise here
        m.fit(X * 1e5, X * 1e5, epochs=3, batch_size=10, verbose=0)
    assert "Training stopped" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in m.get_weights())


# ---------------------------------------------------------------------------
# Keras's hook order, History after the user's callbacks, restore at the end
# ---------------------------------------------------------------------------
class Trace(Callback):
    """Records every hook with its batch/epoch index and the log keys it received."""

    def __init__(self):
        super().__init__()
        self.events = []

    def _rec(self, name, *args):
        logs = args[-1] if args else None
        index = args[0] if len(args) == 2 else None
        self.events.append((name, index, sorted(logs) if logs else []))


for _hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end"):
    setattr(Trace, _hook, (lambda h: lambda self, *a: self._rec(h, *a))(_hook))


def ten_rows_model():
    minnn.utils.set_random_seed(0)
    x = Input((3,))
    m = Model(x, Dense(2)(x))
    m.compile("adam", "mse")
    data = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    return m, data, data[:, :2].copy()


def test_fit_calls_the_hooks_in_keras_order():
    # Traced in Keras 3.15.1 (JAX): fit(x10, epochs=2, batch_size=4, validation_split=0.3):
    # 7 training rows -> 2 steps, 3 validation rows -> 1 step; the validation hooks run
    # between the last batch and on_epoch_end, with unprefixed keys in on_test_end.
    m, x, y = ten_rows_model()
    t = Trace()
    m.fit(x, y, epochs=2, batch_size=4, validation_split=0.3, shuffle=False, verbose=0, callbacks=[t])
    epoch = lambda e: [  # noqa: E731
        ("on_epoch_begin", e, []),
        ("on_train_batch_begin", 0, []), ("on_train_batch_end", 0, ["loss"]),
        ("on_train_batch_begin", 1, []), ("on_train_batch_end", 1, ["loss"]),
        ("on_test_begin", None, []),
        ("on_test_batch_begin", 0, []), ("on_test_batch_end", 0, ["loss"]),
        ("on_test_end", None, ["loss"]),
        ("on_epoch_end", e, ["loss", "val_loss"])]
    assert t.events == ([("on_train_begin", None, [])] + epoch(0) + epoch(1)
                        + [("on_train_end", None, ["loss", "val_loss"])])


def test_evaluate_and_predict_call_their_hooks_as_keras():
    # Keras 3.15.1: evaluate(x10, batch_size=4) -> on_test_begin, 3 x (batch begin, end),
    # on_test_end({'loss': ...}); predict the same with on_predict_*.
    m, x, y = ten_rows_model()
    t = Trace()
    m.evaluate(x, y, batch_size=4, verbose=0, callbacks=[t])
    assert [e[:2] for e in t.events] == (
        [("on_test_begin", None)]
        + [(h, b) for b in range(3) for h in ("on_test_batch_begin", "on_test_batch_end")]
        + [("on_test_end", None)])
    assert t.events[-1][2] == ["loss"]
    t.events.clear()
    m.predict(x, batch_size=4, verbose=0, callbacks=[t])
    assert [e[:2] for e in t.events] == (
        [("on_predict_begin", None)]
        + [(h, b) for b in range(3) for h in ("on_predict_batch_begin", "on_predict_batch_end")]
        + [("on_predict_end", None)])


def test_on_batch_begin_and_end_are_called_through_the_train_batch_hooks():
    m, x, y = ten_rows_model()

    class Old(Callback):
        seen = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            self.seen.append(("end", batch))

    m.fit(x, y, epochs=1, batch_size=4, verbose=0, callbacks=[Old()])
    assert Old.seen == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1), ("begin", 2), ("end", 2)]


class WritesLogs(Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["my_metric"] = 10.0 * epoch


def test_values_a_callback_writes_reach_history_and_the_progress_line(capsys):
    # Keras runs History (and the progress bar) after the user's callbacks, so a value
    # written into logs in on_epoch_end is recorded and printed after the sorted keys.
    m, x, y = ten_rows_model()
    h = m.fit(x, y, epochs=2, batch_size=5, verbose=2, callbacks=[WritesLogs()])
    assert h.history["my_metric"] == [0.0, 10.0]
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("2/2")]
    assert lines[0].endswith(" - my_metric: 0.0000e+00") and " - loss: " in lines[0]
    assert lines[1].endswith(" - my_metric: 10.0000")


def test_negative_control_history_first_loses_the_written_values(monkeypatch):
    # Plant the old order (History before the user's callbacks): the check above fails.
    original = callbacks_module.CallbackList.__init__

    def history_first(self, callbacks, model, params, history=None, progbar=None):
        original(self, callbacks, model, params, history=history, progbar=progbar)
        if history is not None:
            self.callbacks.remove(history)
            self.callbacks.insert(0, history)

    monkeypatch.setattr(callbacks_module.CallbackList, "__init__", history_first)
    m, x, y = ten_rows_model()
    h = m.fit(x, y, epochs=2, batch_size=5, verbose=0, callbacks=[WritesLogs()])
    assert "my_metric" not in h.history


class KeepLoss(Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append((logs["loss"], self.model.get_weights()))


def rising_loss_run(capsys, es):
    # SGD with a learning rate too large: the loss falls for one epoch, then rises, so the
    # best epoch is not the last one and EarlyStopping(patience=10) never stops early.
    minnn.utils.set_random_seed(1)
    x = Input((3,))
    m = Model(x, Dense(2)(x))
    m.compile(minnn.optimizers.SGD(1.45), "mse")  # losses about 3.06, 2.56, 3.09, 6.40
    data = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    keep = KeepLoss()
    m.fit(data, data[:, :2] * 3, epochs=4, batch_size=4, shuffle=False, verbose=0,
          callbacks=[keep, es])
    return m, keep, capsys.readouterr().out


def test_restore_best_weights_restores_at_the_end_without_stopping_early(capsys):
    # Keras 3 (verified by running, keras-semantics-2 §9): losses 1.848, 1.749, 4.144, 16.06
    # ended with epoch 2's weights and printed only the "Restoring" line.
    es = EarlyStopping(monitor="loss", patience=10, restore_best_weights=True, verbose=1)
    m, keep, out = rising_loss_run(capsys, es)
    losses = [v for v, _ in keep.per_epoch]
    best = int(np.argmin(losses))
    assert best < len(losses) - 1 and es.stopped_epoch == 0  # a real test: not the last epoch
    for a, b in zip(m.get_weights(), keep.per_epoch[best][1]):
        np.testing.assert_array_equal(a, b)
    assert out == f"Restoring model weights from the end of the best epoch: {best + 1}.\n"


def test_negative_control_restoring_only_when_stopped_fails_the_check(capsys, monkeypatch):
    # Plant minnn's old behaviour (restore only after an early stop): the weights are the last.
    def old_on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    monkeypatch.setattr(EarlyStopping, "on_train_end", old_on_train_end)
    es = EarlyStopping(monitor="loss", patience=10, restore_best_weights=True)
    m, keep, _ = rising_loss_run(capsys, es)
    best = int(np.argmin([v for v, _ in keep.per_epoch]))
    assert not all(np.array_equal(a, b) for a, b in zip(m.get_weights(), keep.per_epoch[best][1]))


def test_early_stopping_and_checkpoint_messages_in_keras_order(capsys, tmp_path):
    # Keras 3.15.1, fit(epochs=6, verbose=2, callbacks=[EarlyStopping(monitor='loss',
    # patience=1, restore_best_weights=True, verbose=1), ModelCheckpoint(p, monitor='loss',
    # save_best_only=True, save_weights_only=True, verbose=1)]) printed:
    #   Epoch 1/6 / (blank) / Epoch 1: loss improved from None to 1.65572, saving model to p /
    #   (blank) / Epoch 1: finished saving model to p / 3/3 - 1s - 181ms/step - loss: 1.6557 /
    #   Epoch 2/6 / (blank) / Epoch 2: loss did not improve from 1.65572 / 3/3 - ... 4.5180 /
    #   Epoch 2: early stopping / Restoring model weights from the end of the best epoch: 1.
    # Here the losses fall, then rise at the 3rd epoch (about 3.06, 2.56, 3.09).
    minnn.utils.set_random_seed(1)
    x = Input((3,))
    m = Model(x, Dense(2)(x))
    m.compile(minnn.optimizers.SGD(1.45), "mse")
    data = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    path = str(tmp_path / "b.npz")
    es = EarlyStopping(monitor="loss", patience=1, restore_best_weights=True, verbose=1)
    ck = ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True,
                         verbose=1)
    h = m.fit(data, data[:, :2] * 3, epochs=6, batch_size=4, shuffle=False, verbose=2,
              callbacks=[es, ck])
    l1, l2, l3 = h.history["loss"]
    assert l1 > l2 < l3
    lines = capsys.readouterr().out.split("\n")
    bar = re.compile(r"^3/3 - \d+s - \d+(us|ms|s)/step - loss: (\S+)$")
    assert lines[:5] == ["Epoch 1/6", "",
                         f"Epoch 1: loss improved from None to {l1:.5f}, saving model to {path}",
                         "", f"Epoch 1: finished saving model to {path}"]
    assert bar.match(lines[5]).group(2) == f"{l1:.4f}"
    assert lines[6:11] == ["Epoch 2/6", "",
                           f"Epoch 2: loss improved from {l1:.5f} to {l2:.5f}, saving model to {path}",
                           "", f"Epoch 2: finished saving model to {path}"]
    assert bar.match(lines[11]).group(2) == f"{l2:.4f}"
    assert lines[12:15] == ["Epoch 3/6", "", f"Epoch 3: loss did not improve from {l2:.5f}"]
    assert bar.match(lines[15]).group(2) == f"{l3:.4f}"
    assert lines[16:] == ["Epoch 3: early stopping",
                          "Restoring model weights from the end of the best epoch: 2.", ""]


def test_checkpoint_every_epoch_messages_as_keras(capsys, tmp_path):
    # Keras 3.15.1 without save_best_only: "\nEpoch 1: saving model to p" then
    # "\nEpoch 1: finished saving model to p", before the epoch's progress line.
    m, x, y = ten_rows_model()
    path = str(tmp_path / "e{epoch:02d}.npz")
    m.fit(x, y, epochs=1, batch_size=5, verbose=0,
          callbacks=[ModelCheckpoint(path, save_weights_only=True, verbose=1)])
    p = str(tmp_path / "e01.npz")
    assert capsys.readouterr().out == (f"\nEpoch 1: saving model to {p}\n"
                                       f"\nEpoch 1: finished saving model to {p}\n")


def test_mode_auto_follows_the_metric_direction_and_refuses_unknown_names():
    es = EarlyStopping(monitor="val_accuracy")
    m, x, y = ten_rows_model()
    m.compile("adam", "mse", metrics=["accuracy"])  # width-2 targets: categorical accuracy
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.2, callbacks=[es])
    assert es._direction == "max"
    es = EarlyStopping(monitor="val_mae")
    m.compile("adam", "mse", metrics=["mae"])
    m.fit(x, y, epochs=1, verbose=0, validation_split=0.2, callbacks=[es])
    assert es._direction == "min"
    # Keras: a monitored name it cannot place raises, asking for the mode.
    with pytest.raises(ValueError, match="monitor=my_score.*mode='max'"):
        m.fit(x, y, epochs=1, verbose=0, callbacks=[WritesScore(), EarlyStopping(monitor="my_score")])


class WritesScore(Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["my_score"] = 1.0


def test_initial_epoch_runs_the_remaining_epochs_as_keras(capsys):
    # Keras 3.15.1 (keras-semantics-2 §10): fit(epochs=2) then fit(epochs=5, initial_epoch=2)
    # runs epochs [2, 3, 4], prints "Epoch 3/5" .. "Epoch 5/5", and the optimizer counts on.
    m, x, y = ten_rows_model()
    m.fit(x, y, epochs=2, batch_size=10, verbose=0)
    h = m.fit(x, y, epochs=5, initial_epoch=2, batch_size=10, verbose=2)
    assert h.epoch == [2, 3, 4] and len(h.history["loss"]) == 3
    assert h.params == {"verbose": 2, "epochs": 5, "steps": 1}
    assert m.optimizer.iterations == 5 and m.history is h
    headers = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch")]
    assert headers == ["Epoch 3/5", "Epoch 4/5", "Epoch 5/5"]
    h = m.fit(x, y, epochs=2, initial_epoch=2, verbose=0)
    assert h.history == {} and h.epoch == [] and m.optimizer.iterations == 5
    with pytest.raises(ValueError, match="initial_epoch=-1"):
        m.fit(x, y, epochs=2, initial_epoch=-1, verbose=0)
