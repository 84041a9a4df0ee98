"""Classification pieces: softmax and the other new activations, the crossentropies and MAE,
integer labels at the API boundary, to_categorical.

Expected values are worked by hand from the formulas, or come from Keras's documentation and
from running Keras 3.15.1 on JAX (each such number says so). Gradients are checked in float64
against central differences; each check has a planted bug (a negative control) that it must
catch.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minnn
from minnn import activations, layers, losses
from minnn.gradient_check import check_loss, numerical_gradient, rel_error

F32 = np.float32
GOOD = 1e-7       # float64 central differences of smooth functions land far below this
CAUGHT = 1e-3     # every planted bug below lands far above this


# ---------------------------------------------------------------------------
# Activations: values
# ---------------------------------------------------------------------------
def test_softmax_is_stable_and_matches_keras():
    # keras-semantics-2 §4: [1000, 1001, 1002] -> [0.0900306, 0.2447285, 0.6652409] (measured).
    s = activations.softmax(np.array([[1000, 1001, 1002]], dtype=F32))
    np.testing.assert_allclose(s, [[0.0900306, 0.2447285, 0.6652409]], rtol=1e-6)
    assert s.dtype == F32 and np.all(np.isfinite(s))
    # Hand-worked: equal logits give equal probabilities; a size-1 axis gives 1.
    assert activations.softmax(np.zeros((2, 4))).tolist() == [[0.25] * 4] * 2
    assert activations.softmax(np.array([[-5.0]])).tolist() == [[1.0]]


def test_leaky_relu_elu_softplus_values_and_keras_defaults():
    x = np.array([-2.0, -0.5, 0.0, 0.7, 3.0], dtype=F32)
    # Measured in Keras 3.15.1: the activation uses slope 0.2, the layer 0.3.
    np.testing.assert_allclose(activations.leaky_relu(x), [-0.4, -0.1, 0, 0.7, 3], rtol=1e-6)
    np.testing.assert_allclose(layers.LeakyReLU().forward(x[None])[0], [-0.6, -0.15, 0, 0.7, 3],
                               rtol=1e-6)
    # elu(x) = e^x − 1 below 0: e^-2 − 1 = −0.8646647, e^-0.5 − 1 = −0.3934693.
    np.testing.assert_allclose(activations.elu(x), [-0.86466473, -0.39346933, 0, 0.7, 3],
                               rtol=1e-6)
    # softplus(0) = log 2; Keras prints [0.126928 0.474077 0.6931472 1.1031861 3.0485873].
    np.testing.assert_allclose(activations.softplus(x),
                               [0.126928, 0.474077, 0.6931472, 1.1031861, 3.0485873], rtol=1e-6)
    assert np.isfinite(activations.softplus(np.array([1e4], dtype=F32))).all()
    assert activations.get("leaky_relu").negative_slope == 0.2
    assert layers.LeakyReLU().negative_slope == 0.3


def test_derivatives_at_zero_follow_jax():
    """leaky_relu'(0) = 1 and elu'(0) = 1 in JAX (keras-semantics-2, pitfalls); central
    differences cannot see a kink's choice, so it is stated."""
    z = np.zeros((1, 1))
    for act in (activations.leaky_relu, activations.elu):
        assert act.backward(np.ones_like(z), z, act.forward(z)).tolist() == [[1.0]]


# ---------------------------------------------------------------------------
# Activations: gradients, with negative controls
# ---------------------------------------------------------------------------
NEW_ACTIVATIONS = ["softmax", "leaky_relu", "elu", "softplus"]


def activation_error(act, z, rng):
    da = rng.standard_normal(z.shape)
    dz = act.backward(da, z, act.forward(z))
    numeric = numerical_gradient(lambda: float(np.sum(act.forward(z) * da)), z, 1e-6)
    return rel_error(dz, numeric)


def away_from_zero(rng, shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.05, 3.0, size=shape)


@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), k=st.integers(1, 6))
def test_new_activation_gradients(name, seed, n, k):
    rng = np.random.default_rng(seed)
    assert activation_error(activations.get(name), away_from_zero(rng, (n, k)), rng) < GOOD


class ElementwiseSoftmax(activations.Softmax):
    """The classic bug: softmax's derivative taken as s(1 − s), the diagonal only."""

    def backward(self, da, z, a):
        return da * a * (1 - a)


class LeakyWrongSlope(activations.LeakyRelu):
    def backward(self, da, z, a):
        return np.where(z >= 0, da, 0.0)  # the slope below 0 forgotten


class EluWrongBranch(activations.Elu):
    def backward(self, da, z, a):
        return np.where(z > 0, da, da * a)  # a instead of a + alpha


