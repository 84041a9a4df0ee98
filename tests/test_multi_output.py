"""Two-output models as Keras 3 logs and returns them: per-output losses (and their val_ forms)
in history, evaluate / train_on_batch lists [total, out_a_loss, out_b_loss, ...], return_dict,
loss_weights as a list or a dict.

The expected numbers are Keras 3.15.1's (JAX backend), run on the same data and the same
initial weights: `trunk = Dense(4)`, `out_a = Dense(2)(trunk)`, `out_b = Dense(1, 'sigmoid')(trunk)`,
weights set as in `keras_run_weights`, SGD(0.1), then evaluate(batch_size=4),
evaluate(return_dict=True), train_on_batch(x, y) twice (the second with return_dict=True), and
fit(epochs=2, batch_size=4, validation_split=0.3, shuffle=False).
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model

X = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
YA = np.random.default_rng(1).normal(size=(10, 2)).astype("float32")
YB = (np.random.default_rng(2).uniform(size=(10, 1)) > 0.5).astype("float32")


def two_outputs():
    inp = Input((3,))
    t = Dense(4, name="trunk")(inp)
    m = Model(inp, [Dense(2, name="out_a")(t), Dense(1, activation="sigmoid", name="out_b")(t)])
    m.set_weights([np.full(w.shape, 0.1 * (i + 1), "float32") * np.cos(np.arange(w.size).reshape(w.shape))
                   for i, w in enumerate(m.get_weights())])
    return m


UNWEIGHTED = dict(
    eval=[1.3260395526885986, 0.43369436264038086, 0.8923452496528625],
    tob=[1.3260396718978882, 0.43369436264038086, 0.8923452496528625],
    tobd={"loss": 1.2797008752822876, "out_a_loss": 0.40685662627220154,
          "out_b_loss": 0.8728442192077637},
    hist={"loss": [1.1988343000411987, 1.170821189880371],
          "out_a_loss": [0.3806305229663849, 0.372924268245697],
          "out_b_loss": [0.8182037472724915, 0.7978968620300293],
          "val_loss": [1.295319676399231, 1.2468241453170776],
          "val_out_a_loss": [0.37078383564949036, 0.3462638854980469],
          "val_out_b_loss": [0.9245358109474182, 0.900560200214386]})
# loss_weights=[2.0, 0.25] or {'out_a': 2.0, 'out_b': 0.25}: the same numbers in Keras.
WEIGHTED = dict(
    eval=[1.090475082397461, 0.43369436264038086, 0.8923452496528625],
    tob=[1.090475082397461, 0.43369436264038086, 0.8923452496528625],
    tobd={"loss": 0.9892443418502808, "out_a_loss": 0.38369524478912354,
          "out_b_loss": 0.8874155879020691},
    hist={"loss": [0.9562415480613708, 0.9455236196517944],
          "out_a_loss": [0.3736463189125061, 0.36897358298301697],
          "out_b_loss": [0.8357954621315002, 0.8303057551383972],
          "val_loss": [0.8639728426933289, 0.8323068618774414],
          "val_out_a_loss": [0.30848103761672974, 0.2933609187602997],
          "val_out_b_loss": [0.9880426526069641, 0.9823399186134338]})
WITH_METRICS = dict(
    eval=[1.3260395526885986, 0.43369436264038086, 0.8923452496528625, 0.5288039445877075,
          0.4000000059604645],
    evald={"loss": 1.3260395526885986, "out_a_loss": 0.43369436264038086,
           "out_a_mae": 0.5288039445877075, "out_b_accuracy": 0.4000000059604645,
           "out_b_loss": 0.8923452496528625},
    tob=[1.3260396718978882, 0.43369436264038086, 0.8923452496528625, 0.5288038849830627,
         0.4000000059604645],
    tobd={"loss": 1.2797008752822876, "out_a_loss": 0.40685662627220154,
          "out_a_mae": 0.5100886225700378, "out_b_accuracy": 0.4000000059604645,
          "out_b_loss": 0.8728442192077637},
    hist={"loss": [1.1988343000411987, 1.170821189880371],
          "out_a_loss": [0.3806305229663849, 0.372924268245697],
          "out_a_mae": [0.47290149331092834, 0.4761577248573303],
          "out_b_accuracy": [0.4285714328289032, 0.4285714328289032],
          "out_b_loss": [0.8182037472724915, 0.7978968620300293],
          "val_loss": [1.295319676399231, 1.2468241453170776],
          "val_out_a_loss": [0.37078383564949036, 0.3462638854980469],
          "val_out_a_mae": [0.5467915534973145, 0.5284895896911621],
          "val_out_b_accuracy": [0.3333333432674408, 0.3333333432674408],
          "val_out_b_loss": [0.9245358109474182, 0.900560200214386]})


def close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=3e-6, atol=1e-7)


@pytest.mark.parametrize("compile_kw, expected", [
    (dict(loss=["mse", "binary_crossentropy"]), UNWEIGHTED),
    (dict(loss=["mse", "binary_crossentropy"], loss_weights=[2.0, 0.25]), WEIGHTED),
    (dict(loss={"out_a": "mse", "out_b": "binary_crossentropy"},
          loss_weights={"out_a": 2.0, "out_b": 0.25}), WEIGHTED),
    (dict(loss=["mse", "binary_crossentropy"], metrics=[["mae"], ["accuracy"]]), WITH_METRICS),
    (dict(loss=["mse", "binary_crossentropy"], metrics={"out_a": "mae", "out_b": ["accuracy"]}),
     WITH_METRICS),
], ids=["unweighted", "weights list", "weights dict", "metrics list", "metrics dict"])
def test_two_outputs_as_keras(compile_kw, expected):
    m = two_outputs()
    m.compile(minnn.optimizers.SGD(0.1), **compile_kw)
    close(m.evaluate(X, [YA, YB], batch_size=4, verbose=0), expected["eval"])
    d = m.evaluate(X, [YA, YB], batch_size=4, verbose=0, return_dict=True)
    if "evald" in expected:
        assert list(d) == list(expected["evald"])
        close(list(d.values()), list(expected["evald"].values()))
    close(m.train_on_batch(X, [YA, YB]), expected["tob"])
    d = m.train_on_batch(X, [YA, YB], return_dict=True)
    assert list(d) == list(expected["tobd"])
    close(list(d.values()), list(expected["tobd"].values()))
    h = m.fit(X, [YA, YB], epochs=2, batch_size=4, validation_split=0.3, shuffle=False, verbose=0)
    assert list(h.history) == list(expected["hist"])
    for k, v in expected["hist"].items():
        close(h.history[k], v)


def test_the_total_is_the_weighted_sum_of_the_unweighted_output_losses():
    # keras-semantics-2 §6: 2.0·out_a_loss + 0.25·out_b_loss = loss, per batch.
    m = two_outputs()
    m.compile(minnn.optimizers.SGD(0.1), ["mse", "binary_crossentropy"], loss_weights=[2.0, 0.25])
    total, a, b = m.evaluate(X, [YA, YB], batch_size=10, verbose=0)
    assert total == pytest.approx(2.0 * a + 0.25 * b, rel=1e-6)
    # and the gradient is the weighted one: one SGD step equals the step on 2·L_a + 0.25·L_b
    w0 = m.get_weights()
    m.train_on_batch(X, [YA, YB])
    twin = two_outputs()
    twin.compile(minnn.optimizers.SGD(0.1), [Scaled("mse", 2.0), Scaled("binary_crossentropy", 0.25)])
    for a_, b_ in zip(twin.get_weights(), w0):
        np.testing.assert_array_equal(a_, b_)
    twin.train_on_batch(X, [YA, YB])
    for a_, b_ in zip(m.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(a_, b_, rtol=1e-6, atol=1e-7)


class Scaled(minnn.losses.Loss):
    """c·L, written out by hand: the reference for loss_weights."""

    def __init__(self, inner, c):
        super().__init__()
        self.inner, self.c = minnn.losses.get(inner), c

    def forward(self, y_true, y_pred):
        return self.c * self.inner.forward(y_true, y_pred)

    def backward(self, y_true, y_pred):
        return self.c * self.inner.backward(y_true, y_pred)


@pytest.mark.parametrize("kw, message", [
    # Keras 3.15.1's own messages
    (dict(loss="mse", loss_weights=[2.0, 0.25]),
     "`loss_weights` must match the number of losses, got 1 losses and 2 weights."),
    (dict(loss=["mse", "mse"], loss_weights=[2.0]),
     "`loss_weights` must match the number of losses, got 2 losses and 1 weights."),
    (dict(loss=["mse", "mse"], loss_weights={"out_a": 2.0}),
     "`loss_weights` must match the number of losses, got 2 losses and 1 weights."),
    (dict(loss=["mse", "mse"], loss_weights={"zz": 2.0, "out_a": 1.0}), "'zz'"),
    (dict(loss=["mse", "mse"], metrics=["mae"]), "one entry per output"),
    (dict(loss=["mse", "mse"], metrics={"out_c": "mae"}), "'out_c'"),
    (dict(loss=["mse", "mse"], loss_weights=[1.0, float("nan")]), "finite"),
])
def test_bad_loss_weights_and_metrics_are_refused_in_compile(kw, message):
    m = two_outputs()
    with pytest.raises(ValueError, match=re_escape(message)):
        m.compile("sgd", **kw)
    assert not m.compiled


def re_escape(s):
    import re
    return re.escape(s)
