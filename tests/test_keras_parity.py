"""minnn against real Keras 3, from identical initial weights (optional: needs keras and jax).

    pip install -e ".[parity]" && KERAS_BACKEND=jax python -m pytest tests/test_keras_parity.py

Skipped when Keras (on JAX) is not installed, as in the default test command. It builds the
tutorial's nested autoencoder in both, copies minnn's weights into Keras with
``keras_model.set_weights(minnn_model.get_weights())`` (so the weight order must match), and
compares the initial loss, the gradients, the first Adam steps, and the loss history with
shuffle=False. Both compute in float32 with different matmul kernels, so they agree to
float32 round-off at first; over thousands of steps that round-off grows (training is
chaotic), so the late history is compared loosely.

It also builds the branched, shared, two-input, two-output and nested graphs of
test_layer_order.py in Keras, checks that Keras lists their layers in the table's order,
loads minnn's get_weights() into each and compares the predictions (with minnn's old
post-order listing planted back as a negative control), and compares summary() texts live.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
jax = pytest.importorskip("jax")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":
    pytest.skip("these checks use Keras on the JAX backend", allow_module_level=True)

import jax.numpy as jnp  # noqa: E402

import minnn  # noqa: E402
from minnn.datasets import two_gaussians  # noqa: E402
from tutorial_ae import build_tutorial_ae  # noqa: E402


def keras_tutorial_ae():
    inputs = keras.Input(shape=(2,), name="Input")
    x = keras.layers.Dense(20, activation="relu")(inputs)
    x = keras.layers.Dense(20, activation="relu")(x)
    lat = keras.layers.Dense(1, activation="linear")(x)
    encoder = keras.Model(inputs, lat, name="encoder")
    lat_in = keras.Input(shape=(1,))
    x = keras.layers.Dense(20, activation="relu")(lat_in)
    x = keras.layers.Dense(20, activation="relu")(x)
    out = keras.layers.Dense(2, activation="linear")(x)
    decoder = keras.Model(lat_in, out, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="ae")


@pytest.fixture
def pair():
    data, _ = two_gaussians.load_data(0)
    minnn.utils.set_random_seed(0)
    _, _, m = build_tutorial_ae()
    k = keras_tutorial_ae()
    k.set_weights(m.get_weights())
    m.compile("adam", "mse")
    k.compile(optimizer="adam", loss="mse")
    return m, k, data


def test_same_parameter_count_and_initial_loss(pair):
    m, k, data = pair
    assert k.count_params() == m.count_params() == 1003
    lm = m.evaluate(data, data, batch_size=2000, verbose=0)
    lk = k.evaluate(data, data, batch_size=2000, verbose=0)
    assert abs(lm - lk) <= 1e-6 * lk


def test_same_gradients(pair):
    m, k, data = pair
    xb = data[:128]
    m._ensure_flat()
    y_pred = m.forward(xb)
    m.zero_grad()
    m.backward(m._loss_fns[0].backward(xb, y_pred))

    def keras_loss(values):
        y, _ = k.stateless_call(values, [], xb)
        return jnp.mean(jnp.mean(jnp.square(xb - y), axis=-1))

    grads_k = jax.grad(keras_loss)([v.value for v in k.trainable_variables])
    for w, gk in zip(m.weights, grads_k):
        gk = np.asarray(gk)
        assert w.grad.shape == gk.shape
        assert np.max(np.abs(w.grad - gk)) <= 1e-5 * np.max(np.abs(gk)) + 1e-9, w.name


def test_same_first_adam_steps(pair):
    m, k, data = pair
    xb = data[:128]
    for _ in range(3):
        m.train_on_batch(xb, xb)
        k.train_on_batch(xb, xb)
        for a, b in zip(m.get_weights(), k.get_weights()):
            assert np.max(np.abs(a - b)) < 1e-6
    assert m.optimizer.iterations == int(k.optimizer.iterations) == 3


def test_same_loss_history_without_shuffling(pair):
    m, k, data = pair
    hm = np.array(m.fit(data, data, epochs=200, batch_size=128, shuffle=False, verbose=0).history["loss"])
    hk = np.array(k.fit(data, data, epochs=200, batch_size=128, shuffle=False, verbose=0).history["loss"])
    rel = np.abs(hm - hk) / hk
    assert rel[:20].max() < 1e-4      # measured: 5e-6
    assert rel[-1] < 0.1               # measured: 4e-3 after 3200 steps


# ---------------------------------------------------------------------------
# Issue 10: a Keras user's first classifier, `import minnn as keras`
# ---------------------------------------------------------------------------
def mnist_slice(n_train=600, n_test=200):
    (x_train, y_train), (x_test, y_test) = minnn.datasets.mnist.load_data()
    # The bundled subset is sorted by label: take every k-th image so every digit appears.
    tr = np.linspace(0, len(x_train) - 1, n_train).astype(int)
    te = np.linspace(0, len(x_test) - 1, n_test).astype(int)
    return (x_train[tr] / 255.0, y_train[tr]), (x_test[te] / 255.0, y_test[te])


def hello_world(lib, rate):
    return lib.Sequential([lib.Input(shape=(28, 28)), lib.layers.Flatten(),
                           lib.layers.Dense(32, activation="relu"), lib.layers.Dropout(rate),
                           lib.layers.Dense(10, activation="softmax")])


@pytest.mark.parametrize("optimizer, loss, onehot", [
    ("adam", "sparse_categorical_crossentropy", False),
    ("rmsprop", "sparse_categorical_crossentropy", False),
    ("sgd", "categorical_crossentropy", True),
])
def test_hello_world_classifier_same_history_evaluate_predictions(optimizer, loss, onehot):
    (x_train, y_train), (x_test, y_test) = mnist_slice()
    if onehot:
        y_train, y_test = minnn.utils.to_categorical(y_train), minnn.utils.to_categorical(y_test)
    minnn.utils.set_random_seed(0)
    m = hello_world(minnn, 0.0)
    k = hello_world(keras, 0.0)
    k.set_weights(m.get_weights())
    m.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    k.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    hm = m.fit(x_train, y_train, epochs=3, shuffle=False, validation_split=0.1, verbose=0).history
    hk = k.fit(x_train, y_train, epochs=3, shuffle=False, validation_split=0.1, verbose=0).history
    assert sorted(hm) == sorted(hk) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in hk:
        np.testing.assert_allclose(hm[key], hk[key], rtol=2e-5)   # float32 round-off
    em, ek = m.evaluate(x_test, y_test, verbose=0), k.evaluate(x_test, y_test, verbose=0)
    assert len(em) == len(ek) == 2                                 # [loss, accuracy]
    np.testing.assert_allclose(em, ek, rtol=2e-5)
    np.testing.assert_allclose(m.predict(x_test, verbose=0), k.predict(x_test, verbose=0),
                               atol=2e-5)
    for a, b in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)


def test_hello_world_with_dropout_agrees_at_inference_and_statistically():
    (x_train, y_train), (x_test, y_test) = mnist_slice(1000)
    minnn.utils.set_random_seed(0)
    keras.utils.set_random_seed(0)
    m, k = hello_world(minnn, 0.2), hello_world(keras, 0.2)
    k.set_weights(m.get_weights())
    # Before training, inference ignores dropout in both: the same predictions.
    np.testing.assert_allclose(m.predict(x_test, verbose=0), k.predict(x_test, verbose=0), atol=1e-6)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    k.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hm = m.fit(x_train, y_train, epochs=3, verbose=0).history
    hk = k.fit(x_train, y_train, epochs=3, verbose=0).history
    # Different masks and batch orders: the same course, not the same numbers.
    np.testing.assert_allclose(hm["loss"], hk["loss"], rtol=0.15)
    # Three epochs on 1000 digits from other shuffles and masks: measured gaps up to 0.054.
    np.testing.assert_allclose(hm["accuracy"], hk["accuracy"], atol=0.1)
    (em, am), (ek, ak) = m.evaluate(x_test, y_test, verbose=0), k.evaluate(x_test, y_test, verbose=0)
    # The same band as the histories: two runs with other masks and shuffles (measured on
    # Keras 3.15.1: a test-accuracy gap of 0.07 and a loss gap of 10 %).
    assert abs(em - ek) < 0.25 * ek and abs(am - ak) < 0.1
    # With the same trained weights, inference agrees exactly again.
    k.set_weights(m.get_weights())
    np.testing.assert_allclose(m.predict(x_test, verbose=0), k.predict(x_test, verbose=0), atol=2e-6)


def test_dropout_training_statistics_match_keras():
    x = np.ones((400, 250), dtype=np.float32)
    ym = minnn.layers.Dropout(0.3, seed=1).forward(x, training=True)
    yk = np.asarray(keras.layers.Dropout(0.3, seed=1)(x, training=True))
    assert set(np.unique(ym)) == set(np.unique(yk))            # {0, 1/0.7}
    assert abs(np.mean(ym == 0) - np.mean(yk == 0)) < 0.01      # 100,000 draws each


@pytest.mark.parametrize("name", ["softmax", "leaky_relu", "elu", "softplus", "relu", "sigmoid", "tanh"])
def test_activations_and_their_gradients_match_jax(name):
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((5, 7)) * 3).astype(np.float32)
    g = rng.standard_normal((5, 7)).astype(np.float32)
    act = minnn.activations.get(name)
    kact = keras.activations.get(name)
    np.testing.assert_allclose(act.forward(z), np.asarray(kact(z)), rtol=2e-6, atol=1e-7)
    _, vjp = jax.vjp(lambda t: kact(t), jnp.asarray(z))
    np.testing.assert_allclose(act.backward(g, z, act.forward(z)), np.asarray(vjp(jnp.asarray(g))[0]),
                               rtol=2e-5, atol=1e-6)


LOSSES = [
    ("categorical_crossentropy", {}, "onehot", "probs"),
    ("categorical_crossentropy", {"label_smoothing": 0.1}, "onehot", "probs"),
    ("categorical_crossentropy", {"from_logits": True}, "onehot", "logits"),
    ("sparse_categorical_crossentropy", {}, "labels", "probs"),
    ("sparse_categorical_crossentropy", {"from_logits": True}, "labels", "logits"),
    ("binary_crossentropy", {}, "binary", "probs01"),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}, "binary", "logits"),
    ("mean_absolute_error", {}, "real", "logits"),
]
CLASSES = {"categorical_crossentropy": "CategoricalCrossentropy",
           "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
           "binary_crossentropy": "BinaryCrossentropy", "mean_absolute_error": "MeanAbsoluteError"}


@pytest.mark.parametrize("name, kw, target, pred", LOSSES, ids=lambda v: str(v))
def test_losses_and_gradients_match_keras(name, kw, target, pred):
    rng = np.random.default_rng(1)
    n, kk = 6, 4
    if pred == "probs":
        p = rng.uniform(0.0, 1.0, (n, kk)).astype(np.float32)
        p[0, 0] = 0.0                      # a probability the clip must catch
    elif pred == "probs01":
        p = rng.uniform(0.0, 1.0, (n, kk)).astype(np.float32)
        p[0, 0], p[1, 1] = 0.0, 1.0
    else:
        p = (rng.standard_normal((n, kk)) * 3).astype(np.float32)
    labels = rng.integers(0, kk, n)
    y = {"onehot": np.eye(kk, dtype=np.float32)[labels], "labels": labels,
         "binary": rng.integers(0, 2, (n, kk)).astype(np.float32),
         "real": (rng.standard_normal((n, kk)) * 3).astype(np.float32)}[target]
    ml = getattr(minnn.losses, CLASSES[name])(**kw)
    kl = getattr(keras.losses, CLASSES[name])(**kw)
    np.testing.assert_allclose(ml.forward(y, p), float(kl(y, p)), rtol=2e-6)
    gk = jax.grad(lambda t: kl(y, t))(jnp.asarray(p))
    np.testing.assert_allclose(ml.backward(y, p), np.asarray(gk), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"centered": True}, {"rho": 0.8, "epsilon": 1e-4}])
def test_rmsprop_steps_match_keras(kw):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    minnn.utils.set_random_seed(0)
    mi = minnn.Input((3,))
    m = minnn.Model(mi, minnn.layers.Dense(2)(mi))
    ki = keras.Input((3,))
    k = keras.Model(ki, keras.layers.Dense(2)(ki))
    k.set_weights(m.get_weights())
    m.compile(optimizer=minnn.optimizers.RMSprop(**kw), loss="mse")
    k.compile(optimizer=keras.optimizers.RMSprop(**kw), loss="mse")
    for _ in range(3):
        m.train_on_batch(x, y)
        k.train_on_batch(x, y)
    for a, b in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-7)


def test_flatten_sequential_shapes_and_counts_match_keras():
    m = hello_world(minnn, 0.2)
    k = hello_world(keras, 0.2)
    assert [type(l).__name__ for l in m.layers] == [type(l).__name__ for l in k.layers]
    assert [w.shape for w in m.get_weights()] == [tuple(w.shape) for w in k.get_weights()]
    assert m.count_params() == k.count_params()
    assert m.output_shape == k.output_shape


# ---------------------------------------------------------------------------
# Issues 9 and 10: metrics, multi-output results, callbacks, side by side
# ---------------------------------------------------------------------------
def test_hello_world_with_accuracy_same_history_and_evaluate():
    (x_train, y_train), (x_test, y_test) = mnist_slice()
    minnn.utils.set_random_seed(0)
    m = hello_world(minnn, 0.0)
    k = hello_world(keras, 0.0)
    k.set_weights(m.get_weights())
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    k.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    hm = m.fit(x_train, y_train, epochs=3, shuffle=False, validation_split=0.1, verbose=0).history
    hk = k.fit(x_train, y_train, epochs=3, shuffle=False, validation_split=0.1, verbose=0).history
    assert list(hm) == list(hk) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key in hk:
        np.testing.assert_allclose(hm[key], hk[key], rtol=2e-5, err_msg=key)
    em, ek = m.evaluate(x_test, y_test, verbose=0), k.evaluate(x_test, y_test, verbose=0)
    assert len(em) == len(ek) == 2
    np.testing.assert_allclose(em, ek, rtol=2e-5)
    dm = m.evaluate(x_test, y_test, verbose=0, return_dict=True)
    dk = k.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert list(dm) == list(dk)
    np.testing.assert_allclose(list(dm.values()), list(dk.values()), rtol=2e-5)


def two_output_model(lib):
    inp = lib.Input((3,))
    t = lib.layers.Dense(4, activation="relu", name="trunk")(inp)
    oa = lib.layers.Dense(2, name="out_a")(t)
    ob = lib.layers.Dense(1, activation="sigmoid", name="out_b")(t)
    return lib.Model(inp, [oa, ob])


@pytest.mark.parametrize("compile_kw", [
    dict(loss=["mse", "binary_crossentropy"]),
    dict(loss={"out_a": "mse", "out_b": "binary_crossentropy"},
         loss_weights={"out_a": 2.0, "out_b": 0.25}, metrics={"out_a": ["mae"], "out_b": "accuracy"}),
    dict(loss=["mse", "binary_crossentropy"], loss_weights=[0.5, 3.0],
         metrics=[["mse", "mae"], ["accuracy"]]),
])
def test_two_outputs_same_history_evaluate_and_train_on_batch(compile_kw):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    ya = rng.normal(size=(40, 2)).astype("float32")
    yb = (rng.uniform(size=(40, 1)) > 0.5).astype("float32")
    minnn.utils.set_random_seed(0)
    m = two_output_model(minnn)
    k = two_output_model(keras)
    k.set_weights(m.get_weights())
    m.compile(optimizer="adam", **compile_kw)
    k.compile(optimizer="adam", **compile_kw)
    for lib_model in (m, k):
        lib_model.results = [lib_model.evaluate(x, [ya, yb], batch_size=8, verbose=0),
                             lib_model.train_on_batch(x[:8], [ya[:8], yb[:8]]),
                             lib_model.train_on_batch(x[8:16], [ya[8:16], yb[8:16]], return_dict=True)]
    np.testing.assert_allclose(m.results[0], k.results[0], rtol=2e-5)
    np.testing.assert_allclose(m.results[1], k.results[1], rtol=2e-5)
    assert list(m.results[2]) == list(k.results[2])
    np.testing.assert_allclose(list(m.results[2].values()), list(k.results[2].values()), rtol=2e-5)
    hm = m.fit(x, [ya, yb], epochs=3, batch_size=8, shuffle=False, validation_split=0.25, verbose=0).history
    hk = k.fit(x, [ya, yb], epochs=3, batch_size=8, shuffle=False, validation_split=0.25, verbose=0).history
    assert list(hm) == list(hk)
    for key in hk:
        np.testing.assert_allclose(hm[key], hk[key], rtol=2e-5, err_msg=key)


def test_same_callback_hook_sequence_as_keras():
    def tracer(base):
        class Trace(base):
            def __init__(self):
                super().__init__()
                self.events = []
        for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
                     "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
                     "on_test_batch_begin", "on_test_batch_end"):
            def rec(self, *args, _h=hook, **kw):
                logs = kw.get("logs", args[-1] if args and isinstance(args[-1], dict) else None)
                index = args[0] if args and isinstance(args[0], int) else None
                self.events.append((_h, index, sorted(logs) if logs else []))
            setattr(Trace, hook, rec)
        return Trace()

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)).astype("float32"), rng.normal(size=(10, 2)).astype("float32")
    minnn.utils.set_random_seed(0)
    m = minnn.Model(inp := minnn.Input((3,)), minnn.layers.Dense(2)(inp))
    k = keras.Model(kinp := keras.Input((3,)), keras.layers.Dense(2)(kinp))
    for model, base in ((m, minnn.callbacks.Callback), (k, keras.callbacks.Callback)):
        model.compile("adam", "mse", metrics=["mae"])
        model.trace = tracer(base)
        model.fit(x, y, epochs=2, batch_size=4, validation_split=0.3, verbose=0,
                  callbacks=[model.trace])
        model.evaluate(x, y, batch_size=4, verbose=0, callbacks=[model.trace])
    assert m.trace.events == k.trace.events


def test_early_stopping_restores_at_the_end_and_prints_as_keras(capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 3)).astype("float32")
    y = 3 * x[:, :2]
    minnn.utils.set_random_seed(1)
    m = minnn.Model(inp := minnn.Input((3,)), minnn.layers.Dense(2)(inp))
    k = keras.Model(kinp := keras.Input((3,)), keras.layers.Dense(2)(kinp))
    k.set_weights(m.get_weights())
    out = {}
    for name, model, lib in (("minnn", m, minnn), ("keras", k, keras)):
        model.compile(lib.optimizers.SGD(1.45), "mse")  # the loss falls, then rises
        es = lib.callbacks.EarlyStopping(monitor="loss", patience=10, restore_best_weights=True,
                                         verbose=1)
        model.h = model.fit(x, y, epochs=4, batch_size=4, shuffle=False, verbose=0, callbacks=[es])
        out[name] = capsys.readouterr().out
    np.testing.assert_allclose(m.h.history["loss"], k.h.history["loss"], rtol=1e-5)
    assert int(np.argmin(m.h.history["loss"])) < 3   # the best epoch is not the last
    assert out["minnn"] == out["keras"]
    for a, b in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- branched graphs: Keras's layer and weight order --------------------------------------
import types  # noqa: E402

import test_layer_order as order  # noqa: E402

KERAS = types.SimpleNamespace(Input=keras.Input, Dense=keras.layers.Dense,
                              Add=keras.layers.Add, Model=keras.Model)


def _inputs_for(model, rng):
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    return [rng.normal(size=(7,) + s).astype("float32") for s in shapes]


def _predict(model, xs):
    out = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("case, build, names, shapes", order.CASES,
                         ids=[c[0] for c in order.CASES])
def test_branched_graph_weights_load_into_keras(case, build, names, shapes):
    """The table of test_layer_order.py is Keras's order, and Keras predicts as minnn does
    once it is given minnn's get_weights()."""
    minnn.utils.set_random_seed(1)
    m = build()
    k = build(KERAS)
    assert [l.name for l in k.layers] == [l.name for l in m.layers] == names
    k.set_weights(m.get_weights())
    xs = _inputs_for(m, np.random.default_rng(0))
    for a, b in zip(_predict(m, xs), _predict(k, xs)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _same_shaped_branches(lib):
    """The issue's scenario: b1 and a1 have the same shape, so a wrong order loads silently."""
    inp = lib.Input((3,), name="inp")
    b1 = lib.Dense(2, name="b1")(inp)
    a2 = lib.Dense(2, name="a2")(lib.Dense(2, name="a1")(inp))
    return lib.Model(inp, lib.Dense(1, name="out")(lib.Add(name="add")([b1, a2])))


def test_same_shaped_branches_agree_and_the_old_order_would_not(monkeypatch):
    minnn.utils.set_random_seed(2)
    m = _same_shaped_branches(order.MINNN)
    k = _same_shaped_branches(KERAS)
    x = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    k.set_weights(m.get_weights())
    np.testing.assert_allclose(m.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # Negative control: minnn's old post-order listing loads into Keras without an error...
    monkeypatch.setattr(minnn.graph, "keras_order", order._post_order_listing)
    old = _same_shaped_branches(order.MINNN)
    old.set_weights(m.get_weights())
    assert [l.name for l in old.layers] == ["inp", "b1", "a1", "a2", "add", "out"]
    k.set_weights(old.get_weights())
    # ...and Keras then computes something else.
    assert not np.allclose(old.predict(x, verbose=0), k.predict(x, verbose=0), atol=1e-3)


# -- summary(): live against Keras, beside the recorded tables --------------------------------
import sys  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "keras_reference"))
import summary_models  # noqa: E402


SUMMARY_KERAS = types.SimpleNamespace(
    Input=keras.Input, Dense=keras.layers.Dense, Add=keras.layers.Add, Model=keras.Model,
    Sequential=keras.Sequential, Flatten=keras.layers.Flatten, Dropout=keras.layers.Dropout)
SUMMARY_MINNN = types.SimpleNamespace(
    Input=minnn.Input, Dense=minnn.Dense, Add=minnn.Add, Model=minnn.Model,
    Sequential=minnn.Sequential, Flatten=minnn.layers.Flatten, Dropout=minnn.layers.Dropout)


@pytest.mark.parametrize("name", sorted(summary_models.MODELS))
def test_summary_is_keras_text_live(name, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    kk, mm = [], []
    summary_models.MODELS[name](SUMMARY_KERAS).summary(print_fn=lambda s, **_: kk.append(s),
                                               expand_nested=True)
    summary_models.MODELS[name](SUMMARY_MINNN).summary(print_fn=mm.append, expand_nested=True)
    assert mm == kk