class SoftplusWrong(activations.Softplus):
    def backward(self, da, z, a):
        return da * activations.sigmoid.forward(-z)  # σ(−z) instead of σ(z)


@pytest.mark.parametrize("bug", [ElementwiseSoftmax(), LeakyWrongSlope(), EluWrongBranch(),
                                 SoftplusWrong()], ids=lambda b: type(b).__name__)
def test_activation_gradient_check_catches_planted_bugs(bug):
    rng = np.random.default_rng(3)
    assert activation_error(bug, away_from_zero(rng, (4, 5)), rng) > CAUGHT


def test_softmax_backward_never_builds_a_k_by_k_jacobian():
    """The JVP equals Jᵀ·da with J = diag(s) − s sᵀ, built here only to compare."""
    rng = np.random.default_rng(0)
    z, da = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    s = activations.softmax.forward(z)
    dz = activations.softmax.backward(da, z, s)
    for i in range(3):
        jac = np.diag(s[i]) - np.outer(s[i], s[i])
        np.testing.assert_allclose(dz[i], jac.T @ da[i], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("layer", [layers.Softmax(dtype="float64"), layers.LeakyReLU(dtype="float64"),
                                   layers.ELU(dtype="float64"), layers.Activation("softplus", dtype="float64")],
                         ids=lambda l: type(l).__name__)
def test_activation_layers_gradients_on_rank3(layer):
    from minnn.gradient_check import check_layer
    rng = np.random.default_rng(1)
    errors = check_layer(layer, away_from_zero(rng, (2, 3, 4)), rng)
    assert list(errors) == ["dx"] and errors["dx"] < GOOD


# ---------------------------------------------------------------------------
# Loss values
# ---------------------------------------------------------------------------
def test_cce_reference_example_with_renormalisation_and_clip():
    # keras-semantics-2 §5 (measured): per sample [0.6931472, 16.118095], mean 8.405622.
    # Row 2 has p = 0 for its class: clip(0, 1e-7) gives −log(1e-7) = 16.118.
    p = np.array([[0.2, 0.3, 0.5], [0.0, 0.9, 0.3]], dtype=F32)
    y = np.array([[0, 0, 1], [1, 0, 0]], dtype=F32)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, p), [0.6931472, 16.118095],
                               rtol=1e-6)
    assert losses.CategoricalCrossentropy().forward(y, p) == pytest.approx(8.405622, rel=1e-6)
    assert losses.get("categorical_crossentropy").forward(y, p) == pytest.approx(8.405622, rel=1e-6)
    # Row 1 sums to 1.2 (0.9 + 0.3): renormalised first, −log(0.3/1.2)·[y=1 at 0.3] style check.
    y2 = np.array([[0, 0, 1], [0, 0, 1]], dtype=F32)
    assert losses.categorical_crossentropy(y2, p)[1] == pytest.approx(-np.log(0.3 / 1.2), rel=1e-6)


def test_keras_docstring_examples():
    # keras.losses.categorical_crossentropy / sparse_...: [0.0513, 2.303].
    p = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], dtype=F32)
    np.testing.assert_allclose(losses.categorical_crossentropy([[0, 1, 0], [0, 0, 1]], p),
                               [0.0513, 2.303], atol=5e-4)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([1, 2], p),
                               [0.0513, 2.303], atol=5e-4)


def test_from_logits_and_label_smoothing_match_keras():
    # All measured with Keras 3.15.1 on JAX; the logits case also by hand:
    # row 1: lse(2, 1, 0.1) − 1 = 1.41709, row 2: lse(0.5, −1, 3) − 3 = 0.09542.
    y = np.array([[0, 1, 0], [0, 0, 1]], dtype=F32)
    z = np.array([[2.0, 1.0, 0.1], [0.5, -1.0, 3.0]], dtype=F32)
    assert losses.CategoricalCrossentropy(from_logits=True).forward(y, z) == pytest.approx(0.7563522, rel=1e-6)
    assert losses.SparseCategoricalCrossentropy(from_logits=True).forward(np.array([1, 2]), z) \
        == pytest.approx(0.7563522, rel=1e-6)
    p = np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]], dtype=F32)
    assert losses.CategoricalCrossentropy(label_smoothing=0.1).forward(y, p) == pytest.approx(1.4591359, rel=1e-6)
    yb = np.array([[0, 1], [1, 0]], dtype=F32)
    zb = np.array([[-1.0, 2.0], [0.5, -3.0]], dtype=F32)
    assert losses.BinaryCrossentropy(from_logits=True).forward(yb, zb) == pytest.approx(0.2407135, rel=1e-6)
    pb = np.array([[0.6, 0.4], [0.4, 0.6]], dtype=F32)
    assert losses.BinaryCrossentropy(label_smoothing=0.2).forward(yb, pb) == pytest.approx(0.8757442, rel=1e-6)


