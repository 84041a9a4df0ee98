"""Dropout and the training flag, Flatten and inputs of rank > 2.

Keras facts (keras-semantics-2 §3, §7): inverted dropout, kept values x/(1 − rate) (1.3333334
for rate 0.25), identity outside training; only fit and train_on_batch pass training=True;
Flatten is x.reshape(N, −1) in C order; Input((28, 28)) → Flatten → (None, 784).
"""
import numpy as np
import pytest

import minnn
from minnn import Input, Model, layers
from minnn.gradient_check import check_layer, numerical_gradient, rel_error

F32 = np.float32


# ---------------------------------------------------------------------------
# Dropout
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5", True])
def test_dropout_rate_outside_0_1_is_refused(rate):
    with pytest.raises(ValueError, match=r"rate=" + repr(rate).replace("(", r"\(")[:4]):
        layers.Dropout(rate)


def test_dropout_training_values_and_statistics():
    layer = layers.Dropout(0.25, seed=0)
    x = np.ones((200, 500), dtype=F32)
    y = layer.forward(x, training=True)
    assert y.dtype == F32
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75).item()}  # 1.3333334
    kept = np.mean(y != 0)
    # 100,000 Bernoulli(0.75) draws: sd = sqrt(.75·.25/1e5) ≈ 0.0014, so ±0.01 is 7 sd.
    assert abs(kept - 0.75) < 0.01
    assert abs(float(y.mean()) - 1.0) < 0.02  # inverted dropout keeps the mean


def test_dropout_is_the_identity_outside_training_and_at_rate_0():
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(F32)
    assert layers.Dropout(0.5).forward(x) is x
    assert layers.Dropout(0.0).forward(x, training=True) is x
    d = layers.Dropout(0.5)
    d.forward(x)
    dy = np.ones_like(x)
    assert d.backward(dy) is dy


def test_dropout_masks_come_from_minnns_seeded_generator():
    x = np.ones((50, 50), dtype=F32)
    minnn.utils.set_random_seed(3)
    a = layers.Dropout(0.5).forward(x, training=True)
    minnn.utils.set_random_seed(3)
    b = layers.Dropout(0.5).forward(x, training=True)
    assert np.array_equal(a, b)
    c = layers.Dropout(0.5).forward(x, training=True)  # the generator moved on
    assert not np.array_equal(a, c)


def test_dropout_noise_shape_drops_whole_rows():
    y = layers.Dropout(0.5, noise_shape=(None, 1), seed=1).forward(np.ones((40, 6), F32), training=True)
    assert all(len(set(row.tolist())) == 1 for row in y)
    assert 0 < np.sum(y[:, 0] == 0) < 40


def test_dropout_backward_uses_the_forward_mask():
    d = layers.Dropout(0.4, seed=5)
    x = np.random.default_rng(0).standard_normal((30, 20)).astype(F32)
    y = d.forward(x, training=True)
    dx = d.backward(np.ones_like(x))
    assert np.array_equal(dx == 0, y == 0)
    assert np.allclose(dx[dx != 0], 1 / 0.6)


def dropout_gradient_error(layer_cls, seed=11):
    """Gradient check with the mask held fixed: the layer's generator is reset to the same
    state before every forward, so every forward draws the same mask."""
    layer = layer_cls(0.3, seed=seed, dtype="float64")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7))
    g = rng.standard_normal((6, 7))

    def forward():
        layer._rng = np.random.default_rng(seed)
        return layer.forward(x, training=True)

    forward()
    dx = layer.backward(g)
    numeric = numerical_gradient(lambda: float(np.sum(forward() * g)), x, 1e-6)
    return rel_error(dx, numeric)


def test_dropout_gradient_with_the_mask_fixed():
    assert dropout_gradient_error(layers.Dropout) < 1e-9


class DropoutWithoutScale(layers.Dropout):
    def backward(self, dy):
        mask, _ = self.cache
        return np.where(mask, dy, 0)  # forgets the 1/(1 − rate)


def test_dropout_gradient_check_catches_a_missing_scale():
    assert dropout_gradient_error(DropoutWithoutScale) > 1e-2


