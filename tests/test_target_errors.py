"""Errors about targets name y and the output they belong to, and their hints fit the model.

A learner who passes labels of shape (N,) to a 10-wide output used to read "pass
x.reshape(-1, 1)": advice about x, and advice that gives (N, 1), which still does
not fit. A target of the wrong width used to be called "input 0 of layer ...".
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model


def classifier(units):
    x = Input((4,), name="features")
    m = Model(x, Dense(units, name="scores")(x))
    m.compile("sgd", "mse")
    return m


def two_outputs():
    x = Input((4,), name="features")
    m = Model(x, [Dense(1, name="price")(x), Dense(3, name="kind")(x)])
    m.compile("sgd", "mse")
    return m


X = np.ones((6, 4), dtype="float32")


def _message(call):
    with pytest.raises(ValueError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch"])
def test_labels_of_shape_n_for_a_wide_output_get_a_hint_that_fits(method):
    m = classifier(10)
    labels = np.arange(6) % 10
    kwargs = {"verbose": 0} if method != "train_on_batch" else {}
    msg = _message(lambda: getattr(m, method)(X, labels, **kwargs))
    assert msg.startswith("y (target of output 'scores') must be a 2-D array of shape (N, 10)")
    assert "(6,)" in msg
    assert "x.reshape" not in msg and "reshape(-1, 1)" not in msg
    assert "Output 'scores' has 10 units" in msg
    assert "loss='sparse_categorical_crossentropy'" in msg
    assert "minnn.utils.to_categorical(y, 10) has shape (6, 10)" in msg
    fixed = minnn.utils.to_categorical(labels, 10)  # the hint, followed, is accepted
    assert fixed.shape == (6, 10)
    getattr(m, method)(X, fixed, **kwargs)


def test_real_valued_targets_get_no_one_hot_hint():
    msg = _message(lambda: classifier(3).fit(X, np.linspace(0, 1, 6), verbose=0))
    assert "Output 'scores' has 3 units" in msg and "to_categorical" not in msg


def test_a_one_wide_output_takes_a_target_of_shape_n_as_keras():
    m = classifier(1)
    y = np.arange(6.0)
    assert m.evaluate(X, y, verbose=0) == m.evaluate(X, y.reshape(-1, 1), verbose=0)


def test_a_1d_x_for_a_wide_input_is_not_told_to_reshape_to_one_column():
    x = Input((4,))
    m = Model(x, Dense(1)(x))
    msg = _message(lambda: m.predict(np.ones(6), verbose=0))
    assert "reshape(-1, 1)" not in msg and "(N, 4)" in msg


def test_a_wrong_width_target_is_called_the_target_of_its_output():
    msg = _message(lambda: classifier(2).fit(X, np.zeros((6, 3)), verbose=0))
    assert "input 0" not in msg and "incompatible with the layer" not in msg
    assert msg.startswith("y (target of output 'scores') does not fit output 'scores': "
                          "expected shape=(None, 2), found shape=(6, 3).")
    assert "each target row needs 2 values" in msg


def test_labels_of_shape_n_1_for_a_wide_output_get_the_labels_hint():
    msg = _message(lambda: classifier(4).fit(X, (np.arange(6) % 4).reshape(-1, 1), verbose=0))
    assert "expected shape=(None, 4), found shape=(6, 1)" in msg
    assert "sparse_categorical_crossentropy" in msg


def test_multi_output_targets_name_their_output():
    m = two_outputs()
    msg = _message(lambda: m.fit(X, {"price": np.zeros((6, 1)), "kind": np.zeros((6, 2))},
                                 verbose=0))
    assert "y['kind'] (target of output 'kind') does not fit output 'kind'" in msg
    assert "expected shape=(None, 3), found shape=(6, 2)" in msg and "input 1" not in msg
    msg = _message(lambda: m.fit(X, [np.zeros((6, 1)), np.zeros(6)], verbose=0))
    assert "y['kind'] (target of output 'kind')" in msg and "Output 'kind' has 3 units" in msg


def test_a_wrong_width_input_is_still_called_an_input():
    m = classifier(2)
    msg = _message(lambda: m.fit(np.ones((6, 5)), np.zeros((6, 2)), verbose=0))
    assert "input 0 of layer" in msg and "expected shape=(None, 4), found shape=(6, 5)" in msg
