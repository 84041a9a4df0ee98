"""When training goes wrong: a diverging loss, an update that overflows, and Ctrl-C.
In each case the model keeps the weights of the last completed, finite step."""
import contextlib

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model
from minnn.callbacks import Callback
from minnn.guard import StepGuard

X = np.random.default_rng(5).normal(size=(40, 2)).astype("float32")


def small_model(optimizer="adam", seed=0):
    minnn.utils.set_random_seed(seed)
    x = Input((2,))
    m = Model(x, Dense(2)(Dense(8, activation="relu")(x)))
    m.compile(optimizer, "mse")
    return m


class Recorder(Callback):
    """Keeps a copy of the weights and optimiser state after every completed step."""

    def on_train_batch_end(self, batch, logs=None):
        self.weights = self.model.get_weights()
        self.iterations = self.model.optimizer.iterations
        self.state = self.model.optimizer.get_state()


class LearningRateBomb(Callback):
    """Sets a huge learning rate when epoch `at` begins."""

    def __init__(self, at, lr):
        super().__init__()
        self.at, self.lr = at, lr

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            self.model.optimizer.learning_rate = self.lr


def all_finite(m):
    return all(np.isfinite(w).all() for w in m.get_weights())


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


def test_a_huge_learning_rate_stops_with_the_message(capsys):
    m = small_model(minnn.optimizers.SGD(0.01))
    rec = Recorder()
    h = m.fit(X, X, epochs=6, batch_size=8, verbose=0, callbacks=[rec, LearningRateBomb(2, 1e12)])
    out = capsys.readouterr().out
    assert h.diverged is not None and h.diverged["epoch"] == 2
    step = h.diverged["step"] + 1
    assert f"at epoch 3, step {step}" in out
    assert "lower learning_rate" in out and "1e+12" in out
    assert "last finite step" in out
    assert len(h.history["loss"]) == 2 and h.epoch == [0, 1]  # the unfinished epoch is not logged
    assert all(np.isfinite(h.history["loss"]))
    assert all_finite(m)
    assert same(m.get_weights(), rec.weights)  # exactly the last completed step
    assert m.optimizer.iterations == rec.iterations
    assert m.history is h


def test_an_update_that_overflows_the_weights_is_undone(capsys):
    # The loss before the update is finite, so only the post-update check can catch this.
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(1)(x))
    m.compile(minnn.optimizers.SGD(1e38), "mse")
    before = m.get_weights()
    h = m.fit(X * 100, X[:, :1] * 100, epochs=3, batch_size=40, verbose=0)
    out = capsys.readouterr().out
    assert h.diverged["what"] == "weights" and h.diverged["step"] == 0
    assert "the update made some weights NaN or inf" in out and "epoch 1, step 1" in out
    assert same(m.get_weights(), before) and m.optimizer.iterations == 0
    # train_on_batch says so too, and does not update either.
    with pytest.raises(ValueError, match="would make some weights NaN or inf"):
        m.train_on_batch(X * 100, X[:, :1] * 100)
    assert same(m.get_weights(), before)


def test_without_the_guard_the_overflow_would_stay(monkeypatch):
    # Negative control: a plain optimiser step leaves inf weights behind.
    def unguarded(self, optimizer, params, loss):
        return contextlib.nullcontext()

    monkeypatch.setattr(StepGuard, "protect", unguarded)
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(1)(x))
    m.compile(minnn.optimizers.SGD(1e38), "mse")
    with np.errstate(all="ignore"):
        m.fit(X * 100, X[:, :1] * 100, epochs=1, batch_size=40, verbose=0)
    assert not all_finite(m)


def test_train_on_batch_with_a_nan_loss_does_not_update():
    m = small_model(minnn.optimizers.SGD(1e20))
    before = m.get_weights()
    big = np.full((4, 2), 1e30, dtype="float32")
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="loss is inf.*not updated"):
        m.train_on_batch(big, -big)
    assert same(m.get_weights(), before)