class Probe(layers.Layer):
    """Records the training flag each forward receives."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.seen = []

    def forward(self, x, training=False):
        self.seen.append(training)
        self.cache = x.shape
        return x

    def backward(self, dy):
        return dy


class Plain(layers.Layer):
    """A layer with the plain forward(x): must keep working unchanged."""

    def forward(self, x):
        self.cache = x.shape
        return x

    def backward(self, dy):
        return dy


def test_training_flag_reaches_only_layers_that_take_it_and_only_in_training_steps():
    minnn.utils.set_random_seed(0)
    x = Input((3,))
    probe = Probe()
    out = layers.Dense(1)(Plain()(probe(layers.Dense(3)(x))))
    m = Model(x, out)
    m.compile(optimizer="sgd", loss="mse")
    data = np.ones((10, 3), F32)
    m.fit(data, np.ones((10, 1)), batch_size=5, epochs=1, validation_split=0.2, verbose=0)
    # 8 training rows in batches of 5: 2 training steps, then one validation batch.
    assert probe.seen == [True, True, False]
    probe.seen.clear()
    m.train_on_batch(data, np.ones((10, 1)))
    m.predict(data, verbose=0)
    m.evaluate(data, np.ones((10, 1)), verbose=0)
    m(data)
    m(data, training=True)
    assert probe.seen == [True, False, False, False, True]


def test_dropout_model_predicts_and_evaluates_deterministically():
    minnn.utils.set_random_seed(0)
    x = Input((4,))
    m = Model(x, layers.Dense(2)(layers.Dropout(0.5)(layers.Dense(8)(x))))
    m.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).standard_normal((16, 4)).astype(F32)
    no_drop = layers.Dense(2)
    p1, p2 = m.predict(data, verbose=0), m.predict(data, verbose=0)
    assert np.array_equal(p1, p2)
    # Inference is exactly the model without the Dropout layer.
    d1, d2 = m.layers[1], m.layers[3]
    expected = (data @ d1.kernel.value + d1.bias.value) @ d2.kernel.value + d2.bias.value
    np.testing.assert_allclose(p1, expected, rtol=1e-6)
    del no_drop


# ---------------------------------------------------------------------------
# Flatten and inputs of rank > 2
# ---------------------------------------------------------------------------
def test_flatten_shapes_and_c_order():
    x = Input((28, 28))
    assert x.shape == (None, 28, 28)
    flat = layers.Flatten()
    h = flat(x)
    assert h.shape == (None, 784) and flat.count_params() == 0
    d = layers.Dense(4)
    d(h)
    assert d.kernel.shape == (784, 4) and d.count_params() == 3140  # keras-semantics-2 §3
    imgs = np.arange(2 * 3 * 4, dtype=F32).reshape(2, 3, 4)
    assert np.array_equal(layers.Flatten().forward(imgs), imgs.reshape(2, -1))
    assert layers.Flatten().forward(np.arange(3.0)).shape == (3, 1)


def test_flatten_channels_first_moves_the_channel_axis_last():
    x = np.arange(2 * 3 * 2 * 2, dtype=F32).reshape(2, 3, 2, 2)  # (N, C, H, W)
    f = layers.Flatten(data_format="channels_first")
    assert np.array_equal(f.forward(x), np.moveaxis(x, 1, -1).reshape(2, -1))
    assert np.array_equal(f.backward(f.forward(x)), x)


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_flatten_gradient(fmt):
    rng = np.random.default_rng(0)
    errors = check_layer(layers.Flatten(data_format=fmt, dtype="float64"), rng.standard_normal((3, 2, 4, 2)), rng)
    assert list(errors) == ["dx"] and errors["dx"] < 1e-9


class FlattenFortran(layers.Flatten):
    def backward(self, dy):
        return dy.reshape(self.cache, order="F")  # the wrong order back


def test_flatten_gradient_check_catches_a_wrong_order():
    rng = np.random.default_rng(0)
    errors = check_layer(FlattenFortran(dtype="float64"), rng.standard_normal((3, 2, 4)), rng)
    assert errors["dx"] > 1e-2


def test_dense_on_rank_3_suggests_flatten():
    with pytest.raises(ValueError, match=r"Flatten\(\) layer before it: it turns \(None, 5, 3\) into \(None, 15\)"):
        layers.Dense(4)(Input((5, 3)))


def test_fit_predict_evaluate_take_image_arrays():
    minnn.utils.set_random_seed(0)
    x = Input((4, 3))
    m = Model(x, layers.Dense(2, activation="softmax")(layers.Flatten()(x)))
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    imgs = rng.standard_normal((10, 4, 3))
    labels = rng.integers(0, 2, 10)
    h = m.fit(imgs, labels, epochs=2, batch_size=4, verbose=0)
    assert len(h.history["loss"]) == 2
    assert m.predict(imgs, verbose=0).shape == (10, 2)
    # The same numbers as flattening by hand into a model on (None, 12).
    y = Input((12,))
    flat_model = Model(y, layers.Dense(2, activation="softmax")(y))
    flat_model.set_weights(m.get_weights())
    assert np.array_equal(flat_model.predict(imgs.reshape(10, -1), verbose=0), m.predict(imgs, verbose=0))
    with pytest.raises(ValueError, match=r"expected shape=\(None, 4, 3\), found shape=\(10, 3, 4\)"):
        m.predict(imgs.reshape(10, 3, 4), verbose=0)
    with pytest.raises(ValueError, match=r"must be a 3-D array of shape \(N, 4, 3\)"):
        m.predict(imgs.reshape(10, 12), verbose=0)
    bad = imgs.copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"row 3, position \(2, 1\)"):
        m.predict(bad, verbose=0)


def test_flatten_and_dropout_before_the_first_weights_are_skipped_in_fit_backward():
    """fit asks for no dL/dx: Flatten/Dropout on the data get no backward call, and the first
    Dense computes no dx; the weights' gradients are unchanged."""
    minnn.utils.set_random_seed(0)
    x = Input((2, 3))
    m = Model(x, layers.Dense(2)(layers.Dropout(0.2)(layers.Flatten()(x))))
    assert [(s.on_data_only, s.reads_only_data) for s in m._steps] == [
        (True, False), (True, False), (False, True)]
