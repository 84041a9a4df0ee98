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


# ---------------------------------------------------------------------------
# fit and train_on_batch: the same Keras 3.15.1 runs (k5.py) continued: after the evaluate
# above, fit(x, y, epochs=2, batch_size=4, shuffle=False, validation_split=0.2), then
# train_on_batch(x, y), train_on_batch(x[:5], y[:5], return_dict=True), evaluate(batch_size=3).
# ---------------------------------------------------------------------------
def class_data():
    yc = np.eye(3, dtype="float32")[np.arange(10) % 3]
    ys = (np.arange(10) % 3).astype("int64")
    return yc, ys


KERAS_RUNS = {
    "binary": dict(
        build=lambda: one_dense(1, "sigmoid", "binary_crossentropy", ["accuracy", "mae"]),
        y=lambda: data()[1],
        hist={"accuracy": [0.5, 0.75], "loss": [0.7298097610473633, 0.5989505648612976],
              "mae": [0.4990387558937073, 0.437624990940094], "val_accuracy": [0.5, 0.5],
              "val_loss": [0.7579149007797241, 0.5941349267959595],
              "val_mae": [0.5194652080535889, 0.4360852539539337]},
        tob=[0.5364402532577515, 0.699999988079071, 0.40485745668411255],
        tobd={"accuracy": 1.0, "loss": 0.45120328664779663, "mae": 0.35967373847961426},
        final=[0.45466914772987366, 0.8999999761581421, 0.3554653525352478]),
    "regression": dict(
        build=lambda: one_dense(2, None, "mse", ["mae", metrics.MeanAbsoluteError(), "mse", "mae"]),
        y=lambda: data()[2],
        hist={"loss": [1.3316155672073364, 0.5298522710800171],
              "mae": [1.0753672122955322, 0.6751635074615479],
              "mae_1": [1.0753672122955322, 0.6751635074615479],
              "mean_absolute_error": [1.0753672122955322, 0.6751635074615479],
              "mse": [1.3316155672073364, 0.5298522710800171],
              "val_loss": [0.5437349081039429, 0.5876582860946655],
              "val_mae": [0.6692730188369751, 0.559280276298523],
              "val_mae_1": [0.6692730188369751, 0.559280276298523],
              "val_mean_absolute_error": [0.6692730188369751, 0.559280276298523],
              "val_mse": [0.5437349081039429, 0.5876582860946655]},
        tob=[0.3896366059780121, 0.5270646214485168, 0.5270646214485168, 0.3896366059780121,
             0.5270646214485168, 0.5270646214485168],
        tobd={"loss": 0.33251968026161194, "mae": 0.49789005517959595,
              "mae_1": 0.49789005517959595, "mean_absolute_error": 0.49789005517959595,
              "mse": 0.33251968026161194},
        final=[0.3999951183795929, 0.5198125839233398, 0.5198125839233398, 0.3999951183795929,
               0.5198125839233398, 0.5198125839233398]),
    # Categorical and sparse labels give identical numbers in Keras, as they should.
    "categorical": dict(
        build=lambda: one_dense(3, "softmax", "categorical_crossentropy", ["accuracy"]),
        y=lambda: class_data()[0],
        hist={"accuracy": [0.375, 0.75], "loss": [1.0992166996002197, 0.8743482232093811],
              "val_accuracy": [0.0, 0.0], "val_loss": [1.6294695138931274, 1.5679738521575928]},
        tob=[0.8982853889465332, 0.699999988079071],
        tobd={"accuracy": 1.0, "loss": 0.5954583883285522},
        final=[0.8221555948257446, 0.699999988079071]),
    "sparse": dict(
        build=lambda: one_dense(3, "softmax", "sparse_categorical_crossentropy", ["accuracy"]),
        y=lambda: class_data()[1],
        hist={"accuracy": [0.375, 0.75], "loss": [1.0992166996002197, 0.8743482232093811],
              "val_accuracy": [0.0, 0.0], "val_loss": [1.6294695138931274, 1.5679738521575928]},
        tob=[0.8982853889465332, 0.699999988079071],
        tobd={"accuracy": 1.0, "loss": 0.5954583883285522},
        final=[0.8221555948257446, 0.699999988079071]),
}


