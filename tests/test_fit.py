"""fit, evaluate, predict and train_on_batch, held to Keras's semantics.

Each expected value is recomputed independently: batch sizes are read by a
recording loss, epoch losses are rebuilt from train_on_batch on a twin model
with the same initial weights, and batch orders from a fresh generator.
"""
import re

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, callbacks, losses, optimizers
from tutorial_ae import build_tutorial_ae

COMPILE_FIRST = "You must call `compile()` before using the model."


def small_model(seed=0, loss="mse", optimizer="adam", dtype=None):
    """2 → 8 relu → 2, compiled; the same seed gives the same initial weights."""
    minnn.utils.set_random_seed(seed)
    inp = Input(shape=(2,), dtype=dtype)
    model = Model(inp, Dense(2, dtype=dtype)(Dense(8, activation="relu", dtype=dtype)(inp)))
    model.compile(optimizer=optimizer, loss=loss)
    return model


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype("float32")
    y = (x @ np.array([[1.0, -0.5], [0.3, 2.0]]) + 0.1).astype("float32")
    return x, y


class RecordingMSE(losses.MeanSquaredError):
    """MSE that remembers every batch of targets it is handed."""

    def __init__(self):
        super().__init__()
        self.targets = []

    def forward(self, y_true, y_pred):
        self.targets.append(y_true.copy())
        return super().forward(y_true, y_pred)