def test_sparse_labels_in_every_form_give_the_same_loss():
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]], dtype=F32)
    onehot = losses.CategoricalCrossentropy().forward(np.eye(3, dtype=F32)[[2, 1]], p)
    for y in ([2, 1], [[2], [1]], np.array([2.0, 1.0]), np.array([[2], [1]], dtype=np.int32)):
        assert losses.SparseCategoricalCrossentropy().forward(y, p) == onehot


def test_mae_value_and_names():
    # |1 − 1.5| + 0 + |3 − 2| + |4 − 6| = 3.5 over 4 entries = 0.875 (Keras: 0.875).
    assert losses.MeanAbsoluteError().forward(np.array([[1.0, 2], [3, 4]]),
                                              np.array([[1.5, 2], [2, 6]])) == 0.875
    for name in ("mae", "MAE", "mean_absolute_error", "MeanAbsoluteError"):
        assert isinstance(losses.get(name), losses.MeanAbsoluteError)
    assert losses.MeanAbsoluteError().name == "mean_absolute_error"
    assert losses.CategoricalCrossentropy().name == "categorical_crossentropy"


@pytest.mark.parametrize("name", ["cce", "scce", "crossentropy"])
def test_names_keras_refuses_are_refused(name):
    with pytest.raises(ValueError, match="Could not interpret loss identifier"):
        losses.get(name)


# ---------------------------------------------------------------------------
# Loss gradients, by hand and numerically, with negative controls
# ---------------------------------------------------------------------------
def test_cce_gradient_by_hand_includes_the_renormalisation_term():
    """dL/dp = (1 − y/p)/N for rows that sum to 1 (keras-semantics-2, pitfalls), not −y/(pN)."""
    p = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    y = np.array([[0, 0, 1], [1, 0, 0]], dtype=float)
    g = losses.CategoricalCrossentropy().backward(y, p)
    np.testing.assert_allclose(g, [[0.5, 0.5, -0.5], [-4.5, 0.5, 0.5]], rtol=1e-12)


def test_cce_gradient_is_zero_when_the_true_class_is_clipped():
    # q_true = 1e-9 < ε: the clip is flat there, so JAX's gradient is 0 in every entry.
    p = np.array([[1e-9, 0.5, 0.5 - 1e-9]])
    assert np.all(losses.CategoricalCrossentropy().backward(np.array([[1.0, 0, 0]]), p) == 0)


def loss_inputs(kind, rng, n=4, k=3):
    if kind == "probs":
        p = rng.uniform(0.05, 1.0, (n, k))
        return p / p.sum(axis=1, keepdims=True) * rng.uniform(0.8, 1.2, (n, 1))  # not exactly 1
    return rng.standard_normal((n, k)) * 2


LOSS_CASES = [
    ("cce", lambda: losses.CategoricalCrossentropy(), "probs", "onehot"),
    ("cce smoothed", lambda: losses.CategoricalCrossentropy(label_smoothing=0.2), "probs", "onehot"),
    ("cce logits", lambda: losses.CategoricalCrossentropy(from_logits=True), "logits", "onehot"),
    ("cce soft targets", lambda: losses.CategoricalCrossentropy(), "probs", "soft"),
    ("scce", lambda: losses.SparseCategoricalCrossentropy(), "probs", "labels"),
    ("scce logits", lambda: losses.SparseCategoricalCrossentropy(from_logits=True), "logits", "labels"),
    ("bce", lambda: losses.BinaryCrossentropy(), "probs01", "binary"),
    ("bce smoothed", lambda: losses.BinaryCrossentropy(label_smoothing=0.1), "probs01", "binary"),
    ("bce logits", lambda: losses.BinaryCrossentropy(from_logits=True), "logits", "binary"),
    ("mae", lambda: losses.MeanAbsoluteError(), "logits", "real"),
]


def targets(kind, rng, n=4, k=3):
    labels = rng.integers(0, k, n)
    return {"onehot": np.eye(k)[labels], "labels": labels,
            "soft": rng.dirichlet(np.ones(k), n), "binary": rng.integers(0, 2, (n, k)).astype(float),
            "real": rng.standard_normal((n, k))}[kind]