# -- Ctrl-C ----------------------------------------------------------------------------
class InterruptAt(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.weights = self.model.get_weights()
            raise KeyboardInterrupt


def test_ctrl_c_in_a_callback_keeps_the_completed_epochs(capsys):
    m = small_model()
    stop = InterruptAt(2, 3)
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, X, epochs=5, batch_size=8, verbose=0, callbacks=[stop])
    assert "interrupted during epoch 3" in capsys.readouterr().out
    assert m.history.epoch == [0, 1] and len(m.history.history["loss"]) == 2
    assert same(m.get_weights(), stop.weights)
    assert m.optimizer.iterations == 2 * 5 + 4
    m.fit(X, X, epochs=1, verbose=0)  # and the model trains on afterwards
    assert all_finite(m)


class AdamInterruptedMidway(minnn.optimizers.Adam):
    """Simulates Ctrl-C arriving half-way through the in-place updates of step `at`."""

    def __init__(self, at, **kw):
        super().__init__(**kw)
        self.at = at

    def _update(self, params, grads):
        if self.iterations == self.at:
            super()._update(params, grads)   # m, v and θ already changed in place ...
            for p in params:
                p[: p.size // 2] += 1.0      # ... and more half-done work
            raise KeyboardInterrupt           # ... when the signal arrives
        super()._update(params, grads)


def test_ctrl_c_inside_the_optimizer_step_is_rolled_back():
    m = small_model(AdamInterruptedMidway(at=7))
    rec = Recorder()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, X, epochs=3, batch_size=8, verbose=0, callbacks=[rec])
    assert rec.iterations == 7 and m.optimizer.iterations == 7
    assert same(m.get_weights(), rec.weights)
    assert same(m.optimizer.get_state(), rec.state)
    assert m.history.epoch == [0]  # epoch 1 (5 steps) completed, epoch 2 interrupted


def test_ctrl_c_at_the_very_first_step_leaves_no_adam_state():
    m = small_model(AdamInterruptedMidway(at=0))
    before = m.get_weights()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, X, epochs=1, batch_size=8, verbose=0)
    assert same(m.get_weights(), before)
    assert m.optimizer.iterations == 0 and m.optimizer.get_state() == []
    assert m.history.epoch == []


def test_without_the_guard_ctrl_c_leaves_a_half_step(monkeypatch):
    # Negative control: with the guard bypassed, the same interruption leaves the
    # half-updated weights in the model.
    def unguarded(self, optimizer, params, loss):
        return contextlib.nullcontext()

    monkeypatch.setattr(StepGuard, "protect", unguarded)
    m = small_model(AdamInterruptedMidway(at=7))
    rec = Recorder()
    with pytest.raises(KeyboardInterrupt):
        m.fit(X, X, epochs=3, batch_size=8, verbose=0, callbacks=[rec])
    assert not same(m.get_weights(), rec.weights)


class AdamWithRealCtrlC(minnn.optimizers.Adam):
    """Sends a real SIGINT to this process in the middle of step `at`."""

    def __init__(self, at, **kw):
        super().__init__(**kw)
        self.at = at

    def _update(self, params, grads):
        if self.iterations == self.at:
            import os
            import signal
            for p in params:
                p += 0.5                      # half-done work before the signal lands
            os.kill(os.getpid(), signal.SIGINT)
        super()._update(params, grads)


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGINT") or __import__("os").name != "posix",
                    reason="needs POSIX signals")
def test_a_real_sigint_mid_step_is_rolled_back():
    import signal
    m = small_model(AdamWithRealCtrlC(at=4))
    rec = Recorder()
    # Python's own Ctrl-C handler, whatever this process inherited: a process started in the
    # background by a shell without job control ignores SIGINT, and then nothing is raised.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            m.fit(X, X, epochs=3, batch_size=8, verbose=0, callbacks=[rec])
    finally:
        signal.signal(signal.SIGINT, previous)
    assert m.optimizer.iterations == rec.iterations == 4
    assert same(m.get_weights(), rec.weights)
    assert same(m.optimizer.get_state(), rec.state)


def test_training_diverged_reads_as_a_sentence():
    # Before: str(TrainingDiverged(inf)) was "(inf, 'loss')".
    from minnn.guard import TrainingDiverged
    assert str(TrainingDiverged(float("inf"))) == (
        "the loss is inf: a step from it would spoil every weight")
    assert "NaN or inf" in str(TrainingDiverged(0.25, "weights")) and "0.25" in str(
        TrainingDiverged(0.25, "weights"))