class CountSteps(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_begin(self, epoch, logs=None):
        self.per_epoch.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.per_epoch[-1] += 1


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


# ---------------------------------------------------------------------------
# Steps and batches
# ---------------------------------------------------------------------------
def test_steps_per_epoch_keep_the_partial_batch():
    """N=2000, batch 128: 15 full batches + 1 of 80 = 16 steps; 200 epochs = 3200 Adam steps."""
    x, y = data(2000)
    model = small_model()
    counter = CountSteps()
    history = model.fit(x, y, epochs=200, batch_size=128, verbose=0, callbacks=[counter])
    assert counter.params["steps"] == 16
    assert counter.per_epoch == [16] * 200
    assert model.optimizer.iterations == 3200
    assert len(history.history["loss"]) == 200


def test_last_partial_batch_is_used():
    x, y = data(2000)
    loss = RecordingMSE()
    model = small_model(loss=loss)
    model.fit(x, y, epochs=2, batch_size=128, verbose=0)
    sizes = [len(t) for t in loss.targets]
    assert sizes == ([128] * 15 + [80]) * 2
    assert sum(sizes) == 2 * 2000


def test_batch_size_defaults_to_32():
    x, y = data(100)
    loss = RecordingMSE()
    small_model(loss=loss).fit(x, y, epochs=1, verbose=0)
    assert [len(t) for t in loss.targets] == [32, 32, 32, 4]


# ---------------------------------------------------------------------------
# The epoch loss
# ---------------------------------------------------------------------------
def test_epoch_loss_is_the_weighted_mean_of_pre_update_batch_losses():
    """Rebuilt with train_on_batch on a twin (same initial weights), batches in row order."""
    x, y = data(50)
    batch, epochs = 16, 3  # batches of 16, 16, 16, 2
    model = small_model(seed=4)
    twin = small_model(seed=4)
    assert_same_weights(model, twin)
    history = model.fit(x, y, epochs=epochs, batch_size=batch, shuffle=False, verbose=0)

    for e in range(epochs):
        batch_losses, sizes = [], []
        for lo in range(0, 50, batch):
            batch_losses.append(twin.train_on_batch(x[lo:lo + batch], y[lo:lo + batch]))
            sizes.append(len(x[lo:lo + batch]))
        weighted = sum(n * l for n, l in zip(sizes, batch_losses)) / sum(sizes)
        # Keras keeps the total and the count as float32 variables: total += float32(n·L).
        total = np.float32(0)
        for n, l in zip(sizes, batch_losses):
            total += np.float32(l) * np.float32(n)
        assert history.history["loss"][e] == float(total / np.float32(sum(sizes)))
        assert history.history["loss"][e] == pytest.approx(weighted, rel=1e-6)
        # A plain mean over batches would overweight the batch of 2: the weighting matters here.
        assert abs(np.mean(batch_losses) - weighted) > 1e-4
    assert_same_weights(model, twin)
    assert model.optimizer.iterations == twin.optimizer.iterations == 4 * epochs


def test_epoch_loss_differs_from_evaluate_at_the_end():
    """The logged loss is computed before each update, not on the final weights (keras#503)."""
    x, y = data(50)
    model = small_model(optimizer=optimizers.Adam(learning_rate=0.05))
    history = model.fit(x, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    assert abs(history.history["loss"][0] - model.evaluate(x, y, verbose=0)) > 1e-3


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
class EvaluateOnEpochEnd(callbacks.Callback):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.losses, self.logged = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(self.model.evaluate(self.x, self.y, verbose=0))
        self.logged.append(logs["val_loss"])


def test_validation_split_takes_the_last_rows():
    x, y = data(50)
    model = small_model(seed=2)
    twin = small_model(seed=2)
    probe = EvaluateOnEpochEnd(x[40:], y[40:])  # int(50·0.8) = 40: the last 10 rows
    minnn.utils.set_random_seed(9)
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0,
                        callbacks=[probe])
    # val_loss is evaluate on the last rows, with the end-of-epoch weights
    assert history.history["val_loss"] == probe.logged
    np.testing.assert_allclose(probe.logged, probe.losses, rtol=1e-12)
    # ... and training saw exactly the first 40 rows, split off before shuffling
    minnn.utils.set_random_seed(9)
    twin_history = twin.fit(x[:40], y[:40], epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"] == twin_history.history["loss"]
    assert_same_weights(model, twin)


def test_validation_data_gives_val_loss():
    x, y = data(60)
    model = small_model()
    history = model.fit(x[:40], y[:40], epochs=2, batch_size=16, verbose=0,
                        validation_data=(x[40:], y[40:]))
    assert sorted(history.history) == ["loss", "val_loss"]
    # fit evaluates the validation data in batches of its own batch_size
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(x[40:], y[40:], batch_size=16, verbose=0), rel=1e-12)


# ---------------------------------------------------------------------------
# Shuffling and the seed
# ---------------------------------------------------------------------------
def row_ids(n):
    """Targets whose first column is the row number, so a recording loss reveals the order."""
    y = np.zeros((n, 2), dtype="float32")
    y[:, 0] = np.arange(n)
    return y


def orders_seen(loss, n, epochs):
    ids = np.concatenate([t[:, 0] for t in loss.targets]).astype(int)
    return ids.reshape(epochs, n)


def test_shuffle_draws_one_permutation_per_epoch_from_minnns_generator():
    n, epochs = 40, 3
    x = data(n)[0]
    loss = RecordingMSE()
    model = small_model(loss=loss)
    minnn.utils.set_random_seed(7)
    model.fit(x, row_ids(n), epochs=epochs, batch_size=16, shuffle=True, verbose=0)
    seen = orders_seen(loss, n, epochs)
    expected = np.random.default_rng(7)
    for e in range(epochs):
        np.testing.assert_array_equal(seen[e], expected.permutation(n))
    assert not np.array_equal(seen[0], seen[1])  # a fresh permutation every epoch


def test_shuffle_false_takes_rows_in_order():
    n, epochs = 40, 2
    loss = RecordingMSE()
    small_model(loss=loss).fit(data(n)[0], row_ids(n), epochs=epochs, batch_size=16,
                               shuffle=False, verbose=0)
    np.testing.assert_array_equal(orders_seen(loss, n, epochs), [np.arange(n)] * epochs)


def _seeded_run(seed):
    x, y = data(100)
    model = small_model(seed=seed)
    history = model.fit(x, y, epochs=4, batch_size=16, shuffle=True, verbose=0)
    return history.history["loss"], model.get_weights()


def test_same_seed_gives_bit_identical_runs():
    loss_a, w_a = _seeded_run(3)
    loss_b, w_b = _seeded_run(3)
    assert loss_a == loss_b
    for a, b in zip(w_a, w_b):
        np.testing.assert_array_equal(a, b)


def test_different_seed_gives_a_different_run():
    loss_a, _ = _seeded_run(3)
    loss_b, _ = _seeded_run(4)
    assert loss_a != loss_b


def test_same_weights_different_shuffle_seed_gives_a_different_run():
    x, y = data(100)
    runs = []
    for shuffle_seed in (1, 2):
        model = small_model(seed=0)
        minnn.utils.set_random_seed(shuffle_seed)
        runs.append(model.fit(x, y, epochs=2, batch_size=16, verbose=0).history["loss"])
    assert runs[0] != runs[1]


def test_fit_never_touches_numpys_global_random_state():
    before = np.random.get_state()
    x, y = data(50)
    small_model().fit(x, y, epochs=2, batch_size=16, shuffle=True, verbose=0)
    after = np.random.get_state()
    assert before[0] == after[0] and before[2:] == after[2:]
    np.testing.assert_array_equal(before[1], after[1])


# ---------------------------------------------------------------------------
# History, targets as dicts, compile errors
# ---------------------------------------------------------------------------
def test_fit_returns_the_history_and_sets_model_history():
    x, y = data(30)
    model = small_model()
    assert model.history is None
    history = model.fit(x, y, epochs=3, verbose=0)
    assert isinstance(history, callbacks.History)
    assert model.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss"]
    assert all(isinstance(v, float) for v in history.history["loss"])
    second = model.fit(x, y, epochs=1, verbose=0)
    assert model.history is second and second is not history


def test_y_as_a_dict_keyed_by_output_name_equals_y_as_an_array():
    x, y = data(50)
    model_a, model_b = small_model(seed=1), small_model(seed=1)
    (name,) = model_b.output_names
    minnn.utils.set_random_seed(5)
    ha = model_a.fit(x, y, epochs=2, batch_size=16, verbose=0)
    minnn.utils.set_random_seed(5)
    hb = model_b.fit(x, {name: y}, epochs=2, batch_size=16, verbose=0)
    assert ha.history == hb.history
    assert_same_weights(model_a, model_b)
    with pytest.raises(ValueError, match="not_an_output"):
        model_b.fit(x, {"not_an_output": y}, verbose=0)


def test_the_tutorial_call_with_dicts_runs():
    """compile(loss={'decoder': ...}) and fit(data, {'decoder': data}), as the tutorial writes."""
    x = data(64)[0]
    minnn.utils.set_random_seed(0)
    encoder, decoder, ae = build_tutorial_ae()
    assert ae.output_names == ["decoder"]
    ae.compile(optimizer="adam", loss={"decoder": losses.MeanSquaredError()})
    history = ae.fit(x, {"decoder": x}, epochs=2, batch_size=32, verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch"])
def test_using_before_compile_raises_keras_message(call):
    x, y = data(10)
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(2,))
    model = Model(inp, Dense(2)(inp))
    with pytest.raises(RuntimeError, match=re.escape(COMPILE_FIRST)):
        getattr(model, call)(x, y)


def test_plain_function_as_loss_is_a_type_error_pointing_to_loss():
    def recon_loss(x, x_hat):
        return np.mean((x - x_hat) ** 2)

    model = small_model()
    with pytest.raises(TypeError, match=r"recon_loss.*minnn\.losses\.Loss"):
        model.compile(optimizer="adam", loss=recon_loss)
    with pytest.raises(TypeError, match=r"minnn\.losses\.Loss"):
        model.compile(optimizer="adam", loss={model.output_names[0]: recon_loss})


def test_loss_dict_with_a_wrong_key_raises_keras_message():
    encoder, decoder, ae = build_tutorial_ae()
    message = "Expected keys ['decoder'] in loss dict, but found loss.keys()=['dense_5']"
    with pytest.raises(ValueError, match=re.escape(message)):
        ae.compile(optimizer="adam", loss={"dense_5": "mse"})
    assert not ae.compiled


def test_every_spelling_of_mse_trains_identically():
    """'mse', MeanSquaredError(), mean_squared_error and a tutorial-style Loss: one history."""
    class ReconLoss(losses.Loss):
        def forward(self, x, x_hat):
            return float(np.mean(losses.mean_squared_error(x, x_hat)))

        def backward(self, x, x_hat):
            return 2.0 * (x_hat - x) / x.size

    x, y = data(40)
    histories = []
    for loss in ("mse", losses.MeanSquaredError(), losses.mean_squared_error, ReconLoss()):
        model = small_model(seed=6, loss=loss)
        histories.append(model.fit(x, y, epochs=2, batch_size=16, shuffle=False,
                                   verbose=0).history["loss"])
    for h in histories[1:]:
        np.testing.assert_allclose(h, histories[0], rtol=1e-6)


# ---------------------------------------------------------------------------
# evaluate, train_on_batch, predict
# ---------------------------------------------------------------------------
def test_evaluate_is_the_batch_weighted_mean_and_changes_nothing():
    x, y = data(50)
    model = small_model()
    before = model.get_weights()
    pred = model.predict(x, verbose=0).astype(np.float64)
    expected = np.mean((pred - y) ** 2)  # equal-width batches: the weighted mean is the overall mean
    for batch_size in (None, 7, 50, 1000):
        assert model.evaluate(x, y, batch_size=batch_size, verbose=0) == pytest.approx(expected, rel=1e-5)
    assert model.optimizer.iterations == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_returns_the_loss_before_the_update():
    x, y = data(20)
    model = small_model()
    before = model.evaluate(x, y, batch_size=20, verbose=0)
    weights = model.get_weights()
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(before, rel=1e-12)
    assert model.optimizer.iterations == 1
    assert any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert model.evaluate(x, y, batch_size=20, verbose=0) < before  # one Adam step downhill


def test_predict_returns_floatx_arrays():
    x = data(70)[0]
    out = small_model().predict(x, verbose=0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (70, 2)
    minnn.config.set_floatx("float64")
    out64 = small_model().predict(x, verbose=0)
    assert out64.dtype == np.float64


def test_predict_does_not_depend_on_batch_size():
    x = data(70)[0]
    model = small_model()
    np.testing.assert_allclose(model.predict(x, batch_size=7, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)


def test_ae_predict_equals_decoder_of_encoder_bit_for_bit():
    x = data(300)[0]
    minnn.utils.set_random_seed(0)
    encoder, decoder, ae = build_tutorial_ae()
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(x, x, epochs=2, batch_size=64, verbose=0)
    out = ae.predict(x, verbose=0)
    np.testing.assert_array_equal(out, decoder.predict(encoder.predict(x, verbose=0), verbose=0))
    assert out.dtype == np.float32


# ---------------------------------------------------------------------------
# Printed progress
# ---------------------------------------------------------------------------
def test_verbose_0_prints_nothing(capsys):
    x, y = data(40)
    model = small_model()
    model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = data(50)
    model = small_model()
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert [l for l in lines if l.startswith("Epoch")] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    progress = [l for l in lines if not l.startswith("Epoch")]
    assert len(progress) == 3
    pattern = re.compile(r"^3/3 - \d+s - \d+(us|ms|s)/step - loss: (\S+) - val_loss: (\S+)$")
    for line, loss, val in zip(progress, history.history["loss"], history.history["val_loss"]):
        m = pattern.match(line)
        assert m, line
        assert m.group(2) == f"{loss:.4f}" and m.group(3) == f"{val:.4f}"


def test_verbose_1_prints_a_bar_per_epoch_when_not_a_terminal(capsys):
    x, y = data(50)
    small_model().fit(x, y, epochs=2, batch_size=16, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.match(r"^4/4 ━{20} \d+s \d+(us|ms|s)/step - loss: \d+\.\d{4}$", lines[1]), lines[1]


# ---------------------------------------------------------------------------
# float32 end to end
# ---------------------------------------------------------------------------
def test_float32_end_to_end():
    """float64 data in, and still no float64 anywhere in the model after fit."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))  # float64 on purpose
    minnn.utils.set_random_seed(0)
    encoder, decoder, ae = build_tutorial_ae()
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(x, x, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert ae.dtype == "float32"
    for w in ae.weights:
        assert w.value.dtype == np.float32 and w.grad.dtype == np.float32, w
    assert all(a.dtype == np.float32 for a in ae._param_flats + ae._grad_flats)
    assert all(a.dtype == np.float32 for a in ae.optimizer.get_state())
    assert all(a.dtype == np.float32 for a in ae.get_weights())
    assert ae.predict(x, verbose=0).dtype == np.float32
    assert encoder.predict(x, verbose=0).dtype == np.float32
    assert isinstance(ae.evaluate(x, x, verbose=0), float)


def test_float64_on_request_stays_float64():
    minnn.config.set_floatx("float64")
    x, y = data(40)  # float32 data in
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    assert all(w.value.dtype == np.float64 for w in model.weights)
    assert all(a.dtype == np.float64 for a in model.optimizer.get_state())
    assert model.predict(x, verbose=0).dtype == np.float64
