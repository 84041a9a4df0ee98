"""A Keras beginner's first programs, run with ``import minnn as keras``.

The programs live in tests/keras_programs/ (p01 ... p10), written as a Keras 3 user writes
them from the first examples of keras.io's guides (Sequential, Functional API, training and
evaluation, callbacks, saving weights, a binary classifier, a regression, one-hot labels,
looking inside layers). Each either runs unchanged in minnn, or stops at the first feature
minnn leaves out with an error that names that feature (never a bare AttributeError from
deep inside). With Keras installed, each also runs in real Keras 3 (JAX) from the same initial
weights, and the histories, evaluate's results and predictions are compared.

Then one test per gap these programs found, each failing on the code before its fix.
"""
import os
import sys

import numpy as np
import pytest

import minnn
from minnn import unsupported

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "keras_programs"))
import harness  # noqa: E402

# What each program does in minnn: None (runs to the end), or the error it stops at
# (its type and words of its message), all features minnn leaves out on purpose.
EXPECTED = {
    "p01_sequential.py": (NotImplementedError, "minnn has no frozen layers"),
    "p02_functional_mnist.py": None,
    "p03_multi_io.py": None,
    "p04_train_eval.py": None,
    "p05_callbacks.py": (ValueError, "Cannot save to 'mymodel_{epoch}.keras'"),
    "p06_save_weights.py": (ValueError, "Cannot save to 'my_model.keras'"),
    "p07_binary.py": None,
    "p08_regression.py": None,
    "p09_categorical.py": None,
    "p10_layers_weights.py": (NotImplementedError, "minnn has no frozen layers"),
}
# Dropout draws other masks in Keras (JAX's generator): compare the structure only.
STRUCTURE_ONLY = {"p09_categorical.py"}


def test_every_program_is_listed():
    assert sorted(EXPECTED) == harness.PROGRAMS


def run_minnn(program, tmp_path, weights=None):
    os.chdir(tmp_path)
    minnn.utils.set_random_seed(0)
    return harness.run(os.path.join(harness.HERE, program), "minnn",
                       [] if weights is None else weights)