@pytest.mark.parametrize("case", sorted(KERAS_RUNS))
def test_history_train_on_batch_and_evaluate_with_metrics_as_keras(case):
    run = KERAS_RUNS[case]
    x, y = data()[0], run["y"]()
    m = run["build"]()
    h = m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0, validation_split=0.2)
    assert list(h.history) == list(run["hist"])  # Keras's names, sorted
    for k, v in run["hist"].items():
        np.testing.assert_allclose(h.history[k], v, rtol=2e-6, atol=1e-7, err_msg=k)
    np.testing.assert_allclose(m.train_on_batch(x, y), run["tob"], rtol=2e-6)
    d = m.train_on_batch(x[:5], y[:5], return_dict=True)
    assert list(d) == list(run["tobd"])
    np.testing.assert_allclose(list(d.values()), list(run["tobd"].values()), rtol=2e-6)
    np.testing.assert_allclose(m.evaluate(x, y, batch_size=3, verbose=0), run["final"], rtol=2e-6)


def test_the_progress_line_shows_the_metrics_under_keras_names(capsys):
    # Keras: "2/2 - 0s - 219ms/step - accuracy: 0.7500 - loss: 1.1939 - val_accuracy: ..."
    x, yb, _ = data()
    m = one_dense(1, "sigmoid", "binary_crossentropy", ["accuracy"])
    h = m.fit(x, yb, epochs=1, batch_size=4, shuffle=False, verbose=2, validation_split=0.2)
    line = capsys.readouterr().out.strip()
    assert line.endswith(f" - accuracy: {h.history['accuracy'][0]:.4f} - loss: "
                         f"{h.history['loss'][0]:.4f} - val_accuracy: "
                         f"{h.history['val_accuracy'][0]:.4f} - val_loss: {h.history['val_loss'][0]:.4f}")


def test_epoch_accuracy_is_a_per_sample_mean_in_fit():
    # 10 samples, batches of 4, 4 and 2, SGD(1e-30) so that no weight changes: the epoch's accuracy is
    # (correct samples) / 10, and each batch's logs hold the running mean so far.
    x, yb, _ = data()
    m = one_dense(1, "sigmoid", "binary_crossentropy", ["accuracy"], minnn.optimizers.SGD(1e-30))
    p = m.predict(x, verbose=0)
    hits = ((p > 0.5) == yb)[:, 0]

    class Batches(minnn.callbacks.Callback):
        seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(logs["accuracy"])

    h = m.fit(x, yb, epochs=1, batch_size=4, shuffle=False, verbose=0, callbacks=[Batches()])
    assert h.history["accuracy"] == [pytest.approx(hits.mean())]
    assert Batches.seen == [pytest.approx(hits[:4].mean()), pytest.approx(hits[:8].mean()),
                            pytest.approx(hits.mean())]
    # negative control: the mean of the three batch accuracies is a different number here
    batch_means = [hits[:4].mean(), hits[4:8].mean(), hits[8:].mean()]
    assert np.mean(batch_means) != pytest.approx(hits.mean())


def test_save_and_load_keep_metrics_and_loss_weights(tmp_path):
    x, yb, _ = data()
    m = one_dense(1, "sigmoid", "binary_crossentropy",
                  ["accuracy", metrics.BinaryAccuracy(name="acc_at_0.7", threshold=0.7), "mae"])
    m.compile(minnn.optimizers.SGD(0.1), "binary_crossentropy", loss_weights=0.5,
              metrics=["accuracy", metrics.BinaryAccuracy(name="acc_at_0.7", threshold=0.7), "mae"])
    before = m.evaluate(x, yb, verbose=0, return_dict=True)
    m.save(tmp_path / "m.minnn")
    loaded = minnn.models.load_model(tmp_path / "m.minnn")
    assert loaded._loss_weights == [0.5]
    assert loaded.evaluate(x, yb, verbose=0, return_dict=True) == before
    assert loaded._compiled_metrics[0][1]._fn_kwargs == {"threshold": 0.7}
