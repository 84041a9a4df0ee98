"""compile(metrics=...): Keras's resolution of 'accuracy', its log names, its epoch averaging,
and evaluate's list / dict.

Expected values come from hand-worked arithmetic or from real Keras 3.15.1 (JAX backend) run
on the same data and the same initial weights (the script is in each test's comment).
"""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, metrics


# The data and weights of the Keras runs: the same formulas were used in Keras.
def data():
    x = (np.cos(np.arange(30.0) * 1.3) * 2).reshape(10, 3).astype("float32")
    yb = (np.sin(np.arange(10.0) * 2.1) > 0).astype("float32").reshape(10, 1)
    yr = np.sin(np.arange(20.0)).reshape(10, 2).astype("float32")
    return x, yb, yr


def set_keras_run_weights(m):
    m.set_weights([(0.3 * np.cos(np.arange(v.size) * 0.7 + i)).reshape(v.shape).astype("float32")
                   for i, v in enumerate(m.get_weights())])


def one_dense(units, activation, loss, metrics_, optimizer=None):
    inp = Input((3,))
    m = Model(inp, Dense(units, activation=activation)(inp))
    set_keras_run_weights(m)
    m.compile(optimizer or minnn.optimizers.SGD(0.1), loss, metrics=metrics_)
    return m


# ---------------------------------------------------------------------------
# The metric objects, by hand
# ---------------------------------------------------------------------------
def test_mean_is_a_per_sample_mean_over_batches_of_unequal_size():
    # 10 samples in batches of 4, 4 and 2; 2 of them correct, both in the last batch.
    acc = metrics.BinaryAccuracy()
    y = np.zeros((10, 1), "float32")
    p = np.ones((10, 1), "float32")
    p[8:] = 0.0
    for lo, hi in ((0, 4), (4, 8), (8, 10)):
        acc.update_state(y[lo:hi], p[lo:hi])
    assert acc.result() == pytest.approx(2 / 10)   # Keras measured 0.2 (keras-semantics-2 §6)
    # negative control: a mean of the batch means would give (0 + 0 + 1) / 3
    assert acc.result() != pytest.approx(1 / 3)
    acc.reset_state()
    assert acc.result() == 0.0


def test_the_three_accuracies_by_hand():
    # binary: strictly greater than 0.5
    assert list(metrics.binary_accuracy(np.array([[1.], [0.], [1.]]),
                                        np.array([[0.5], [0.2], [0.51]]))[:, 0]) == [0, 1, 1]
    # categorical: argmax against argmax
    y = np.array([[0, 0, 1], [1, 0, 0]], "float32")
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1]], "float32")
    assert list(metrics.categorical_accuracy(y, p)) == [1, 0]
    # sparse: (N,) or (N, 1) labels; 1.7 is compared as a number and matches no class
    assert list(metrics.sparse_categorical_accuracy(np.array([2, 0]), p)) == [1, 0]
    assert list(metrics.sparse_categorical_accuracy(np.array([[2], [1]]), p)) == [1, 1]
    assert list(metrics.sparse_categorical_accuracy(np.array([1.7, 1.0]), p)) == [0, 1]


@pytest.mark.parametrize("y_shape, p_shape, expected", [
    # keras-semantics-2 §6 and keras/src/trainers/compile_utils.py is_binary_or_sparse_categorical:
    # only the shapes count, never the loss.
    ((10, 1), (10, 1), metrics.BinaryAccuracy),
    ((10,), (10, 1), metrics.BinaryAccuracy),
    ((10,), (10, 3), metrics.SparseCategoricalAccuracy),
    ((10, 1), (10, 3), metrics.SparseCategoricalAccuracy),
    ((10, 3), (10, 3), metrics.CategoricalAccuracy),
])
def test_accuracy_is_resolved_from_shapes_as_keras(y_shape, p_shape, expected):
    for name in ("accuracy", "acc"):
        m = metrics.accuracy_for(name, np.zeros(y_shape), np.zeros(p_shape))
        assert type(m) is expected and m.name == name


