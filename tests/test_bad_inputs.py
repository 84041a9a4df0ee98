"""Every bad input of issue 6, as a table: the exception type, a message that names the
received value, and a model left exactly as it was (weights, optimiser state, history)."""
import numpy as np
import pytest

import minnn
from minnn import PCA, Add, Dense, Input, Model
from minnn.training import NotCompiledError

N, D = 10, 2


def make_model(seed=0):
    minnn.utils.set_random_seed(seed)
    x = Input((D,), name="inp")
    h = Dense(3, activation="relu", name="hidden")(x)
    m = Model(x, Dense(D, name="out")(h), name="net")
    m.compile("adam", "mse")
    data = np.random.default_rng(seed).normal(size=(N, D)).astype("float32")
    m.train_on_batch(data, data)  # so that Adam holds m, v and iterations = 1
    return m, data


def state_of(m):
    """Everything a failed call must leave untouched."""
    opt = m.optimizer
    return {
        "weights": [w.copy() for w in m.get_weights()],
        "iterations": opt.iterations if opt is not None else None,
        "opt_state": [a.copy() for a in opt.get_state()] if opt is not None else [],
        "optimizer": opt, "loss": m.loss, "history": m.history, "compiled": m.compiled,
    }


def assert_same_state(before, after):
    assert len(before["weights"]) == len(after["weights"])
    for a, b in zip(before["weights"], after["weights"]):
        np.testing.assert_array_equal(a, b)
    assert before["iterations"] == after["iterations"]
    for a, b in zip(before["opt_state"], after["opt_state"]):
        np.testing.assert_array_equal(a, b)
    for k in ("optimizer", "loss", "history", "compiled"):
        assert before[k] is after[k] or before[k] == after[k], k


def _nan_data():
    x = np.zeros((N, D))
    x[3, 1] = np.nan
    return x


def _inf_data():
    x = np.zeros((N, D))
    x[2, 0] = -np.inf
    return x


def _uncompiled_fit(m, data):
    x = m.inputs[0]
    fresh = Model(x, m.get_layer("out")(m.get_layer("hidden")(x)), name="fresh_net")
    fresh.fit(data, data, verbose=0)


def _disconnected(m, data):
    a, b = Input((2,), name="a_in"), Input((2,), name="b_in")
    Model(a, Dense(1)(b))


def _duplicate(m, data):
    x = Input((2,))
    Model(x, Dense(1, name="twin")(Dense(2, name="twin")(x)))


def _width_mismatch(m, data):
    m.get_layer("hidden")(Input((5,)))


def _plain_array_call(m, data):
    m.get_layer("hidden")(data)


def _model_on_array(m, data):
    m(data[:, :1])  # a model called on an array computes (as Keras); of the wrong width, it refuses


def _add_shapes(m, data):
    x = Input((2,))
    Add()([Dense(2)(x), Dense(3)(x)])


def my_loss(y_true, y_pred):
    return np.mean((y_true - y_pred) ** 2)


