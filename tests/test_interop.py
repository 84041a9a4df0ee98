"""minnn.interop against real Keras 3 on JAX: models moved both ways keep their predictions,
and training continued on the other side gives the same loss history.

Skipped when Keras is not installed (``pip install -e ".[keras]"`` installs it; .ci/run does).
The expected numbers are Keras's own: each check runs the same model in Keras and in minnn.
Both compute in float32 with different kernels, so they agree to float32 round-off: a few
units of 1e-7 relative per operation, measured here at about 1e-6 over one epoch.
"""
import numpy as np
import pytest

import minnn
from minnn import interop
from minnn.datasets import two_gaussians
from tutorial_ae import build_tutorial_ae

try:
    keras = interop.import_keras()
except ImportError:
    pytest.skip("Keras 3 with JAX is not installed; install it with "
                f"{interop.INSTALL_HINT}", allow_module_level=True)

PRED_TOL = 2e-6   # max |difference| / max |prediction|; measured 1e-7 .. 7e-7
HIST_TOL = 2e-5   # relative difference of an epoch's loss; measured 1e-6


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def _same_predictions(m, k, x):
    pm = m.predict(x, verbose=0)
    pk = k.predict(x, verbose=0)
    pm = pm if isinstance(pm, list) else [pm]
    pk = pk if isinstance(pk, list) else [pk]
    return max(_rel(a, b) for a, b in zip(pm, pk))


def _next_epoch(m, k, x, y, batch_size=32):
    """The largest relative difference between the two histories of one more epoch, over
    every logged key (the loss, per-output losses, metrics), which must be the same keys."""
    hm = m.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0).history
    hk = k.fit(x, y, epochs=1, batch_size=batch_size, shuffle=False, verbose=0).history
    assert sorted(hm) == sorted(hk)
    return max(_rel(hm[key], hk[key]) for key in hk)


@pytest.fixture(scope="module")
def data():
    x, _ = two_gaussians.load_data(0)
    return x[:512]


def _trained_tutorial_ae(data):
    minnn.utils.set_random_seed(0)
    _, _, ae = build_tutorial_ae()
    ae.compile("adam", "mse")
    ae.fit(data, data, epochs=3, batch_size=64, verbose=0)
    return ae


# ---------------------------------------------------------------------------
# minnn -> Keras
# ---------------------------------------------------------------------------
def test_tutorial_ae_to_keras_keeps_nesting_weights_and_training(data):
    ae = _trained_tutorial_ae(data)
    k = interop.to_keras(ae)
    assert isinstance(k, keras.Model) and k.name == "ae"
    assert [l.name for l in k.layers] == ["Input", "encoder", "decoder"]
    enc = k.get_layer("encoder")
    assert isinstance(enc, keras.Model)
    assert [l.name for l in enc.layers] == [l.name for l in ae.get_layer("encoder").layers]
    assert k.count_params() == 1003
    # The nested models share the outer model's Input, as in the tutorial.
    assert k.inputs[0] is enc.inputs[0]
    for mw, kw in zip(ae.get_weights(), k.get_weights()):
        assert np.array_equal(mw, kw)
    assert _same_predictions(ae, k, data) < PRED_TOL
    assert isinstance(k.optimizer, keras.optimizers.Adam)
    assert int(k.optimizer.iterations) == ae.optimizer.iterations == 24
    assert _next_epoch(ae, k, data, data, batch_size=64) < HIST_TOL


def test_optimizer_state_is_what_makes_the_histories_agree(data, monkeypatch):
    """Negative control: moving the weights but not Adam's m and v gives another history."""
    ae = _trained_tutorial_ae(data)
    monkeypatch.setattr(interop, "_minnn_state_by_weight",
                        lambda model: [[np.zeros(w.shape) for w in model.weights]] * 2)
    k = interop.to_keras(ae)
    assert _same_predictions(ae, k, data) < PRED_TOL   # the weights still moved
    assert _next_epoch(ae, k, data, data, batch_size=64) > 10 * HIST_TOL


def _small_trained_minnn():
    minnn.utils.set_random_seed(6)
    i = minnn.Input((3,))
    m = minnn.Model(i, minnn.Dense(1)(minnn.Dense(4, activation="tanh")(i)))
    m.compile("adam", "mse")
    x = np.random.default_rng(6).normal(size=(32, 3)).astype("float32")
    m.fit(x, x[:, :1], epochs=1, batch_size=16, verbose=0)
    return m, x


