"""EarlyStopping, ModelCheckpoint and TerminateOnNaN, with Keras's semantics."""
import os

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, saving
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