# (id, action(model, data), exception type, text that must appear in the message)
CASES = [
    # layer arguments
    ("units=0", lambda m, d: Dense(0), ValueError, "units=0"),
    ("units<0", lambda m, d: Dense(-3), ValueError, "units=-3"),
    ("units float", lambda m, d: Dense(2.5), ValueError, "units=2.5"),
    ("units str", lambda m, d: Dense("4"), ValueError, "units='4'"),
    ("activation", lambda m, d: Dense(3, activation="tanhh"), ValueError, "'tanhh'"),
    ("initializer", lambda m, d: Dense(3, kernel_initializer="glorot"), ValueError, "'glorot'"),
    ("bias initializer", lambda m, d: Dense(3, bias_initializer=7), ValueError, "7"),
    ("use_bias", lambda m, d: Dense(3, use_bias="yes"), TypeError, "use_bias='yes'"),
    ("layer name", lambda m, d: Dense(3, name="a/b"), ValueError, "'a/b'"),
    ("layer dtype", lambda m, d: Dense(3, dtype="int32"), ValueError, "'int32'"),
    # Input
    ("Input no shape", lambda m, d: Input(), ValueError, "shape=None"),
    ("Input zero", lambda m, d: Input((0,)), ValueError, "(0,)"),
    ("Input None size", lambda m, d: Input((None, 3)), ValueError, "(None, 3)"),
    ("Input str", lambda m, d: Input("a"), ValueError, "'a'"),
    ("Input float", lambda m, d: Input((2.5,)), ValueError, "2.5"),
    # the graph
    ("layer on array", _plain_array_call, TypeError, "shape (10, 2)"),
    ("model on array", _model_on_array, ValueError, "found shape=(10, 1)"),
    ("disconnected", _disconnected, ValueError, "b_in"),
    ("duplicate names", _duplicate, ValueError, '"twin" is used 2 times'),
    ("width mismatch", _width_mismatch, ValueError, "(None, 5)"),
    ("Add shapes", _add_shapes, ValueError, "(None, 3)"),
    ("Model outputs array", lambda m, d: Model(m.inputs[0], d), TypeError, "shape (10, 2)"),
    # compile
    ("optimizer", lambda m, d: m.compile("adamm", "mse"), ValueError, "'adamm'"),
    ("optimizer type", lambda m, d: m.compile(3, "mse"), ValueError, "optimizer=3"),
    ("learning rate", lambda m, d: m.compile(minnn.optimizers.Adam(-1.0), "mse"), ValueError,
     "learning_rate=-1.0"),
    ("loss name", lambda m, d: m.compile("adam", "msee"), ValueError, "'msee'"),
    ("loss None", lambda m, d: m.compile("adam"), ValueError, "loss=None"),
    ("loss dict keys", lambda m, d: m.compile("adam", {"decoder": "mse"}), ValueError,
     "['decoder']"),
    ("loss function", lambda m, d: m.compile("adam", my_loss), TypeError, "my_loss"),
    ("loss list length", lambda m, d: m.compile("adam", ["mse", "mse"]), ValueError, "2 losses"),
    ("loss type", lambda m, d: m.compile("adam", 3), TypeError, "received 3"),
    # fit before compile
    ("fit before compile", _uncompiled_fit, NotCompiledError, "fresh_net"),
    # fit/evaluate/train_on_batch data
    *[(f"{meth} {name}", (lambda meth, fn: lambda m, d: getattr(m, meth)(*fn(d)))(meth, fn), exc, needle)
      for meth in ("fit", "evaluate", "train_on_batch")
      for name, fn, exc, needle in [
          ("x 1-D", lambda d: (d[:, 0], d), ValueError, "(10,)"),
          ("x 3-D", lambda d: (d[:, :, None], d), ValueError, "(10, 2, 1)"),
          ("x width", lambda d: (np.zeros((N, 3)), d), ValueError, "(10, 3)"),
          ("y width", lambda d: (d, np.zeros((N, 5))), ValueError, "(10, 5)"),
          ("lengths", lambda d: (d, d[:5]), ValueError, "y sizes: 5"),
          ("empty", lambda d: (d[:0], d[:0]), ValueError, "(0, 2)"),
          ("NaN", lambda d: (_nan_data(), d), ValueError, "nan"),
          ("inf", lambda d: (d, _inf_data()), ValueError, "-inf"),
          ("too big for float32", lambda d: (np.full((N, D), 1e300), d), ValueError, "inf"),
          ("strings", lambda d: (np.full((N, D), "a"), d), TypeError, "'a'"),
          ("objects", lambda d: (np.full((N, D), None), d), TypeError, "object"),
          ("complex", lambda d: (d + 1j, d), TypeError, "complex"),
          ("ragged", lambda d: ([[1.0, 2.0], [3.0]], d[:2]), TypeError, "list"),
          ("y None", lambda d: (d, None), ValueError, "None"),
          ("y dict keys", lambda d: (d, {"decoder": d}), ValueError, "'decoder'"),
          ("x symbolic", lambda d: (Input((2,)), d), TypeError, "SymbolicTensor"),
      ]],
    # predict
    ("predict 1-D", lambda m, d: m.predict(d[0], verbose=0), ValueError, "(2,)"),
    ("predict width", lambda m, d: m.predict(np.zeros((4, 3)), verbose=0), ValueError, "(4, 3)"),
    ("predict NaN", lambda m, d: m.predict(_nan_data(), verbose=0), ValueError, "nan"),
    ("predict empty", lambda m, d: m.predict(np.zeros((0, 2)), verbose=0), ValueError, "(0, 2)"),
    ("predict strings", lambda m, d: m.predict([["x", "y"]], verbose=0), TypeError, "'x'"),
    ("predict batch 0", lambda m, d: m.predict(d, batch_size=0, verbose=0), ValueError, "batch_size=0"),
    # fit arguments
    ("batch_size 0", lambda m, d: m.fit(d, d, batch_size=0, verbose=0), ValueError, "batch_size=0"),
    ("batch_size<0", lambda m, d: m.fit(d, d, batch_size=-4, verbose=0), ValueError, "batch_size=-4"),
    ("batch_size float", lambda m, d: m.fit(d, d, batch_size=2.0, verbose=0), ValueError,
     "batch_size=2.0"),
    ("evaluate batch_size", lambda m, d: m.evaluate(d, d, batch_size=-1, verbose=0), ValueError,
     "batch_size=-1"),
    ("epochs<0", lambda m, d: m.fit(d, d, epochs=-1, verbose=0), ValueError, "epochs=-1"),
    ("epochs float", lambda m, d: m.fit(d, d, epochs=1.5, verbose=0), ValueError, "epochs=1.5"),
    ("split 1", lambda m, d: m.fit(d, d, validation_split=1.0, verbose=0), ValueError,
     "validation_split=1.0"),
    ("split<0", lambda m, d: m.fit(d, d, validation_split=-0.1, verbose=0), ValueError,
     "validation_split=-0.1"),
    ("split str", lambda m, d: m.fit(d, d, validation_split="0.2", verbose=0), ValueError,
     "validation_split='0.2'"),
    ("split empties train", lambda m, d: m.fit(d, d, validation_split=0.95, verbose=0), ValueError,
     "validation_split=0.95"),
    ("split empties val", lambda m, d: m.fit(d, d, validation_split=1e-20, verbose=0), ValueError,
     "validation_split=1e-20"),
    ("validation_data", lambda m, d: m.fit(d, d, validation_data=(d, d, d), verbose=0), ValueError,
     "length 3"),
    ("validation_data NaN", lambda m, d: m.fit(d, d, validation_data=(_nan_data(), d), verbose=0),
     ValueError, "nan"),
    ("verbose", lambda m, d: m.fit(d, d, verbose=7), ValueError, "verbose=7"),
    ("shuffle", lambda m, d: m.fit(d, d, shuffle="yes", verbose=0), TypeError, "shuffle='yes'"),
    ("callbacks", lambda m, d: m.fit(d, d, callbacks=[print], verbose=0), TypeError, "print"),
    ("callbacks not a list", lambda m, d: m.fit(d, d, callbacks=minnn.callbacks.History(), verbose=0),
     TypeError, "History"),
    # set_weights
    ("set_weights count", lambda m, d: m.set_weights(m.get_weights()[:3]), ValueError, "length 3"),
    ("set_weights shape", lambda m, d: m.set_weights([np.zeros((3, 3))] + m.get_weights()[1:]),
     ValueError, "(3, 3)"),
    ("set_weights NaN", lambda m, d: m.set_weights(m.get_weights()[:3] + [np.full(2, np.nan)]),
     ValueError, "NaN"),
    ("set_weights type", lambda m, d: m.set_weights(np.zeros(4)), TypeError, "ndarray"),
    # PCA
    ("PCA 0", lambda m, d: PCA(0), ValueError, "n_components=0"),
    ("PCA float", lambda m, d: PCA(1.5), ValueError, "n_components=1.5"),
    ("PCA bool", lambda m, d: PCA(True), ValueError, "n_components=True"),
    ("PCA > features", lambda m, d: PCA(3).fit(d), ValueError, "n_components=3"),
    ("PCA > samples", lambda m, d: PCA(3).fit(np.ones((2, 5))), ValueError, "n_components=3"),
    ("PCA 1-D", lambda m, d: PCA(1).fit(d[:, 0]), ValueError, "(10,)"),
    ("PCA strings", lambda m, d: PCA(1).fit(np.full((3, 2), "a")), TypeError, "<U1"),
    ("PCA NaN", lambda m, d: PCA(1).fit(_nan_data()), ValueError, "NaN"),
    ("PCA transform width", lambda m, d: PCA(1).fit(d).transform(np.ones((3, 4))), ValueError,
     "(3, 4)"),
    # saving paths
    ("save path type", lambda m, d: m.save(42), TypeError, "42"),
    ("load_weights path type", lambda m, d: m.load_weights(None), TypeError, "None"),
    ("load_weights by_name", lambda m, d: m.load_weights("x.npz", by_name="yes"), TypeError, "'yes'"),
    ("load_weights missing", lambda m, d: m.load_weights("/nonexistent/w.npz"), FileNotFoundError,
     "/nonexistent/w.npz"),
    ("save into missing folder", lambda m, d: m.save("/nonexistent/dir/m.minnn"), FileNotFoundError,
     "/nonexistent/dir"),
    # callbacks
    ("EarlyStopping patience", lambda m, d: minnn.callbacks.EarlyStopping(patience=-1), ValueError,
     "patience=-1"),
    ("EarlyStopping mode", lambda m, d: minnn.callbacks.EarlyStopping(mode="up"), ValueError, "'up'"),
    ("ModelCheckpoint path", lambda m, d: minnn.callbacks.ModelCheckpoint(3), TypeError, "3"),
]


