"""Model.train_step, the public training step, and optimizer.apply in Keras's order.

train_step is checked against a step written from minnn.reference alone (bit for
bit), as the override point fit calls for every batch, and as a method a learner
can call directly. apply(grads, weights) is checked in Keras's order, with Weight
objects, and refusing the old order where it can be told apart.
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, optimizers
from minnn import reference as ref


def _model(seed=0, optimizer="adam"):
    minnn.utils.set_random_seed(seed)
    inp = Input(shape=(3,))
    model = Model(inp, Dense(2)(Dense(5, activation="relu")(inp)))
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _batch(n=6, seed=1):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 3)).astype(np.float32), r.standard_normal((n, 2)).astype(np.float32)


def test_train_step_is_the_reference_step_bit_for_bit():
    model = _model()
    W1, b1, W2, b2 = model.get_weights()
    x, y = _batch()
    logs = model.train_step((x, y))

    z1 = ref.dense_forward(x, W1, b1)
    h1 = ref.relu_forward(z1)
    y_pred = ref.dense_forward(h1, W2, b2)
    dy = ref.mse_backward(y, y_pred)
    dh1, dW2, db2 = ref.dense_backward(dy, h1, W2)
    _, dW1, db1 = ref.dense_backward(ref.relu_backward(dh1, z1), x, W1)
    expected = [ref.adam_step(w, g, np.zeros_like(w), np.zeros_like(w), 1)[0]
                for w, g in zip([W1, b1, W2, b2], [dW1, db1, dW2, db2])]

    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), expected))
    assert list(logs) == ["loss"]
    # One batch since the reset: the float32 running mean of that one loss.
    L = ref.mse(y, y_pred)
    assert logs["loss"] == float(np.float32(L) * np.float32(6) / np.float32(6))
    assert model.optimizer.iterations == 1


def test_train_step_logs_the_running_mean_since_the_epoch_began():
    model = _model()
    model.reset_metrics()
    x, y = _batch(8)
    twin = _model()
    l1 = twin.train_on_batch(x[:5], y[:5])
    l2 = twin.train_on_batch(x[5:], y[5:])
    model.train_step((x[:5], y[:5]))
    logs = model.train_step((x[5:], y[5:]))
    total = np.float32(l1) * np.float32(5) + np.float32(l2) * np.float32(3)
    assert logs["loss"] == float(total / np.float32(8))
    assert logs["loss"] == pytest.approx((5 * l1 + 3 * l2) / 8, rel=1e-6)


def test_fit_calls_train_step_for_every_batch_so_overriding_it_customises_fit():
    class Counting(Model):
        calls = []

        def train_step(self, data):
            x, y = data
            self.calls.append(len(x))
            return super().train_step(data)

    minnn.utils.set_random_seed(0)
    inp = Input(shape=(3,))
    model = Counting(inp, Dense(2)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _batch(10)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert Counting.calls == [4, 4, 2] * 2


def test_a_custom_train_step_returns_the_logs_fit_records():
    class HalfLoss(Model):
        def train_step(self, data):
            logs = super().train_step(data)
            return {"loss": logs["loss"] / 2, "extra": 1.0}

    minnn.utils.set_random_seed(0)
    inp = Input(shape=(3,))
    model = HalfLoss(inp, Dense(2)(inp))
    model.compile(optimizer="sgd", loss="mse")
    x, y = _batch(10)
    h = model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False)
    assert h.history["extra"] == [1.0]


def test_train_step_works_before_any_fit_and_after_another_model_repacked_the_weights():
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(3,))
    inner = Model(inp, Dense(2, name="d")(inp), name="inner")
    outer_in = Input(shape=(3,))
    outer = Model(outer_in, inner(outer_in), name="outer")
    for m in (inner, outer):
        m.compile(optimizer="sgd", loss="mse")
    x, y = _batch()
    before = inner.get_weights()
    inner.train_step((x, y))            # packs inner's weights on first use
    after_inner = inner.get_weights()
    assert not np.array_equal(before[0], after_inner[0])
    outer.train_step((x, y))            # packs the same weights into outer's buffers
    after_outer = inner.get_weights()
    assert not np.array_equal(after_inner[0], after_outer[0])
    inner.train_step((x, y))            # inner must now update the weights where they live
    assert not np.array_equal(after_outer[0], inner.get_weights()[0])
    assert np.array_equal(inner.get_weights()[0], outer.get_weights()[0])  # still shared


def test_train_step_refuses_a_non_finite_loss_before_changing_anything():
    model = _model()
    x, y = _batch()
    before = model.get_weights()
    with np.errstate(all="ignore"), pytest.raises(minnn.training.TrainingDiverged):
        model.train_step((x, np.full_like(y, np.inf)))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), before))
    assert model.optimizer.iterations == 0


# ---------------------------------------------------------------------------
# optimizer.apply(grads, weights)
# ---------------------------------------------------------------------------
def test_apply_takes_grads_then_weights_as_keras():
    w, g = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    optimizers.SGD(learning_rate=0.1).apply([g], [w])
    assert np.array_equal(w, [0.95, 2.1])
    assert np.array_equal(g, [0.5, -1.0])  # the gradient is never written


def test_apply_accepts_weight_objects_and_apply_gradients_is_the_same_step():
    a, b = _model(), _model()
    x, y = _batch()
    for m in (a, b):
        m.forward(x)
        m.zero_grad()
        m.backward(ref.mse_backward(y, m.forward(x)))
    a.optimizer.apply([w.grad for w in a.trainable_weights], a.trainable_weights)
    b.optimizer.apply_gradients(zip([w.grad for w in b.trainable_weights], b.trainable_weights))
    assert all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_weights()[0], _model().get_weights()[0])


def test_apply_in_minnn_0_1s_order_with_weight_objects_is_a_clear_error():
    model = _model()
    grads = [np.zeros(w.shape, np.float32) for w in model.weights]
    before = model.get_weights()
    with pytest.raises(TypeError, match=r"apply\(grads, weights\)"):
        model.optimizer.apply(model.trainable_weights, grads)
    assert all(np.array_equal(p, q) for p, q in zip(model.get_weights(), before))
    assert model.optimizer.iterations == 0
