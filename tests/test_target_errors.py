"""Errors about targets name y and the output they belong to, and their hints fit the model.

A learner who passes labels of shape (N,) to a 10-wide softmax used to read "pass
x.reshape(-1, 1)": advice about x, and advice that gives (N, 1), which still does
not fit. A target of the wrong width used to be called "input 0 of layer ...".
"""
import numpy as np
import pytest

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
    assert "np.eye(10)[y] has shape (6, 10)" in msg
    fixed = np.eye(10)[labels]  # the hint, followed, is accepted
    assert fixed.shape == (6, 10)
    getattr(m, method)(X, fixed, **kwargs)


def test_real_valued_targets_get_no_one_hot_hint():
    msg = _message(lambda: classifier(3).fit(X, np.linspace(0, 1, 6), verbose=0))
    assert "Output 'scores' has 3 units" in msg and "np.eye" not in msg


def test_a_one_wide_output_is_told_to_reshape_y():
    m = classifier(1)
    msg = _message(lambda: m.fit(X, np.zeros(6), verbose=0))
    assert "pass y.reshape(-1, 1)" in msg and "x.reshape" not in msg
    m.fit(X, np.zeros(6).reshape(-1, 1), verbose=0)


def test_a_1d_x_for_a_wide_input_is_not_told_to_reshape_to_one_column():
    x = Input((4,))
    m = Model(x, Dense(1)(x))
    msg = _message(lambda: m.predict(np.ones(6), verbose=0))
    assert "reshape(-1, 1)" not in msg and "(N, 4)" in msg


def test_a_wrong_width_target_is_called_the_target_of_its_output():
    msg = _message(lambda: classifier(2).fit(X, np.zeros((6, 3)), verbose=0))
    assert "input 0" not in msg and "incompatible with the layer" not in msg
    assert "y (target of output 'scores') has shape (6, 3)" in msg
    assert "output 'scores' of the model gives (None, 2)" in msg


def test_multi_output_targets_name_their_output():
    m = two_outputs()
    msg = _message(lambda: m.fit(X, {"price": np.zeros((6, 1)), "kind": np.zeros((6, 2))},
                                 verbose=0))
    assert "y['kind'] (target of output 'kind') has shape (6, 2)" in msg
    assert "gives (None, 3)" in msg and "input 1" not in msg
    msg = _message(lambda: m.fit(X, [np.zeros(6), np.zeros((6, 3))], verbose=0))
    assert "y['price']" in msg and "y.reshape(-1, 1)" in msg


def test_a_wrong_width_input_is_still_called_an_input():
    m = classifier(2)
    msg = _message(lambda: m.fit(np.ones((6, 5)), np.zeros((6, 2)), verbose=0))
    assert "input 0 of layer" in msg and "expected shape=(None, 4), found shape=(6, 5)" in msg