def test_regression_metrics_by_hand():
    y = np.array([[0, 1], [0, 0]], "float32")
    p = np.array([[1, 1], [0, 0]], "float32")
    # Keras's docstring examples: both 0.25
    assert metrics.MeanAbsoluteError()(y, p) == 0.25
    assert metrics.MeanSquaredError()(y, p) == 0.25
    assert metrics.RootMeanSquaredError()(y, p) == 0.5


def test_unknown_metric_name_lists_the_known_ones_and_changes_nothing():
    m = one_dense(1, "sigmoid", "binary_crossentropy", None)
    with pytest.raises(ValueError, match=r"Unknown metric: received 'acuracy'.*'accuracy'.*'mae'"):
        m.compile("sgd", "binary_crossentropy", metrics=["acuracy"])
    assert m.compiled and m._metric_specs is None  # the earlier compile still stands
    with pytest.raises(ValueError, match="Expected `metrics` argument to be a list"):
        m.compile("sgd", "mse", metrics="mae")  # Keras's error: a bare string is refused


# ---------------------------------------------------------------------------
# evaluate: numbers from Keras 3.15.1 on the same data and weights (/tmp script k5.py:
# the same `data()`, `set_keras_run_weights` and compile, then evaluate(x, y, batch_size=4))
# ---------------------------------------------------------------------------
def test_evaluate_binary_classifier_as_keras():
    x, yb, _ = data()
    m = one_dense(1, "sigmoid", "binary_crossentropy", ["accuracy", "mae"])
    got = m.evaluate(x, yb, batch_size=4, verbose=0)
    keras = [0.8094768524169922, 0.4000000059604645, 0.5356075167655945]
    np.testing.assert_allclose(got, keras, rtol=1e-6)
    d = m.evaluate(x, yb, batch_size=4, verbose=0, return_dict=True)
    assert list(d) == ["accuracy", "loss", "mae"]  # Keras sorts the keys
    assert type(m._compiled_metrics[0][0]) is metrics.BinaryAccuracy


def test_accuracy_with_mse_on_one_unit_is_binary_as_keras():
    x, yb, _ = data()
    m = one_dense(1, "sigmoid", "mse", ["acc", "mse"])
    got = m.evaluate(x, yb, batch_size=4, verbose=0, return_dict=True)
    keras = {"acc": 0.4000000059604645, "loss": 0.3054962754249573, "mse": 0.3054962754249573}
    assert list(got) == list(keras)
    np.testing.assert_allclose(list(got.values()), list(keras.values()), rtol=1e-6)


def test_repeated_metric_names_and_objects_as_keras():
    # Keras: metrics=['mae', MeanAbsoluteError(), 'mse', 'mae'] logs mae, mae_1,
    # mean_absolute_error, mse; evaluate's list follows metrics_names (which repeats 'mae')
    # and then the names not in it, sorted: 6 values.
    x, _, yr = data()
    m = one_dense(2, None, "mse", ["mae", metrics.MeanAbsoluteError(), "mse", "mae"])
    got = m.evaluate(x, yr, batch_size=4, verbose=0)
    keras = [1.6610110998153687, 1.166966199874878, 1.166966199874878, 1.6610110998153687,
             1.166966199874878, 1.166966199874878]
    np.testing.assert_allclose(got, keras, rtol=1e-6)
    d = m.evaluate(x, yr, batch_size=4, verbose=0, return_dict=True)
    assert list(d) == ["loss", "mae", "mae_1", "mean_absolute_error", "mse"]


def test_evaluate_without_metrics_is_a_float():
    x, _, yr = data()
    m = one_dense(2, None, "mse", None)
    assert isinstance(m.evaluate(x, yr, verbose=0), float)
    assert list(m.evaluate(x, yr, verbose=0, return_dict=True)) == ["loss"]
