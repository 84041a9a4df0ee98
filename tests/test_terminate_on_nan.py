"""TerminateOnNaN in minnn does what its docstring says: fit has already stopped, before the
bad update, so the callback never sees a non-finite training loss (Keras's callback sees it
one step late, after the update: keras-semantics-2.md §9)."""
import numpy as np

import minnn
from minnn import Dense, Input, Model
from minnn.callbacks import Callback, TerminateOnNaN

X = np.random.default_rng(5).normal(size=(40, 2)).astype("float32")


class Bomb(Callback):
    """A huge learning rate from the second epoch on: the loss overflows in that epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            self.model.optimizer.learning_rate = 1e12


class SeenLosses(Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def test_fit_stops_before_terminate_on_nan_sees_the_loss(capsys):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(Dense(8, activation="relu")(x)))
    m.compile(minnn.optimizers.SGD(0.01), "mse")
    seen = SeenLosses()
    h = m.fit(X, X, epochs=5, batch_size=8, verbose=0, callbacks=[Bomb(), seen, TerminateOnNaN()])
    out = capsys.readouterr().out
    assert "Training stopped" in out and "Invalid" not in out  # fit's message, not the callback's
    assert all(np.isfinite(seen.losses))                      # no hook saw the bad batch
    assert h.diverged is not None and h.diverged["epoch"] >= 1
    assert len(h.history["loss"]) == h.diverged["epoch"]      # completed epochs only (Keras: + nan)
    assert all(np.all(np.isfinite(w)) for w in m.get_weights())


def test_terminate_on_nan_stops_on_a_non_finite_val_loss(capsys):
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2)(x))
    m.compile("sgd", "mse")
    # Finite targets whose squared error overflows float32: val_loss is inf, training is fine.
    h = m.fit(X, X, epochs=4, verbose=0, validation_data=(X, np.full_like(X, 3e30)),
              callbacks=[TerminateOnNaN()])
    assert "Epoch 1: Invalid val_loss (inf), terminating training" in capsys.readouterr().out
    assert h.epoch == [0] and h.history["val_loss"] == [float("inf")]
