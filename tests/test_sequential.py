"""Sequential, against Keras's documented and measured behaviour (keras-semantics-2 §2).

The strongest check: a Sequential model and the functional model with the same layers are
the same computation, so from the same weights they must train bit for bit alike.
"""
import re
import warnings

import numpy as np
import pytest

import minnn
from minnn import Input, Model, Sequential, layers

F32 = np.float32


def hello_world(rate=0.2):
    return Sequential([Input(shape=(28, 28)), layers.Flatten(),
                       layers.Dense(16, activation="relu"), layers.Dropout(rate),
                       layers.Dense(10, activation="softmax")])


def test_layers_names_and_shapes():
    m = hello_world()
    assert re.fullmatch(r"sequential(_\d+)?", m.name)
    assert [type(l).__name__ for l in m.layers] == ["Flatten", "Dense", "Dropout", "Dense"]
    assert m.built and m.output_shape == (None, 10) and m.input_shape == (None, 28, 28)
    assert m.count_params() == 784 * 16 + 16 + 16 * 10 + 10
    assert [w.shape for w in m.get_weights()] == [(784, 16), (16,), (16, 10), (10,)]


def number(name, base):
    return 0 if name == base else int(name[len(base) + 1:])


def test_sequential_names_count_up_and_each_build_uses_a_functional_name():
    first, second = Sequential(), Sequential()
    assert number(second.name, "sequential") == number(first.name, "sequential") + 1
    probe = minnn.utils.unique_name("functional")
    Sequential([Input((3,)), layers.Dense(2), layers.Dense(1)])  # built once
    x = Input((1,))
    after = Model(x, layers.Dense(1)(x)).name
    # probe, then the Sequential's build, then this model: Keras's 'functional_1' case.
    assert number(after, "functional") == number(probe, "functional") + 2


def test_summary_has_no_input_row():
    m = Sequential([Input((3,)), layers.Dense(4, name="h"), layers.Dense(1, name="o")], name="seq_s")
    lines = []
    m.summary(print_fn=lines.append)
    text = lines[0]
    assert 'Model: "seq_s"' in text and "InputLayer" not in text
    assert "h (Dense)" in text and "(None, 4)" in text and "Total params: 21" in text


def test_add_builds_after_each_layer_and_pop_rebuilds():
    m = Sequential()
    m.add(Input((5,)))
    assert not m.built
    m.add(layers.Dense(3))
    assert m.built and m.output_shape == (None, 3)
    m.add(layers.Dense(2))
    assert m.output_shape == (None, 2) and len(m.get_weights()) == 4
    last = m.pop()
    assert isinstance(last, layers.Dense) and last.units == 2
    assert m.output_shape == (None, 3) and len(m.get_weights()) == 2 and len(m.layers) == 1
    m.pop()
    with pytest.raises(TypeError, match="There are no layers in the model"):
        m.pop()


def test_errors_as_keras():
    m = Sequential([Input((3,)), layers.Dense(2)], name="seq_err")
    with pytest.raises(ValueError, match=r"Sequential model 'seq_err' has already been configured "
                                         r"to use input shape \(None, 3\)"):
        m.add(Input((4,)))
    with pytest.raises(ValueError, match="Name 'a' is already the name of a layer in this model"):
        Sequential([layers.Dense(2, name="a"), layers.Dense(2, name="a")])
    with pytest.raises(ValueError, match="Only instances of `minnn.layers.Layer`"):
        Sequential([np.ones(3)])


def test_input_shape_argument_inserts_an_input_with_keras_warning():
    with pytest.warns(UserWarning, match=r"Do not pass an `input_shape`/`input_dim` argument"):
        m = Sequential([layers.Flatten(input_shape=(4, 2)), layers.Dense(3)])
    assert m.built and m.input_shape == (None, 4, 2) and m.output_shape == (None, 3)
    with pytest.warns(UserWarning):
        d = Sequential([layers.Dense(3, input_dim=5), layers.Dense(1)])
    assert d.get_weights()[0].shape == (5, 3)


def test_lazy_build_from_the_first_data():
    minnn.utils.set_random_seed(0)
    m = Sequential([layers.Dense(4), layers.Dense(1)])
    assert not m.built and m.get_weights() == [] and m.count_params() == 0
    lines = []
    m.summary(print_fn=lines.append)
    assert "0 (unbuilt)" in lines[0] and "?" in lines[0]
    m.compile(optimizer="sgd", loss="mse")
    m.fit(np.ones((10, 5), F32), np.ones(10), verbose=0)
    assert m.built and [w.shape for w in m.get_weights()] == [(5, 4), (4,), (4, 1), (1,)]
    lazy = Sequential([layers.Dense(2)])
    assert lazy.predict(np.ones((3, 7)), verbose=0).shape == (3, 2)
    b = Sequential([layers.Dense(2)])
    b.build((None, 6))
    assert b.input_shape == (None, 6)


def test_same_computation_as_the_functional_model():
    minnn.utils.set_random_seed(0)
    seq = hello_world(rate=0.0)
    x = Input((28, 28))
    h = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    fun = Model(x, layers.Dense(10, activation="softmax")(layers.Dropout(0.0)(h)))
    fun.set_weights(seq.get_weights())
    rng = np.random.default_rng(0)
    imgs, labels = rng.random((40, 28, 28)).astype(F32), rng.integers(0, 10, 40)
    for m in (seq, fun):
        m.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    hs = seq.fit(imgs, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    hf = fun.fit(imgs, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert hs.history == hf.history
    assert all(np.array_equal(a, b) for a, b in zip(seq.get_weights(), fun.get_weights()))
    assert seq.evaluate(imgs, labels, verbose=0) == fun.evaluate(imgs, labels, verbose=0)


def test_save_load_and_weights_round_trip(tmp_path):
    minnn.utils.set_random_seed(0)
    m = hello_world()
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    imgs, labels = rng.random((20, 28, 28)).astype(F32), rng.integers(0, 10, 20)
    m.fit(imgs, labels, epochs=1, verbose=0)
    m.save(tmp_path / "m.minnn")
    back = minnn.models.load_model(tmp_path / "m.minnn")
    assert type(back) is Sequential and back.name == m.name
    assert [l.name for l in back.layers] == [l.name for l in m.layers]
    assert back.layers[2].rate == 0.2
    assert np.array_equal(back.predict(imgs, verbose=0), m.predict(imgs, verbose=0))
    m.save_weights(tmp_path / "w.weights.npz")
    other = hello_world()
    other.load_weights(tmp_path / "w.weights.npz")
    assert all(np.array_equal(a, b) for a, b in zip(other.get_weights(), m.get_weights()))


def test_nested_in_a_functional_model():
    inner = Sequential([Input((3,)), layers.Dense(4), layers.Dense(2)], name="inner_seq")
    x = Input((3,))
    outer = Model(x, layers.Dense(1)(inner(x)))
    assert outer.count_params() == inner.count_params() + 3
    lines = []
    outer.summary(print_fn=lines.append)
    assert "inner_seq (Sequential)" in lines[0]
    assert outer.predict(np.ones((2, 3)), verbose=0).shape == (2, 1)


def test_calling_on_arrays_is_inference_unless_training_true():
    minnn.utils.set_random_seed(0)
    m = hello_world(rate=0.5)
    imgs = np.random.default_rng(0).random((4, 28, 28)).astype(F32)
    assert np.array_equal(m(imgs), m.predict(imgs, verbose=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dropped = m(imgs, training=True)
    assert not np.array_equal(dropped, m(imgs))