@pytest.mark.parametrize("action, exc, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_clearly_and_changes_nothing(action, exc, needle):
    m, data = make_model()
    before = state_of(m)
    with pytest.raises(exc) as info:
        action(m, data)
    assert isinstance(info.value, (ValueError, TypeError)), type(info.value)
    assert needle in str(info.value), str(info.value)
    assert_same_state(before, state_of(m))


def test_the_state_check_itself_catches_a_change():
    # Negative control: a call that does change the model must fail assert_same_state.
    m, data = make_model()
    before = state_of(m)
    m.train_on_batch(data, data)
    with pytest.raises(AssertionError):
        assert_same_state(before, state_of(m))


def test_a_check_after_a_change_would_be_caught(monkeypatch):
    # Negative control: if fit changed the weights before validating batch_size, the table
    # test would notice. Plant exactly that bug.
    m, data = make_model()
    real = minnn.training._check_batch_size

    def late_check(bs):
        m.get_layer("out").kernel.value[...] += 1.0
        return real(bs)

    monkeypatch.setattr(minnn.training, "_check_batch_size", late_check)
    before = state_of(m)
    with pytest.raises(ValueError):
        m.fit(data, data, batch_size=0, verbose=0)
    with pytest.raises(AssertionError):
        assert_same_state(before, state_of(m))


def test_integer_data_is_converted_to_floatx():
    m, _ = make_model()
    xi = np.arange(20).reshape(10, 2)  # int64
    out = m.predict(xi, verbose=0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, m.predict(xi.astype(np.float32), verbose=0))
    loss = m.evaluate(xi, xi, verbose=0)
    assert np.isfinite(loss)


def test_a_single_sample_is_not_broadcast():
    m, data = make_model()
    with pytest.raises(ValueError, match=r"reshape\(1, 2\)"):
        m.predict(data[0], verbose=0)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        m.fit(data, data[0], verbose=0)  # a (2,) target for 10 samples is not broadcast


def test_fit_before_compile_is_also_a_runtime_error_as_in_keras():
    x = Input((2,))
    m = Model(x, Dense(1)(x))
    with pytest.raises(RuntimeError, match=r"You must call `compile\(\)` before using the model"):
        m.fit(np.zeros((3, 2)), np.zeros((3, 1)), verbose=0)


@pytest.mark.parametrize("call", [
    lambda a, b: minnn.losses.mean_squared_error(a, b),
    lambda a, b: minnn.losses.MeanSquaredError()(a, b),
    lambda a, b: minnn.losses.binary_crossentropy(a, b),
    lambda a, b: minnn.losses.BinaryCrossentropy()(a, b),
], ids=["mse fn", "MSE class", "bce fn", "BCE class"])
def test_losses_refuse_to_broadcast_mismatched_shapes(call):
    # (4, 2) against (4, 1) would broadcast to (4, 2) and give a plausible, wrong number.
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 2\), y_pred.shape=\(4, 1\)"):
        call(np.full((4, 2), 0.5), np.full((4, 1), 0.5))