def test_the_keras_model_owns_its_arrays(monkeypatch):
    """On the CPU, JAX may wrap a NumPy array without copying it; minnn updates its weights
    in place, so without a copy the Keras model would silently train on minnn's changes."""
    m, x = _small_trained_minnn()
    k = interop.to_keras(m)
    before = [w.copy() for w in k.get_weights()]
    m.fit(x, x[:, :1], epochs=1, batch_size=16, verbose=0)   # minnn moves on alone
    assert all(np.array_equal(a, b) for a, b in zip(before, k.get_weights()))


def test_negative_control_without_the_copy_keras_sees_minnn_training(monkeypatch):
    m, x = _small_trained_minnn()
    real_array = np.array
    monkeypatch.setattr(np, "array", lambda a, *args, copy=True, **kw:
                        a if isinstance(a, np.ndarray) and not args and not kw
                        else real_array(a, *args, copy=copy, **kw))
    k = interop.to_keras(m)
    monkeypatch.undo()
    before = [w.copy() for w in k.get_weights()]
    m.fit(x, x[:, :1], epochs=1, batch_size=16, verbose=0)
    if all(np.array_equal(a, b) for a, b in zip(before, k.get_weights())):
        pytest.skip("this JAX build copied the arrays itself, so the planted bug is harmless here")
    assert not all(np.array_equal(a, b) for a, b in zip(before, k.get_weights()))


def test_uncompiled_model_moves_without_loss_or_optimizer(data):
    minnn.utils.set_random_seed(1)
    _, _, ae = build_tutorial_ae()
    k = interop.to_keras(ae)
    assert not getattr(k, "compiled", False)
    assert _same_predictions(ae, k, data) < PRED_TOL


def test_minnn_pieces_keras_lacks_are_all_listed_before_building(data):
    class ReconLoss(minnn.losses.Loss):
        def forward(self, x, x_hat):
            return float(np.mean((x - x_hat) ** 2))

        def backward(self, x, x_hat):
            return 2 * (x_hat - x) / x.size

    class Scale(minnn.layers.Layer):
        def forward(self, x):
            return 2 * x

        def backward(self, dy):
            return 2 * dy

    inputs = minnn.Input(shape=(2,))
    out = minnn.Dense(2)(Scale(name="scale")(inputs))
    m = minnn.Model(inputs, out, name="custom")
    m.compile("adam", loss=ReconLoss())
    before = keras.backend.get_uid("dense") if hasattr(keras.backend, "get_uid") else None
    with pytest.raises(interop.UnsupportedError) as err:
        interop.to_keras(m)
    text = str(err.value)
    assert "Scale (layer 'scale')" in text and "ReconLoss" in text
    assert len(err.value.pieces) == 2
    if before is not None:
        assert keras.backend.get_uid("dense") == before + 1  # no Keras Dense was made