@pytest.mark.parametrize("program", harness.PROGRAMS)
def test_program_runs_or_names_what_is_missing(program, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, records, error = run_minnn(program, tmp_path)
    expected = EXPECTED[program]
    if expected is None:
        assert error is None, f"{program} stopped with {error!r}"
    else:
        kind, words = expected
        assert type(error) is kind and words in str(error), f"{program}: {error!r}"
    assert records or program == "p01_sequential.py"


# ---------------------------------------------------------------------------
# The same programs in real Keras, from the same initial weights
# ---------------------------------------------------------------------------
def _close(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    # float32 round-off from different kernels over a few epochs: measured below 3e-5.
    np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5, err_msg=what)


def compare(minnn_records, keras_records, numbers=True):
    """Every call the program made in minnn returned what it returned in Keras: the same
    kind of value (a float, a list, a dict, an array), the same keys, close numbers."""
    assert [k for k, _ in minnn_records] == [k for k, _ in keras_records[:len(minnn_records)]]
    for i, ((kind, mv), (_, kv)) in enumerate(zip(minnn_records, keras_records)):
        what = f"call {i} ({kind})"
        assert type(mv) is type(kv), f"{what}: {type(mv).__name__} against Keras's {type(kv).__name__}"
        if isinstance(mv, dict):
            assert sorted(mv) == sorted(kv), f"{what}: keys {sorted(mv)} against {sorted(kv)}"
            if numbers:
                for key in mv:
                    _close(mv[key], kv[key], f"{what}[{key!r}]")
        elif isinstance(mv, list):
            assert len(mv) == len(kv), f"{what}: {len(mv)} values against {len(kv)}"
            if numbers:
                _close(mv, kv, what)
        elif numbers:
            _close(mv, kv, what)


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("these checks use Keras on the JAX backend")
    return keras


@pytest.mark.parametrize("program", harness.PROGRAMS)
def test_program_gives_keras_numbers(program, tmp_path, monkeypatch, keras):
    monkeypatch.chdir(tmp_path)
    weights = []
    _, minnn_records, _ = run_minnn(program, tmp_path, weights)
    (tmp_path / "keras").mkdir()
    os.chdir(tmp_path / "keras")
    keras.utils.set_random_seed(0)
    _, keras_records, error = harness.run(os.path.join(harness.HERE, program), "keras", weights)
    assert error is None, f"{program} fails in Keras too: {error!r}"
    compare(minnn_records, keras_records, numbers=program not in STRUCTURE_ONLY)


def test_compare_catches_a_difference():
    """Negative control: the comparison fails on a changed key, type or number."""
    history = ("fit", {"loss": [0.5, 0.4], "accuracy": [0.7, 0.8]})
    compare([history], [history])
    for bad in (("fit", {"loss": [0.5, 0.4], "acc": [0.7, 0.8]}),
                ("fit", {"loss": [0.5, 0.41], "accuracy": [0.7, 0.8]}),
                ("evaluate", {"loss": [0.5, 0.4], "accuracy": [0.7, 0.8]})):
        with pytest.raises(AssertionError):
            compare([bad], [history])
    with pytest.raises(AssertionError):
        compare([("evaluate", [0.5, 0.8])], [("evaluate", {"loss": 0.5, "accuracy": 0.8})])


# ---------------------------------------------------------------------------
# The gaps the programs found, one test each (each fails on the code before its fix)
# ---------------------------------------------------------------------------
def _relu(z):
    return np.maximum(z, 0)


def test_layer_output_extracts_features():
    """The Sequential guide's feature extractor: Model(model.inputs, layer.output)."""
    minnn.utils.set_random_seed(3)
    model = minnn.Sequential([minnn.Input(shape=(5,)), minnn.layers.Dense(4, activation="relu"),
                              minnn.layers.Dense(3, activation="relu", name="mid"),
                              minnn.layers.Dense(2)])
    mid = model.get_layer("mid")
    assert mid.input is model.layers[0].output and mid.output is model.layers[2].input
    assert model.output is model.layers[2].output and model.input is model.inputs[0]
    extractor = minnn.Model(inputs=model.inputs, outputs=mid.output)
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    (k1, b1), (k2, b2) = model.layers[0].get_weights(), mid.get_weights()
    np.testing.assert_allclose(extractor(x), _relu(_relu(x @ k1 + b1) @ k2 + b2), rtol=1e-6)
    every = minnn.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    assert [f.shape for f in every.predict(x, verbose=0)] == [(6, 4), (6, 3), (6, 2)]


def test_layer_never_called_has_no_output():
    layer = minnn.layers.Dense(3, name="lonely")
    with pytest.raises(AttributeError, match="The layer lonely has never been called"):
        layer.output
    assert not hasattr(layer, "input")


def test_model_of_one_input_given_as_a_list():
    """Keras unpacks a list of one: Model([inp], [out]) takes and returns one array
    (measured in Keras 3.15: predict returns an ndarray, history has 'loss' and 'mae')."""
    minnn.utils.set_random_seed(0)
    inp = minnn.Input(shape=(3,))
    out = minnn.layers.Dense(2, name="o")(inp)
    plain = minnn.Model(inp, out)
    x = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    y = np.ones((5, 2), "float32")
    for listed in (minnn.Model([inp], out), minnn.Model(inp, [out]), minnn.Model([inp], [out])):
        for given in (x, [x]):
            got = listed.predict(given, verbose=0)
            assert isinstance(got, np.ndarray)
            np.testing.assert_array_equal(got, plain.predict(x, verbose=0))
        np.testing.assert_array_equal(listed(x), plain(x))
    model = minnn.Model([inp], [out])
    model.compile("sgd", "mse", metrics=["mae"])
    assert sorted(model.fit(x, y, verbose=0).history) == ["loss", "mae"]
    assert len(model.evaluate(x, y, verbose=0)) == 2


def test_lambda_callback_calls_the_functions():
    calls = []
    cb = minnn.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_train_end=lambda logs: calls.append(("train_end",)))
    model = minnn.Sequential([minnn.Input(shape=(2,)), minnn.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((6, 2), "float32")
    model.fit(x, np.zeros(6, "float32"), batch_size=4, epochs=2, verbose=0, callbacks=[cb])
    epoch = [("batch_end", 0), ("batch_end", 1)]
    assert calls == ([("train_begin",)] + epoch + [("epoch_end", 0, ["loss"])] + epoch
                     + [("epoch_end", 1, ["loss"]), ("train_end",)])


def test_lambda_callback_refuses_an_unknown_hook():
    with pytest.raises(TypeError, match="unknown hook on_epoch_ned"):
        minnn.callbacks.LambdaCallback(on_epoch_ned=print)
    with pytest.raises(TypeError, match="expects a function for on_epoch_end"):
        minnn.callbacks.LambdaCallback(on_epoch_end="print")


def test_layers_add_is_the_functional_form_of_add():
    a, b = minnn.Input(shape=(3,)), minnn.Input(shape=(3,))
    model = minnn.Model([a, b], minnn.layers.add([a, b], name="sum"))
    assert isinstance(model.get_layer("sum"), minnn.layers.Add)
    x1, x2 = np.ones((2, 3), "float32"), np.full((2, 3), 2, "float32")
    np.testing.assert_array_equal(model.predict([x1, x2], verbose=0), np.full((2, 3), 3))


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "tanh", "linear"])
def test_activation_has_the_keras_function_name(name):
    # Keras's activations are functions: Dense(3, activation='relu').activation.__name__.
    assert minnn.layers.Dense(3, activation=name).activation.__name__ == name
    assert minnn.layers.Dense(3).activation.__name__ == "linear"