@pytest.mark.parametrize("name, make, pred, target", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
@pytest.mark.parametrize("seed", range(5))
def test_loss_gradients(name, make, pred, target, seed):
    rng = np.random.default_rng(seed)
    y_pred = rng.uniform(0.05, 0.95, (4, 3)) if pred == "probs01" else loss_inputs(pred, rng)
    y_true = targets(target, rng)
    if name == "mae":  # keep every |y − ŷ| away from MAE's kink at 0
        y_pred = y_true + np.where(rng.random(y_true.shape) < 0.5, -1, 1) * rng.uniform(0.1, 1, y_true.shape)
    assert check_loss(make(), y_true, y_pred) < GOOD


class CCEWithoutRenormalisation(losses.CategoricalCrossentropy):
    def backward(self, y_true, y_pred):
        return -y_true / y_pred / len(y_pred)   # forgets p / Σp


class CCEGradientNotAveraged(losses.CategoricalCrossentropy):
    def backward(self, y_true, y_pred):
        return super().backward(y_true, y_pred) * len(y_pred)


class SCCEOffByOne(losses.SparseCategoricalCrossentropy):
    def backward(self, y_true, y_pred):
        return super().backward((np.asarray(y_true) + 1) % y_pred.shape[-1], y_pred)


class BCELogitsSign(losses.BinaryCrossentropy):
    def backward(self, y_true, y_pred):
        return -super().backward(y_true, y_pred)


class MAEDividedByRows(losses.MeanAbsoluteError):
    def backward(self, y_true, y_pred):
        return np.sign(y_pred - y_true) / len(y_pred)


@pytest.mark.parametrize("bug, pred, target", [
    (CCEWithoutRenormalisation(), "probs", "onehot"), (CCEGradientNotAveraged(), "probs", "onehot"),
    (SCCEOffByOne(), "probs", "labels"), (BCELogitsSign(from_logits=True), "logits", "binary"),
    (MAEDividedByRows(), "logits", "real")], ids=lambda v: type(v).__name__ if isinstance(v, losses.Loss) else v)
def test_loss_gradient_check_catches_planted_bugs(bug, pred, target):
    rng = np.random.default_rng(7)
    y_pred = loss_inputs(pred, rng)
    assert check_loss(bug, targets(target, rng), y_pred) > CAUGHT


# ---------------------------------------------------------------------------
# Softmax followed by crossentropy: the gradient reaching the logits is (ŷ − y)/N
# ---------------------------------------------------------------------------
def composed_logit_gradient(softmax_act, z, y):
    s = softmax_act.forward(z)
    return softmax_act.backward(losses.CategoricalCrossentropy().backward(y, s), z, s), s


def test_softmax_then_cce_gives_yhat_minus_y():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4))
    y = np.eye(4)[rng.integers(0, 4, 6)]
    dz, s = composed_logit_gradient(activations.softmax, z, y)
    np.testing.assert_allclose(dz, (s - y) / 6, rtol=1e-12, atol=1e-15)
    # ... which is also what from_logits=True gives directly.
    np.testing.assert_allclose(losses.CategoricalCrossentropy(from_logits=True).backward(y, z),
                               (s - y) / 6, rtol=1e-12, atol=1e-15)


def test_softmax_then_cce_check_catches_an_elementwise_softmax():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4))
    y = np.eye(4)[rng.integers(0, 4, 6)]
    dz, s = composed_logit_gradient(ElementwiseSoftmax(), z, y)
    assert rel_error(dz, (s - y) / 6) > CAUGHT


def test_dense_softmax_with_cce_in_a_model_equals_yhat_minus_y_through_the_kernel():
    rng = np.random.default_rng(2)
    x = minnn.Input((5,))
    out = layers.Dense(4, activation="softmax", dtype="float64")(x)
    m = minnn.Model(x, out)
    xs = rng.standard_normal((8, 5))
    y = np.eye(4)[rng.integers(0, 4, 8)]
    s = m.forward(xs)
    m.zero_grad()
    m.backward(losses.CategoricalCrossentropy().backward(y, s))
    dense = m.layers[1]
    np.testing.assert_allclose(dense.kernel.grad, xs.T @ (s - y) / 8, rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------------------
# Labels at the boundary, and to_categorical
# ---------------------------------------------------------------------------
def classifier(k=3, loss="sparse_categorical_crossentropy"):
    minnn.utils.set_random_seed(0)
    x = minnn.Input((4,))
    m = minnn.Model(x, layers.Dense(k, activation="softmax")(x))
    m.compile(optimizer="sgd", loss=loss)
    return m


@pytest.mark.parametrize("labels, needle", [
    ([0, 1, 3, 2], "label 3 at row 2 (out of range)"),
    ([0, -1, 1, 2], "label -1 at row 1 (out of range)"),
    ([0, 1, 1.5, 2], "label 1.5 at row 2 (not an integer)"),
    ([0, 1, np.nan, 2], "label nan at row 2 (not an integer)"),
])
@pytest.mark.parametrize("method", ["fit", "train_on_batch", "evaluate"])
def test_bad_labels_are_named_with_their_row_before_any_update(labels, needle, method):
    m = classifier()
    before = [w.copy() for w in m.get_weights()]
    x = np.ones((4, 4), dtype=F32)
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        getattr(m, method)(x, np.array(labels), **({"verbose": 0} if method != "train_on_batch" else {}))
    assert all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))
    assert m.optimizer.iterations == 0