def test_a_layer_called_on_an_array_builds_itself_as_in_keras():
    layer = Dense(3, dtype="float64")
    y = layer.forward(np.ones((2, 4)))
    assert y.shape == (2, 3) and layer.kernel.shape == (4, 3)


@pytest.mark.parametrize("call, exc, names", [
    (lambda l: l.forward(np.ones((2, 5))), ValueError, r"\(N, 4\).*\(2, 5\)"),
    (lambda l: l.forward(np.ones(4)), ValueError, r"\(4,\).*reshape\(1, 4\)"),
    (lambda l: l.forward([[1.0, 2.0, 3.0, 4.0]]), TypeError, "list"),
    (lambda l: l.backward(np.ones((2, 3))), RuntimeError, "before forward"),
], ids=["wrong width", "one sample, 1-D", "a list", "backward first"])
def test_raw_forward_and_backward_say_what_is_wrong(call, exc, names):
    layer = Dense(3, dtype="float64")
    layer.build((None, 4))
    before = layer.get_weights()
    with pytest.raises(exc, match=names):
        call(layer)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before))


def test_backward_refuses_a_dy_of_another_shape_before_touching_the_gradients():
    layer = Dense(3, activation="relu", dtype="float64")
    layer.forward(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 1\)"):
        layer.backward(np.ones((2, 1)))  # (2, 1) would broadcast against (2, 3)
    assert not layer.kernel.grad.any() and not layer.bias.grad.any()
    x = Input((2,))
    model = Model(x, Dense(2)(x))
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones((1, 2), dtype="float32"))


def test_add_never_broadcasts():
    with pytest.raises(ValueError, match=r"\(4, 2\), \(1, 2\)"):
        Add().forward([np.ones((4, 2)), np.ones((1, 2))])