def test_predict_on_batch_is_predict_in_one_batch():
    minnn.utils.set_random_seed(0)
    model = minnn.Sequential([minnn.Input(shape=(4,)), minnn.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(7, 4)).astype("float32")
    (k, b) = model.get_weights()
    np.testing.assert_allclose(model.predict_on_batch(x), x @ k + b, rtol=1e-6)


def test_freezing_a_layer_is_refused_not_ignored():
    """Before: layer.trainable = False was stored and ignored, and fit trained the layer."""
    model = minnn.Sequential([minnn.Input(shape=(4,)), minnn.layers.Dense(3, name="h"),
                              minnn.layers.Dense(1)])
    hidden = model.get_layer("h")
    with pytest.raises(NotImplementedError, match="minnn has no frozen layers"):
        hidden.trainable = False
    assert hidden.trainable is True
    hidden.trainable = True  # allowed: it is what every minnn layer is
    assert model.non_trainable_weights == [] and len(model.trainable_weights) == 4


def test_model_checkpoint_to_a_keras_file_is_refused_before_training(tmp_path):
    """Before: ModelCheckpoint('m_{epoch}.keras') trained the first epoch, then failed."""
    with pytest.raises(ValueError, match=r"Cannot save to '.*m_\{epoch\}\.keras'"):
        minnn.callbacks.ModelCheckpoint(str(tmp_path / "m_{epoch}.keras"))
    minnn.callbacks.ModelCheckpoint(str(tmp_path / "w.weights.h5"), save_weights_only=True)


@pytest.mark.parametrize("module, name", [
    (minnn.layers, "Conv2D"), (minnn.layers, "MaxPooling2D"), (minnn.layers, "LSTM"),
    (minnn.layers, "BatchNormalization"), (minnn.layers, "Embedding"),
    (minnn.layers, "Normalization"), (minnn.layers, "Lambda"), (minnn.layers, "multiply"),
    (minnn.callbacks, "ReduceLROnPlateau"), (minnn.callbacks, "TensorBoard"),
    (minnn.optimizers, "Nadam"), (minnn.losses, "Huber"), (minnn.metrics, "AUC"),
    (minnn.datasets, "cifar10"), (minnn.utils, "plot_model"), (minnn, "ops"),
    (minnn, "backend"), (minnn, "regularizers"),
])
def test_a_keras_name_minnn_lacks_is_named_in_the_error(module, name):
    """Before: a bare "module 'minnn.layers' has no attribute 'Conv2D'"."""
    keras_name = module.__name__.replace("minnn", "keras", 1) + "." + name
    with pytest.raises(unsupported.NotInMinnError) as info:
        getattr(module, name)
    message = str(info.value)
    assert message.startswith(f"{keras_name} is not supported by minnn: ")
    assert "Where minnn differs from Keras" in message
    # Still an AttributeError, so that introspection works as for any missing name.
    assert isinstance(info.value, (AttributeError, NotImplementedError))
    assert not hasattr(module, name) and getattr(module, name, None) is None


def test_a_name_keras_lacks_too_is_a_plain_attribute_error():
    with pytest.raises(AttributeError) as info:
        minnn.layers.Dens
    assert type(info.value) is AttributeError
    assert "module 'minnn.layers' has no attribute 'Dens'" in str(info.value)


def test_what_the_errors_offer_exists():
    """The messages name minnn's alternatives: each of them is there."""
    for name in ("EarlyStopping", "ModelCheckpoint", "TerminateOnNaN", "LambdaCallback"):
        assert hasattr(minnn.callbacks, name)
    for name in ("SGD", "Adam", "RMSprop"):
        assert hasattr(minnn.optimizers, name)
    for name in ("BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
                 "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "Mean"):
        assert hasattr(minnn.metrics, name)
    for name in ("Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Add", "add", "Dropout",
                 "Flatten"):
        assert hasattr(minnn.layers, name)
    assert all(not hasattr(m, n) for m, names in (
        (minnn.layers, unsupported._LAYERS), (minnn.callbacks, unsupported._CALLBACKS),
        (minnn.optimizers, unsupported._OPTIMIZERS), (minnn.losses, unsupported._LOSSES),
        (minnn.metrics, unsupported._METRICS), (minnn.utils, unsupported._UTILS),
        (minnn.datasets, unsupported._DATASETS), (minnn, unsupported._TOP)) for n in names)


def test_a_generator_is_refused_as_a_stream_of_batches():
    """Before: 'x must hold real numbers: received an array of dtype object'."""
    model = minnn.Sequential([minnn.Input(shape=(2,)), minnn.layers.Dense(1)])
    model.compile("sgd", "mse")
    before = model.get_weights()

    def batches():
        yield np.zeros((2, 2)), np.zeros((2, 1))

    with pytest.raises(TypeError, match="received generator, a stream of batches"):
        model.fit(batches(), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="pass NumPy arrays"):
        model.predict(iter([np.zeros((2, 2))]), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_concatenate_puts_inputs_side_by_side():
    """The Functional guide's layers.concatenate: by hand, [a | b] along the last axis."""
    a, b = minnn.Input(shape=(2,), name="a"), minnn.Input(shape=(3,), name="b")
    model = minnn.Model([a, b], minnn.layers.concatenate([a, b]))
    assert model.output_shape == (None, 5)
    xa = np.array([[1, 2], [3, 4]], "float32")
    xb = np.array([[5, 6, 7], [8, 9, 10]], "float32")
    np.testing.assert_array_equal(model.predict([xa, xb], verbose=0),
                                  [[1, 2, 5, 6, 7], [3, 4, 8, 9, 10]])
    layer = minnn.layers.Concatenate(axis=1)
    c, d = minnn.Input(shape=(2, 3)), minnn.Input(shape=(4, 3))
    assert layer([c, d]).shape == (None, 6, 3)


def test_concatenate_refuses_shapes_that_do_not_fit():
    a, b = minnn.Input(shape=(2, 3)), minnn.Input(shape=(2, 4))
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        minnn.layers.Concatenate(axis=1)([a, b])
    with pytest.raises(ValueError, match="expected an axis from 1 to 2"):
        minnn.layers.Concatenate(axis=0)([a, a])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        minnn.layers.Concatenate()([a])


def test_concatenate_saves_and_trains(tmp_path):
    minnn.utils.set_random_seed(0)
    a, b = minnn.Input(shape=(2,)), minnn.Input(shape=(3,))
    h = minnn.layers.Dense(4, activation="relu")(minnn.layers.Concatenate()([a, b]))
    model = minnn.Model([a, b], minnn.layers.Dense(1)(h))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(16, 2)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")]
    y = xs[0][:, :1] - xs[1][:, 2:]
    losses = model.fit(xs, y, epochs=20, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "cat.minnn")
    again = minnn.models.load_model(tmp_path / "cat.minnn")
    np.testing.assert_array_equal(again.predict(xs, verbose=0), model.predict(xs, verbose=0))


def test_model_outputs_as_a_dict_is_refused_with_the_list_form():
    inp = minnn.Input(shape=(3,))
    out = minnn.layers.Dense(1, name="priority")(inp)
    with pytest.raises(NotImplementedError, match=r"outputs=\[\.\.\.\]"):
        minnn.Model(inp, {"priority": out})


def test_concatenate_moves_to_keras_and_back(keras):
    minnn.utils.set_random_seed(0)
    a, b = minnn.Input(shape=(2,), name="a"), minnn.Input(shape=(3,), name="b")
    model = minnn.Model([a, b], minnn.layers.Dense(2)(minnn.layers.concatenate([a, b])))
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(5, 2)).astype("float32"), rng.normal(size=(5, 3)).astype("float32")]
    k = minnn.interop.to_keras(model)
    assert type(k.layers[2]).__name__ == "Concatenate"
    np.testing.assert_allclose(k.predict(xs, verbose=0), model.predict(xs, verbose=0), rtol=1e-6)
    back = minnn.interop.from_keras(k)
    np.testing.assert_array_equal(back.predict(xs, verbose=0), model.predict(xs, verbose=0))


@pytest.mark.parametrize("argument", ["kernel_regularizer", "bias_regularizer",
                                      "activity_regularizer", "kernel_constraint"])
def test_a_keras_layer_argument_minnn_lacks_is_named(argument):
    """Before: "Layer.__init__() got an unexpected keyword argument 'kernel_regularizer'"."""
    with pytest.raises(NotImplementedError, match=rf"Dense\({argument}=\.\.\.\) is not supported"):
        minnn.layers.Dense(3, **{argument: "l2"})


def test_an_unknown_layer_argument_is_refused_in_keras_words():
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to Dense: \{'foo': 1\}"):
        minnn.layers.Dense(3, foo=1)


def test_trainable_false_in_a_constructor_is_refused():
    """Before: a TypeError about an unexpected argument; Keras takes Dense(3, trainable=False)."""
    with pytest.raises(NotImplementedError, match="minnn has no frozen layers"):
        minnn.layers.Dense(3, trainable=False)
    assert minnn.layers.Dense(3, trainable=True).trainable is True


def test_keras_top_level_names():
    """keras.Layer, keras.Loss, ... for subclassing, and keras.version(), as in Keras 3."""
    assert minnn.Layer is minnn.layers.Layer and minnn.Loss is minnn.losses.Loss
    assert minnn.Metric is minnn.metrics.Metric and minnn.Optimizer is minnn.optimizers.Optimizer
    assert minnn.Initializer is minnn.initializers.Initializer
    assert minnn.version() == minnn.__version__


def test_clone_model_has_the_architecture_and_fresh_weights():
    """As keras.models.clone_model: the same layers (names, shapes), new weights, not compiled."""
    minnn.utils.set_random_seed(0)
    model = minnn.Sequential([minnn.Input(shape=(4,)), minnn.layers.Dense(5, activation="relu"),
                              minnn.layers.Dense(2, activation="softmax")], name="net")
    model.compile("adam", "sparse_categorical_crossentropy")
    clone = minnn.models.clone_model(model)
    assert type(clone) is minnn.Sequential and clone.name == "net"
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert [w.shape for w in clone.get_weights()] == [w.shape for w in model.get_weights()]
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    assert clone.layers[0].activation.__name__ == "relu" and not clone.compiled
    clone.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