def test_one_hot_targets_for_sparse_loss_and_labels_for_cce_get_a_hint():
    m = classifier()
    x = np.ones((4, 4), dtype=F32)
    with pytest.raises(ValueError, match="look like one-hot rows"):
        m.fit(x, np.eye(3)[[0, 1, 2, 0]], verbose=0)
    m = classifier(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        m.fit(x, np.array([0, 1, 2, 0]), verbose=0)
    with pytest.raises(ValueError, match=r"expected shape=\(None, 3\), found shape=\(4, 4\)"):
        m.fit(x, np.eye(4), verbose=0)


def test_sparse_labels_train_exactly_as_their_one_hot_rows():
    a, b = classifier(), classifier(loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 4)).astype(F32)
    y = rng.integers(0, 3, 20)
    ha = a.fit(x, y.reshape(-1, 1), epochs=3, batch_size=8, shuffle=False, verbose=0)
    hb = b.fit(x, minnn.utils.to_categorical(y, 3), epochs=3, batch_size=8, shuffle=False, verbose=0)
    assert ha.history["loss"] == hb.history["loss"]
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_mse_target_of_shape_n_is_expanded_for_an_output_of_width_1():
    """Keras's squeeze_or_expand_to_same_rank: y (N,) against (None, 1) is fine."""
    minnn.utils.set_random_seed(0)
    x = minnn.Input((2,))
    m = minnn.Model(x, layers.Dense(1)(x))
    m.compile(optimizer="sgd", loss="mse")
    data = np.arange(8, dtype=F32).reshape(4, 2)
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert m.evaluate(data, y, verbose=0) == m.evaluate(data, y.reshape(-1, 1), verbose=0)


def test_to_categorical_as_keras():
    # keras-semantics-2 §12.
    out = minnn.utils.to_categorical([2.7, 1.2])
    assert out.tolist() == [[0, 0, 1], [0, 1, 0]] and out.dtype == np.float64
    assert minnn.utils.to_categorical([[1], [0]], 3).shape == (2, 3)
    assert minnn.utils.to_categorical([[1, 2], [0, 1]]).shape == (2, 2, 3)
    assert minnn.utils.to_categorical(2, 4).tolist() == [0, 0, 1, 0]
    with pytest.raises(ValueError, match=r"label 3 at index \(1,\); expected labels in \[0, 3\)"):
        minnn.utils.to_categorical([0, 3], 3)


# ---------------------------------------------------------------------------
# Initializers a Keras program names (their draws differ from Keras's; their laws do not)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, std", [
    ("he_normal", np.sqrt(2 / 400)), ("he_uniform", np.sqrt(2 / 400)),
    ("glorot_normal", np.sqrt(2 / 900)), ("lecun_normal", np.sqrt(1 / 400)),
    ("lecun_uniform", np.sqrt(1 / 400)), ("random_normal", 0.05),
    ("random_uniform", 0.1 / np.sqrt(12)),   # U(−0.05, 0.05)
])
def test_initializers_have_keras_variance(name, std):
    """Var(w) = scale/n for the VarianceScaling family (the truncated normal is rescaled so
    that the cut keeps it); 200,000 draws pin the standard deviation to about 0.3 %."""
    w = minnn.initializers.get(name)((400, 500), "float64")
    assert abs(w.std() / std - 1) < 0.01
    if "normal" in name and name != "random_normal":
        # truncated at 2σ of the underlying normal: σ = std / 0.8796
        assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-12


def test_dense_accepts_keras_initializer_names_and_saves_them(tmp_path):
    x = minnn.Input((3,))
    m = minnn.Model(x, layers.Dense(4, kernel_initializer="he_normal", bias_initializer="random_uniform")(x))
    m.save(tmp_path / "m.minnn")
    back = minnn.models.load_model(tmp_path / "m.minnn")
    assert type(back.layers[1].kernel_initializer).__name__ == "HeNormal"
    assert np.array_equal(back.get_weights()[0], m.get_weights()[0])