# ---------------------------------------------------------------------------
# Keras -> minnn
# ---------------------------------------------------------------------------
def _branched_keras(seed):
    """The example of keras-semantics-2 §1a, with mixed activations: Keras orders its layers
    [inp, a1, b1, a2, add, out], not in creation order, so weights must map by name."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(3,), name="inp")
    b1 = keras.layers.Dense(4, activation="tanh", name="b1")(inp)
    a1 = keras.layers.Dense(5, activation="relu", name="a1")(inp)
    a2 = keras.layers.Dense(4, activation="sigmoid", name="a2")(a1)
    out = keras.layers.Dense(1, name="out")(keras.layers.Add(name="add")([b1, a2]))
    return keras.Model(inp, out, name="branched")


def test_branched_keras_model_with_sgd_momentum_to_minnn_and_back():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3)).astype("float32")
    y = (x[:, :1] * 0.5 - x[:, 1:2] ** 2).astype("float32")
    k = _branched_keras(0)
    k.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
              loss="mse")
    k.fit(x, y, epochs=2, batch_size=16, verbose=0)
    m = interop.from_keras(k)
    assert sorted(l.name for l in m.layers) == sorted(l.name for l in k.layers)
    for layer in k.layers:
        for kv, mv in zip(layer.weights, m.get_layer(layer.name).weights):
            assert np.array_equal(np.asarray(kv.value), mv.value), (layer.name, kv.name)
    assert isinstance(m.optimizer, minnn.optimizers.SGD)
    assert (m.optimizer.momentum, m.optimizer.nesterov, m.optimizer.iterations) == (0.9, True, 12)
    assert _same_predictions(m, k, x) < PRED_TOL
    assert _next_epoch(m, k, x, y, batch_size=16) < HIST_TOL
    # ...and back to Keras: a fresh Keras model that goes on from where minnn is now.
    k2 = interop.to_keras(m)
    assert _same_predictions(m, k2, x) < PRED_TOL
    assert _next_epoch(m, k2, x, y, batch_size=16) < HIST_TOL


def test_keras_classifier_with_bce_and_adam_to_minnn():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
    keras.utils.set_random_seed(1)
    k = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")], name="clf")
    k.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
              metrics=["accuracy", "mse"])
    k.fit(x, y, epochs=2, batch_size=32, verbose=0)
    m = interop.from_keras(k)
    assert m.name == "clf"
    assert isinstance(m._loss_fns[0], minnn.losses.BinaryCrossentropy)
    assert m.optimizer.learning_rate == 0.01 and m.optimizer.iterations == 8
    assert _same_predictions(m, k, x) < PRED_TOL
    assert _next_epoch(m, k, x, y) < HIST_TOL


def test_restored_state_is_what_makes_the_histories_agree():
    """Negative control for from_keras: the same move with Adam's state thrown away."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(128, 4)).astype("float32")
    y = (x[:, :1] + x[:, 1:2] > 0).astype("float32")
    keras.utils.set_random_seed(1)
    k = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
    k.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    k.fit(x, y, epochs=2, batch_size=32, verbose=0)
    m = interop.from_keras(k)
    m.optimizer.set_state([])
    m.optimizer.iterations = 0
    assert _next_epoch(m, k, x, y) > 10 * HIST_TOL


def test_two_inputs_two_outputs_and_a_shared_layer():
    keras.utils.set_random_seed(2)
    x1 = keras.Input(shape=(3,), name="x1")
    x2 = keras.Input(shape=(5,), name="x2")
    shared = keras.layers.Dense(4, activation="tanh", name="shared")
    h = keras.layers.Add(name="add")([keras.layers.Dense(4, name="h1")(x1),
                                      keras.layers.Dense(4, name="h2")(x2)])
    h = shared(shared(h))   # one layer, called twice: its weights are shared
    oa = keras.layers.Dense(1, name="oa")(h)
    ob = keras.layers.Dense(2, activation="sigmoid", name="ob")(h)
    k = keras.Model([x1, x2], [oa, ob], name="two")
    k.compile(optimizer="adam", loss=["mse", "binary_crossentropy"], loss_weights=[2.0, 0.5],
              metrics={"oa": ["mae"], "ob": ["accuracy", keras.metrics.BinaryAccuracy(name="acc2")]})
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(64, 3)).astype("float32"), rng.normal(size=(64, 5)).astype("float32")]
    ys = [rng.normal(size=(64, 1)).astype("float32"),
          (rng.uniform(size=(64, 2)) > 0.5).astype("float32")]
    k.fit(xs, ys, epochs=1, batch_size=16, verbose=0)
    m = interop.from_keras(k)
    assert m.count_params() == k.count_params()
    assert m.output_names == ["oa", "ob"]
    assert _same_predictions(m, k, xs) < PRED_TOL
    assert _next_epoch(m, k, xs, ys, batch_size=16) < HIST_TOL
    k2 = interop.to_keras(m)   # and back: loss weights and metrics travel too
    assert _next_epoch(m, k2, xs, ys, batch_size=16) < HIST_TOL


