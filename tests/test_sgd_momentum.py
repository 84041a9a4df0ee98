"""SGD's momentum and Nesterov options, against Keras's formulas worked by hand."""
import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, optimizers
from minnn.linalg import largest_principal_angle_degrees


def run(opt, theta0, grads):
    theta = theta0.copy()
    for g in grads:
        opt.apply([g], [theta])
    return theta


def by_hand(theta0, grads, lr, momentum, nesterov):
    theta, v = theta0.copy(), np.zeros_like(theta0)
    for g in grads:
        v = momentum * v - lr * g
        theta = theta + (momentum * v - lr * g if nesterov else v)
    return theta


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_matches_keras_formula_over_several_steps(momentum, nesterov):
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(7)
    grads = [rng.standard_normal(7) for _ in range(5)]
    got = run(optimizers.SGD(0.1, momentum=momentum, nesterov=nesterov), theta0, grads)
    np.testing.assert_allclose(got, by_hand(theta0, grads, 0.1, momentum, nesterov), rtol=1e-13)


def test_momentum_changes_the_path_and_nesterov_differs_from_plain():
    """Negative control: the three variants must not coincide, or the test above proves nothing."""
    rng = np.random.default_rng(1)
    theta0, grads = rng.standard_normal(4), [rng.standard_normal(4) for _ in range(3)]
    plain = run(optimizers.SGD(0.1), theta0, grads)
    heavy = run(optimizers.SGD(0.1, momentum=0.9), theta0, grads)
    nest = run(optimizers.SGD(0.1, momentum=0.9, nesterov=True), theta0, grads)
    assert np.max(np.abs(plain - heavy)) > 1e-2 and np.max(np.abs(heavy - nest)) > 1e-2


def test_first_step_by_hand():
    # v = 0.9·0 − 0.5·2 = −1;  θ = 1 + (−1) = 0;  nesterov: θ = 1 + 0.9·(−1) − 0.5·2 = −0.9
    assert run(optimizers.SGD(0.5, momentum=0.9), np.array([1.0]), [np.array([2.0])])[0] == pytest.approx(0.0)
    assert run(optimizers.SGD(0.5, momentum=0.9, nesterov=True), np.array([1.0]),
               [np.array([2.0])])[0] == pytest.approx(-0.9)


def test_config_and_state_round_trip():
    opt = optimizers.SGD(0.1, momentum=0.9, nesterov=True)
    assert opt.get_config() == {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}
    assert optimizers.SGD().get_config() == {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
    rng = np.random.default_rng(2)
    theta0, grads = rng.standard_normal(3), [rng.standard_normal(3) for _ in range(4)]
    straight = run(optimizers.SGD(0.1, momentum=0.9), theta0, grads)
    first = optimizers.SGD(0.1, momentum=0.9)
    mid = run(first, theta0, grads[:2])
    second = optimizers.SGD(**first.get_config())
    second.set_state(first.get_state())
    np.testing.assert_allclose(run(second, mid, grads[2:]), straight, rtol=1e-14)
    assert optimizers.SGD().get_state() == []


@pytest.mark.parametrize("kwargs, error", [
    ({"momentum": -0.1}, ValueError), ({"momentum": 1.5}, ValueError),
    ({"momentum": float("nan")}, ValueError), ({"momentum": True}, ValueError),
    ({"momentum": "0.9"}, ValueError), ({"nesterov": 1}, TypeError),
])
def test_bad_momentum_arguments_are_refused(kwargs, error):
    with pytest.raises(error, match="momentum|nesterov"):
        optimizers.SGD(0.1, **kwargs)


def test_linear_autoencoder_with_sgd_momentum_reaches_pca():
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    X = (rng.standard_normal((1000, 6)) * np.sqrt([5.0, 2.5, 0.6, 0.4, 0.2, 0.1]) @ q.T).astype(np.float32)
    Xc = X - X.mean(axis=0)
    vals, vecs = np.linalg.eigh(np.cov(Xc.T.astype(np.float64)))
    V = vecs[:, ::-1][:, :2]
    minnn.utils.set_random_seed(0)
    inp = Input(shape=(6,))
    dec = Dense(6)
    model = Model(inp, dec(Dense(2)(inp)))
    model.compile(optimizer=optimizers.SGD(learning_rate=0.05, momentum=0.9), loss="mse")
    model.fit(X, X, batch_size=len(X), epochs=400, verbose=0)
    assert largest_principal_angle_degrees(dec.kernel.value.T, V) < 2.0
    pca_err = np.mean((Xc - Xc @ V @ V.T) ** 2)
    assert model.evaluate(X, X, batch_size=len(X), verbose=0) <= 1.01 * pca_err
