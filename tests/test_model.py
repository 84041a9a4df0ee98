"""The tutorial model: structure, names, summary, weights and their initialisation.

The model is built exactly as lesson 1 builds it (tests/tutorial_ae.py):
encoder 2 → 20 relu → 20 relu → 1, decoder 1 → 20 relu → 20 relu → 2,
ae = decoder(encoder(inputs)).
"""
import math
import re

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, ReLU, initializers, losses
from minnn.datasets import two_gaussians
from minnn.layers import InputLayer
from tutorial_ae import build_tutorial_ae

KERAS_SUMMARY = """\
Model: "ae"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ Input (InputLayer)              │ (None, 2)              │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ encoder (Functional)            │ (None, 1)              │           501 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ decoder (Functional)            │ (None, 2)              │           502 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 1,003 (3.92 KB)
 Trainable params: 1,003 (3.92 KB)
 Non-trainable params: 0 (0.00 B)"""  # Keras 3.15, copied from keras-semantics.md

KERAS_SHAPES = [(2, 20), (20,), (20, 20), (20,), (20, 1), (1,),      # encoder
                (1, 20), (20,), (20, 20), (20,), (20, 2), (2,)]      # decoder


@pytest.fixture
def tutorial():
    minnn.utils.set_random_seed(0)
    return build_tutorial_ae()


# ---------------------------------------------------------------------------
# Structure and names
# ---------------------------------------------------------------------------
def test_parameter_counts(tutorial):
    encoder, decoder, ae = tutorial
    # in·units + units per Dense: 60 + 420 + 21 and 40 + 420 + 42
    assert encoder.count_params() == 501
    assert decoder.count_params() == 502
    assert ae.count_params() == 1003
    assert [l.count_params() for l in encoder.layers] == [0, 60, 420, 21]
    assert [l.count_params() for l in decoder.layers] == [0, 40, 420, 42]


def test_top_level_layers_and_output_names(tutorial):
    encoder, decoder, ae = tutorial
    assert [l.name for l in ae.layers] == ["Input", "encoder", "decoder"]
    assert isinstance(ae.layers[0], InputLayer)
    assert ae.layers[1] is encoder and ae.layers[2] is decoder
    assert ae.output_names == ["decoder"]
    assert encoder.output_names == [encoder.layers[-1].name]


def test_automatic_names_follow_keras_pattern(tutorial):
    """dense, dense_1, …: the counter is process-global, so we test the pattern and the order."""
    encoder, decoder, ae = tutorial
    dense_names = [l.name for m in (encoder, decoder) for l in m.layers[1:]]
    numbers = []
    for name in dense_names:
        m = re.fullmatch(r"dense(?:_(\d+))?", name)
        assert m, name
        numbers.append(int(m.group(1) or 0))
    assert numbers == list(range(numbers[0], numbers[0] + 6))  # six in a row, in build order

    a, b = Dense(1), Dense(1)
    na, nb = (int(re.fullmatch(r"dense_(\d+)", l.name).group(1)) for l in (a, b))
    assert nb == na + 1
    assert re.fullmatch(r"re_lu(_\d+)?", ReLU().name)
    inp = Input(shape=(2,))
    assert re.fullmatch(r"functional(_\d+)?", Model(inp, Dense(1)(inp)).name)
    assert Dense(1, name="mine").name == "mine"