def test_keras_pieces_minnn_lacks_are_all_listed_before_building(monkeypatch):
    inp = keras.Input(shape=(8, 8, 1), name="image")
    h = keras.layers.Conv2D(2, 3, name="conv")(inp)
    h = keras.layers.Flatten(name="flat")(h)
    h = keras.layers.Dense(4, activation="gelu", name="d_gelu",
                           kernel_regularizer=keras.regularizers.L2(0.01))(h)
    out = keras.layers.LayerNormalization(name="norm")(h)
    k = keras.Model(inp, out)
    k.compile(optimizer="nadam", loss="huber", metrics=["auc"])

    def no_building(*args, **kwargs):
        raise AssertionError("a minnn layer was built before the error")
    monkeypatch.setattr(minnn.layers.Dense, "__init__", no_building)
    with pytest.raises(interop.UnsupportedError) as err:
        interop.from_keras(k)
    pieces = err.value.pieces
    text = str(err.value)
    for name in ("Conv2D (layer 'conv')", "activation 'gelu' (Dense 'd_gelu')",
                 "kernel_regularizer=L2 (Dense 'd_gelu')", "LayerNormalization (layer 'norm')",
                 "Huber (loss of output 'norm')", "Nadam (optimizer)",
                 "AUC (metric of output 'norm')"):
        assert any(name in p for p in pieces), (name, pieces)
        assert name in text
    assert text.startswith("The Keras model") and "that minnn does not have" in text


def test_subclassed_keras_model_is_refused_clearly():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(np.zeros((1, 3), "float32"))
    with pytest.raises(interop.UnsupportedError, match="Net.*subclassed"):
        interop.from_keras(net)


def test_wrong_argument_types():
    with pytest.raises(TypeError, match="expects a minnn Model, received int"):
        interop.to_keras(3)
    with pytest.raises(TypeError, match="expects a keras.Model, received Dense"):
        interop.from_keras(keras.layers.Dense(2))


# ---------------------------------------------------------------------------
# Classifiers: Sequential, Flatten, Dropout, activation layers, crossentropies, RMSprop
# ---------------------------------------------------------------------------
def _digits(n=96, classes=3, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4, 4)).astype("float32")
    labels = (np.abs(x[:, 0, :2]).sum(axis=1) * 2).astype(int) % classes
    return x, labels


def test_keras_sequential_classifier_with_rmsprop_to_minnn_and_back():
    x, labels = _digits()
    keras.utils.set_random_seed(4)
    k = keras.Sequential([
        keras.Input(shape=(4, 4)),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="leaky_relu"),
        keras.layers.Dropout(0.0),          # rate 0: the identity, so histories can match
        keras.layers.Dense(8),
        keras.layers.ELU(),
        keras.layers.Dense(3),
        keras.layers.Softmax(),
    ], name="digits")
    k.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
              loss="sparse_categorical_crossentropy")
    k.fit(x, labels, epochs=2, batch_size=32, verbose=0)
    m = interop.from_keras(k)
    assert isinstance(m, minnn.Sequential) and m.name == "digits"
    assert [type(l).__name__ for l in m.layers] == [type(l).__name__ for l in k.layers]
    assert isinstance(m.optimizer, minnn.optimizers.RMSprop) and m.optimizer.centered
    assert m.optimizer.iterations == 6
    assert _same_predictions(m, k, x) < PRED_TOL
    assert _next_epoch(m, k, x, labels) < HIST_TOL
    k2 = interop.to_keras(m)
    assert isinstance(k2, keras.Sequential)
    assert _same_predictions(m, k2, x) < PRED_TOL
    assert _next_epoch(m, k2, x, labels) < HIST_TOL


def test_minnn_sequential_with_logits_to_keras():
    x, labels = _digits(seed=5)
    y = minnn.utils.to_categorical(labels, 3).astype("float32")
    minnn.utils.set_random_seed(5)
    m = minnn.Sequential([
        minnn.Input((4, 4)),
        minnn.layers.Flatten(),
        minnn.Dense(12, activation="softplus"),
        minnn.layers.Dropout(0.5),          # only at training time; predictions must agree
        minnn.Dense(3),
    ], name="logits")
    m.compile(optimizer="adam",
              loss=minnn.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
    m.fit(x, y, epochs=2, batch_size=32, verbose=0)
    k = interop.to_keras(m)
    assert isinstance(k, keras.Sequential)
    assert [l.name for l in k.layers] == [l.name for l in m.layers]
    assert k.loss.get_config()["from_logits"] is True
    assert k.loss.get_config()["label_smoothing"] == 0.1
    assert _same_predictions(m, k, x) < PRED_TOL
    assert int(k.optimizer.iterations) == 6


def test_dense_on_a_3d_input_is_refused():
    inp = keras.Input(shape=(4, 5))
    k = keras.Model(inp, keras.layers.Dense(2, name="d3")(inp))
    with pytest.raises(interop.UnsupportedError, match="Dense 'd3' on an input of rank 3"):
        interop.from_keras(k)