def test_summary_matches_keras_3(tutorial, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # the table fits the terminal: 76 wide when piped
    encoder, decoder, ae = tutorial
    ae.summary()
    assert capsys.readouterr().out == KERAS_SUMMARY + "\n"


def test_summary_goes_to_print_fn(tutorial, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    encoder, decoder, ae = tutorial
    got = []
    ae.summary(print_fn=got.append)
    assert capsys.readouterr().out == ""
    assert got == [KERAS_SUMMARY + "\n"]  # Keras hands print_fn one string, newline-ended


def test_summary_of_the_encoder_lists_its_dense_layers(tutorial):
    encoder, decoder, ae = tutorial
    got = []
    encoder.summary(print_fn=got.append)
    text = "\n".join(got)
    for layer, shape, params in zip(encoder.layers[1:], ["(None, 20)", "(None, 20)", "(None, 1)"],
                                    ["60", "420", "21"]):
        assert re.search(rf"│ {layer.name} \(Dense\)\s+│ {re.escape(shape)}\s+│\s+{params} │", text)
    assert " Total params: 501 (1.96 KB)" in text


def test_summary_size_in_float64():
    minnn.config.set_floatx("float64")
    encoder, decoder, ae = build_tutorial_ae()
    got = []
    ae.summary(print_fn=got.append)
    assert " Total params: 1,003 (7.84 KB)" in got[0]  # 1003 · 8 B / 1024


# ---------------------------------------------------------------------------
# Weights: order, round trip, sharing
# ---------------------------------------------------------------------------
def test_get_weights_is_in_keras_order(tutorial):
    encoder, decoder, ae = tutorial
    weights = ae.get_weights()
    assert [w.shape for w in weights] == KERAS_SHAPES
    # [kernel, bias] of each Dense, encoder first, then decoder
    layers = [l for m in (encoder, decoder) for l in m.layers[1:]]
    for i, layer in enumerate(layers):
        np.testing.assert_array_equal(weights[2 * i], layer.kernel.value)
        np.testing.assert_array_equal(weights[2 * i + 1], layer.bias.value)
    for a, b in zip(weights, encoder.get_weights() + decoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert [w.name for w in ae.weights] == [f"{l.name}/{k}" for l in layers for k in ("kernel", "bias")]


def test_get_weights_returns_copies(tutorial):
    encoder, decoder, ae = tutorial
    w = ae.get_weights()
    w[0][...] = 123.0
    assert not np.any(ae.get_weights()[0] == 123.0)


def test_set_weights_round_trip(tutorial):
    encoder, decoder, ae = tutorial
    rng = np.random.default_rng(0)
    new = [rng.standard_normal(s).astype("float32") for s in KERAS_SHAPES]
    x = rng.standard_normal((5, 2)).astype("float32")
    before = ae.predict(x, verbose=0)
    ae.set_weights(new)
    for a, b in zip(ae.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    # shared: the encoder now holds the first six arrays
    for a, b in zip(encoder.get_weights(), new[:6]):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(ae.predict(x, verbose=0), before)


def test_set_weights_checks_count_and_shapes_before_changing_anything(tutorial):
    encoder, decoder, ae = tutorial
    before = ae.get_weights()
    with pytest.raises(ValueError, match="weight list of length 11, but the layer was expecting 12 weights"):
        ae.set_weights(before[:11])
    bad = [np.ones(s, dtype="float32") for s in KERAS_SHAPES]
    bad[-1] = np.ones(3, dtype="float32")
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        ae.set_weights(bad)
    for a, b in zip(before, ae.get_weights()):  # the 11 good arrays were not written either
        np.testing.assert_array_equal(a, b)


def test_training_ae_changes_the_shared_encoder(tutorial):
    encoder, decoder, ae = tutorial
    x, _ = two_gaussians.load_data(seed=0, n_per_cluster=100)
    codes_before = encoder.predict(x, verbose=0)
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(x, x, epochs=2, batch_size=32, verbose=0)
    codes_after = encoder.predict(x, verbose=0)
    assert not np.allclose(codes_before, codes_after)
    np.testing.assert_array_equal(ae.predict(x, verbose=0),
                                  decoder.predict(codes_after, verbose=0))


def test_shared_weights_stay_shared_when_models_take_turns_training(tutorial):
    """ae, then the encoder alone, then ae again: each repacks the weights, none loses them."""
    encoder, decoder, ae = tutorial
    x, _ = two_gaussians.load_data(seed=0, n_per_cluster=100)
    ae.compile(optimizer="adam", loss="mse")
    ae.fit(x, x, epochs=1, batch_size=32, verbose=0)
    encoder.compile(optimizer="sgd", loss="mse")
    encoder.fit(x, x[:, :1], epochs=1, batch_size=32, verbose=0)
    for a, b in zip(ae.get_weights()[:6], encoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    ae.fit(x, x, epochs=1, batch_size=32, verbose=0)
    for a, b in zip(ae.get_weights(), encoder.get_weights() + decoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ae.predict(x, verbose=0),
                                  decoder.predict(encoder.predict(x, verbose=0), verbose=0))


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------
def test_tutorial_kernels_lie_within_glorot_limits(tutorial):
    """The limits from keras-semantics.md: 0.52223 (2→20), 0.38730 (20→20), 0.53452 (20→1, 1→20)."""
    encoder, decoder, ae = tutorial
    limits = [0.52223, 0.38730, 0.53452, 0.53452, 0.38730, 0.52223]
    layers = [l for m in (encoder, decoder) for l in m.layers[1:]]
    for layer, limit in zip(layers, limits):
        k = layer.kernel.value
        assert np.max(np.abs(k)) <= limit + 1e-5, layer.name
        assert np.max(np.abs(k)) > 0.5 * limit, layer.name  # drawn over the whole range
        assert not np.any(layer.bias.value)  # zeros


def test_glorot_uniform_distribution_on_a_big_kernel():
    """U(−limit, limit), limit = sqrt(6/(fan_in + fan_out)): range, mean 0, variance limit²/3."""
    fan_in, fan_out = 300, 500
    limit = math.sqrt(6 / (fan_in + fan_out))
    w = initializers.GlorotUniform(seed=123)((fan_in, fan_out), "float64")
    assert w.shape == (fan_in, fan_out)
    assert -limit <= w.min() and w.max() <= limit
    assert w.min() < -0.999 * limit and w.max() > 0.999 * limit
    # 150,000 draws: the standard error of the variance is ~0.2 %, of the mean ~0.0006·limit
    assert abs(w.mean()) < 0.005 * limit
    assert w.var() == pytest.approx(limit ** 2 / 3, rel=0.02)
    # not some other distribution with the same variance: uniform has a flat histogram
    counts, _ = np.histogram(w, bins=10, range=(-limit, limit))
    assert counts.min() > 0.9 * w.size / 10


def test_dense_uses_glorot_uniform_and_zeros_by_default():
    minnn.utils.set_random_seed(1)
    layer = Dense(400, dtype="float64")
    layer.build((None, 200))
    limit = math.sqrt(6 / 600)
    assert np.max(np.abs(layer.kernel.value)) <= limit
    assert layer.kernel.value.var() == pytest.approx(limit ** 2 / 3, rel=0.03)
    assert layer.bias.value.shape == (400,) and not np.any(layer.bias.value)
    assert layer.kernel.value.dtype == np.float64


def test_set_random_seed_gives_identical_weights():
    def weights(seed):
        minnn.utils.set_random_seed(seed)
        return build_tutorial_ae()[2].get_weights()

    a, b, c = weights(42), weights(42), weights(43)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))


def test_initial_loss_is_where_theory_says(tutorial):
    """Glorot weights and zero biases give small outputs, so the initial MSE is close to mean(x²).

    For the tutorial data that is about 1.6 (measured 1.54–1.72 over seeds 0–4). A wrong
    initialiser (say U(0, 1), or a kernel of ones) lands far outside.
    """
    for seed in (0, 1, 2):
        minnn.utils.set_random_seed(seed)
        encoder, decoder, ae = build_tutorial_ae()
        ae.compile(optimizer="adam", loss="mse")
        x, _ = two_gaussians.load_data(seed=seed)
        loss0 = ae.evaluate(x, x, verbose=0)
        mean_sq = float(np.mean(x.astype(np.float64) ** 2))
        assert 0.8 * mean_sq < loss0 < 1.25 * mean_sq
        assert 1.0 < loss0 < 2.5


def test_initial_loss_check_catches_a_bad_initialiser():
    """Negative control: kernels of ones give an initial loss far outside the band."""
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(2,))
    x = Dense(20, activation="relu", kernel_initializer="ones")(inp)
    x = Dense(20, activation="relu", kernel_initializer="ones")(x)
    lat = Dense(1, kernel_initializer="ones")(x)
    x = Dense(20, activation="relu", kernel_initializer="ones")(lat)
    x = Dense(20, activation="relu", kernel_initializer="ones")(x)
    ae = Model(inp, Dense(2, kernel_initializer="ones")(x))
    ae.compile(optimizer="adam", loss=losses.MeanSquaredError())
    data, _ = two_gaussians.load_data(seed=0)
    mean_sq = float(np.mean(data.astype(np.float64) ** 2))
    assert ae.evaluate(data, data, verbose=0) > 1.25 * mean_sq
