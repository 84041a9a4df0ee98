"""The checks that grade an exercise, and that prove minnn's own reference.

Each ``check_*`` function takes an implementation (the learner's function, or
``minnn.reference``'s) and returns a list of ``Check`` results. The same
functions run in the test suite against ``minnn.reference`` (they must all
pass) and in ``grade.py check`` against the learner's file.

None of them compares with ``minnn.reference`` itself: that would prove nothing
about the reference. They compare with what is independent of it:

- central differences in float64 (the gradient exercises);
- minnn's fast engine, ``Dense``, ``MeanSquaredError``, ``Adam`` and ``fit``,
  which the test suite proves separately;
- values worked out by hand, such as Adam's first step.

Every input is drawn fresh from a seeded generator (the ``seed`` argument), so
``grade.py check`` can also run the checks on inputs the learner never saw.
A check that fails carries a hint naming the likely mistake; where a mistake
has a recognisable signature (db equal to the mean instead of the sum, a loss
gradient exactly half the right one) the hint names that mistake.
"""
import dataclasses
import math

import numpy as np

import minnn
from minnn import gradient_check

# cs231n's bands for a relative error, as in minnn.gradient_check.
GRAD_BAND = 1e-7       # central differences in float64 agree this well with a right gradient
ENGINE_BAND = 1e-12    # the same arithmetic written another way: round-off only


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    value: str = ""     # what was measured, e.g. "rel. error 3.1e-10"
    band: str = ""      # what was expected, e.g. "< 1e-07"
    hint: str = ""      # shown when the check fails

    def line(self):
        mark = "PASS" if self.passed else "FAIL"
        text = f"  {mark}  {self.name}"
        if self.value:
            text += f": {self.value}"
        if self.band:
            text += f" (expected {self.band})"
        if not self.passed and self.hint:
            text += f"\n        hint: {self.hint}"
        return text


def _err_check(name, analytic, numeric, band, hint):
    """A relative-error check between two arrays; a shape mismatch is a failure too."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    if a.shape != n.shape:
        return Check(name, False, f"shape {a.shape}", f"shape {n.shape}", hint)
    err = gradient_check.rel_error(a, n)
    return Check(name, err < band, f"rel. error {err:.1e}", f"< {band:.0e}", hint)


def _call(name, fn, *args, hint="read the error: usually a shape that does not match.",
          **kwargs):
    """Run the learner's code; an exception becomes a failed check with its message."""
    try:
        return fn(*args, **kwargs), None
    except NotImplementedError:
        return None, Check(name, False, "raises NotImplementedError", "an implementation",
                           "the stub is still there: write the function body.")
    except Exception as e:  # the learner's bug, reported rather than crashing the grader
        return None, Check(name, False, f"raised {type(e).__name__}: {e}", "no exception", hint)


def _away_from_kink(rng, shape, margin=0.1):
    """Normal samples pushed at least ``margin`` away from 0, so that a central difference
    never straddles ReLU's kink."""
    x = rng.standard_normal(shape)
    return x + np.sign(x) * margin + (x == 0) * margin


# ---------------------------------------------------------------------------
# 4.1  ReLU backward
# ---------------------------------------------------------------------------
def check_relu_backward(relu_backward, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    x = _away_from_kink(rng, (6, 5))
    dy = rng.standard_normal(x.shape)
    dy_before = dy.copy()
    dx, fail = _call("runs", relu_backward, dy, x)
    if fail:
        return [fail]
    numeric = gradient_check.numerical_gradient(lambda: float(np.sum(np.maximum(x, 0) * dy)), x)
    hint = "dx = dy ⊙ [x > 0]: the gradient passes where the input was positive, 0 elsewhere."
    if np.shape(dx) == x.shape and np.array_equal(dx, dy):
        hint = "dx equals dy: the mask [x > 0] is missing."
    elif np.shape(dx) == x.shape and np.array_equal(dx, dy * (x < 0)):
        hint = "the mask is inverted: the gradient flows where x > 0, not where x < 0."
    out.append(_err_check("dx against central differences", dx, numeric, GRAD_BAND, hint))
    out.append(Check("dy is left unchanged", np.array_equal(dy, dy_before), "", "",
                     "backward must never write into dy: build a new array (dy * mask), "
                     "not dy[x <= 0] = 0."))
    # At the kink itself minnn (as Keras and PyTorch) uses slope 0.
    x0 = np.array([[-1.0, 0.0, 2.0]])
    dy0 = np.array([[5.0, 7.0, 11.0]])
    dx0, fail = _call("at x = 0", relu_backward, dy0, x0)
    if fail:
        out.append(fail)
    else:
        engine = minnn.activations.relu.backward(dy0, x0, np.maximum(x0, 0))
        out.append(Check("at x = 0 the slope is 0 (as minnn's engine and Keras)",
                         np.shape(dx0) == engine.shape and np.array_equal(dx0, engine),
                         f"dx = {np.asarray(dx0).ravel().tolist()}",
                         f"{engine.ravel().tolist()}", "use x > 0, not x >= 0."))
    return out


# ---------------------------------------------------------------------------
# 4.2  Dense backward
# ---------------------------------------------------------------------------
def check_dense_backward(dense_backward, seed=0):
    rng = np.random.default_rng(seed)
    n, d, m = 5, 4, 3  # all different, so that a missing transpose shows as a shape error
    x = rng.standard_normal((n, d))
    kernel = rng.standard_normal((d, m))
    bias = rng.standard_normal(m)
    dy = rng.standard_normal((n, m))
    dy_before = dy.copy()
    result, fail = _call("runs", dense_backward, dy, x, kernel,
                         hint="a product of shapes that do not fit: dx = dy·Wᵀ is (N, M)·(M, D), "
                              "dW = xᵀ·dy is (D, N)·(N, M); a missing transpose shows up here.")
    if fail:
        return [fail]
    if not isinstance(result, tuple) or len(result) != 3:
        return [Check("returns (dx, dkernel, dbias)", False, f"returned {type(result).__name__}",
                      "a tuple of 3 arrays", "return dx, dkernel, dbias")]
    dx, dk, db = result

    def s():
        return float(np.sum((x @ kernel + bias) * dy))

    out = [
        _err_check("dx against central differences", dx,
                   gradient_check.numerical_gradient(s, x), GRAD_BAND,
                   "dx = dy · Wᵀ, of shape (N, D): a shape (N, M) or (M, N) means a missing "
                   "or misplaced transpose."),
        _err_check("dkernel against central differences", dk,
                   gradient_check.numerical_gradient(s, kernel), GRAD_BAND,
                   "dW = xᵀ · dy, of shape (D, M): each weight's gradient sums x_d·dy_m over "
                   "the batch."),
    ]
    db_hint = "db = Σₙ dy: the bias touched every row, so its gradient sums over the batch."
    if np.shape(db) == (m,) and np.allclose(db, dy.mean(axis=0)):
        db_hint = "db is the mean of dy over the batch: it must be the sum (no 1/N here)."
    elif np.shape(db) == (n,):
        db_hint = "db has shape (N,): sum over axis 0 (the batch), not axis 1."
    out.append(_err_check("dbias against central differences", db,
                          gradient_check.numerical_gradient(s, bias), GRAD_BAND, db_hint))
    # The same numbers as minnn's engine (which the test suite proves separately).
    layer = minnn.Dense(m, dtype="float64")
    layer.build((None, d))
    layer.kernel.value[...] = kernel
    layer.bias.value[...] = bias
    layer.forward(x)
    layer.zero_grad()
    engine_dx = layer.backward(dy)
    for name, mine, ref in (("dx", dx, engine_dx), ("dkernel", dk, layer.kernel.grad),
                            ("dbias", db, layer.bias.grad)):
        out.append(_err_check(f"{name} equals minnn.Dense's backward", mine, ref, ENGINE_BAND,
                              "compare with the formulas in lesson 04, stage by stage."))
    out.append(Check("dy is left unchanged", np.array_equal(dy, dy_before), "", "",
                     "backward must never write into dy."))
    # One row: the batch sum of one row is that row (a common slip is a sum over axis 1).
    r, fail = _call("one row", dense_backward, dy[:1], x[:1], kernel)
    if fail:
        out.append(fail)
    else:
        out.append(_err_check("one-row batch: dbias equals that row of dy", r[2], dy[0],
                              ENGINE_BAND, "sum over axis 0, keeping shape (M,)."))
    return out


# ---------------------------------------------------------------------------
# 4.3  MSE gradient
# ---------------------------------------------------------------------------
def check_mse_backward(mse_backward, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((6, 3))
    p = rng.standard_normal((6, 3))
    y_before, p_before = y.copy(), p.copy()
    g, fail = _call("runs", mse_backward, y, p)
    if fail:
        return [fail]
    numeric = gradient_check.numerical_gradient(lambda: float(np.mean((p - y) ** 2)), p)
    hint = "L = mean over all N·D entries of (ŷ − y)², so dL/dŷ = 2(ŷ − y)/(N·D)."
    if np.shape(g) == p.shape:
        if np.allclose(g, numeric / 2, rtol=1e-6):
            hint = "your gradient is exactly half the right one: the factor 2 from d(u²)/du = 2u is missing."
        elif np.allclose(g, -numeric, rtol=1e-6):
            hint = "the sign is flipped: it is ŷ − y (prediction minus target), not y − ŷ."
        elif np.allclose(g, numeric * p.shape[1], rtol=1e-6):
            hint = "you divided by N only: the mean is over all N·D entries."
        elif np.allclose(g, numeric * p.size, rtol=1e-6):
            hint = "no division at all: the loss is a mean, so divide by N·D."
    out = [_err_check("dL/dy_pred against central differences", g, numeric, GRAD_BAND, hint)]
    engine = minnn.losses.MeanSquaredError().backward(y, p)
    out.append(_err_check("equals minnn.losses.MeanSquaredError's backward", g, engine,
                          ENGINE_BAND, hint))
    out.append(Check("y_true and y_pred are left unchanged",
                     np.array_equal(y, y_before) and np.array_equal(p, p_before), "", "",
                     "compute into a new array; never scale y_pred in place."))
    # Another shape: one sample of five features (N·D = 5).
    y1, p1 = rng.standard_normal((1, 5)), rng.standard_normal((1, 5))
    g1, fail = _call("one sample of 5 features", mse_backward, y1, p1)
    if fail:
        out.append(fail)
    else:
        out.append(_err_check("one sample of 5 features", g1, 2 * (p1 - y1) / 5, ENGINE_BAND,
                              "divide by the number of entries N·D, whatever the shape."))
    return out


# ---------------------------------------------------------------------------
# 4.4  Central differences
# ---------------------------------------------------------------------------
def check_numerical_gradient(numerical_gradient, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 4))
    weights = rng.standard_normal((3, 4))
    x_before = x.copy()

    def f(z):  # s(z) = Σ sin(z) ⊙ G, whose gradient is cos(z) ⊙ G exactly
        return float(np.sum(np.sin(z) * weights))

    g, fail = _call("runs", numerical_gradient, f, x)
    if fail:
        return [fail]
    exact = np.cos(x) * weights
    hint = "(f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for each entry i, with eᵢ the i-th unit array."
    if np.shape(g) == x.shape:
        err = gradient_check.rel_error(g, exact)
        if 1e-7 < err < 1e-3:
            hint = ("the error is of order h, not h²: that is a forward difference. Use the "
                    "central one, (f(x+h) − f(x−h)) / 2h.")
        elif np.allclose(g, 2 * exact, rtol=1e-5):
            hint = "twice the gradient: divide by 2h, not h."
        elif np.allclose(g, exact / 2, rtol=1e-5):
            hint = "half the gradient: the two points are 2h apart, so divide by 2h, not 4h."
    out = [_err_check("against the exact gradient of Σ sin(x)·G", g, exact, 1e-8, hint)]
    out.append(Check("x is left unchanged", np.array_equal(x, x_before), "", "",
                     "hand f new arrays (x + e, x − e), or restore every entry you perturb."))
    # Other shapes: a vector, and a transposed (non-contiguous) matrix.
    for label, z in (("a 1-D x", rng.standard_normal(5)),
                     ("a transposed (non-contiguous) x", rng.standard_normal((4, 3)).T)):
        w = rng.standard_normal(z.shape)
        gz, fail = _call(label, numerical_gradient, lambda a, w=w: float(np.sum(np.sin(a) * w)), z)
        if fail:
            out.append(fail)
        else:
            out.append(_err_check(label, gz, np.cos(z) * w, 1e-8,
                                  "loop over np.ndindex(x.shape), so that every shape works."))
    return out


# ---------------------------------------------------------------------------
# 5.1  Adam
# ---------------------------------------------------------------------------
def check_adam_step(adam_step, seed=0, steps=25):
    rng = np.random.default_rng(seed)
    w0 = np.linspace(-1.0, 1.0, 12)
    grads = [rng.standard_normal(12) for _ in range(steps)]
    out = []
    # The first step, worked out by hand: m = (1−β1)g, v = (1−β2)g², t = 1,
    # α = lr·sqrt(1−β2)/(1−β1), w ← w − α·m/(sqrt(v) + ε).
    lr, b1, b2, eps = 0.001, 0.9, 0.999, 1e-7
    g = grads[0]
    m0, v0 = np.zeros(12), np.zeros(12)
    args = (w0.copy(), g.copy(), m0.copy(), v0.copy(), 1)
    r, fail = _call("runs", adam_step, *args)
    if fail:
        return [fail]
    if not isinstance(r, tuple) or len(r) != 3:
        return [Check("returns (w, m, v)", False, f"returned {type(r).__name__}", "a tuple of 3",
                      "return the new w, m and v")]
    m1 = (1 - b1) * g
    v1 = (1 - b2) * g * g
    alpha = lr * math.sqrt(1 - b2) / (1 - b1)
    w1 = w0 - alpha * m1 / (np.sqrt(v1) + eps)
    hint = ("t = 1 on the first step; α_t = lr·sqrt(1 − β2^t)/(1 − β1^t); "
            "w ← w − α_t·m/(sqrt(v) + ε) with ε added to the uncorrected sqrt(v) (Keras's form).")
    step = np.asarray(r[0]) - w0 if np.shape(r[0]) == w0.shape else None
    if step is not None:
        ratio = np.median(np.abs(step)) / lr
        if np.isclose(ratio, (1 - b1) / math.sqrt(1 - b2), rtol=1e-2):
            hint = ("the first step is about 3.2·lr instead of lr: the bias corrections "
                    "1 − β1^t and 1 − β2^t are missing.")
        elif not np.all(np.isfinite(r[0])):
            hint = "the first step is not finite: t must start at 1, or 1 − β^t is 0."
    out.append(_err_check("first step against the hand-worked value", r[0], w1, 1e-10, hint))
    out.append(_err_check("first m = (1 − β1)·g", r[1], m1, 1e-12,
                          "m ← β1·m + (1 − β1)·g, starting from m = 0."))
    out.append(_err_check("first v = (1 − β2)·g²", r[2], v1, 1e-12,
                          "v ← β2·v + (1 − β2)·g², with the square of g."))
    # Many steps against minnn's Adam, in float64.
    opt = minnn.optimizers.Adam()
    w_engine = w0.copy()
    w, m, v = w0.copy(), m0.copy(), v0.copy()
    worst, first_bad = 0.0, None
    for t, g in enumerate(grads, start=1):
        _apply(opt, g.copy(), w_engine)
        r, fail = _call(f"step {t}", adam_step, w, g.copy(), m, v, t)
        if fail:
            out.append(fail)
            return out
        w, m, v = r
        err = gradient_check.rel_error(w, w_engine)
        worst = max(worst, err)
        if err >= 1e-10 and first_bad is None:
            first_bad = t
    hint = ("agreement breaks from step {}: check that t counts from 1 and that β1^t, β2^t use "
            "this step's t.".format(first_bad) if first_bad else "")
    out.append(Check(f"{steps} steps equal minnn.optimizers.Adam", worst < 1e-10,
                     f"max rel. error {worst:.1e}", "< 1e-10", hint))
    # Other hyperparameters, passed by keyword as Keras names them.
    hp = dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-4)
    opt = minnn.optimizers.Adam(**hp)
    w_engine, w, m, v = w0.copy(), w0.copy(), m0.copy(), v0.copy()
    worst = 0.0
    for t, g in enumerate(grads[:5], start=1):
        _apply(opt, g.copy(), w_engine)
        r, fail = _call(f"step {t} with other hyperparameters", adam_step, w, g.copy(), m, v, t,
                        **hp)
        if fail:
            out.append(fail)
            return out
        w, m, v = r
        worst = max(worst, gradient_check.rel_error(w, w_engine))
    out.append(Check("5 steps with lr=0.01, β1=0.8, β2=0.99, ε=1e-4 equal minnn's Adam",
                     worst < 1e-10, f"max rel. error {worst:.1e}", "< 1e-10",
                     "use the arguments learning_rate, beta_1, beta_2 and epsilon, not the "
                     "default numbers written into the formula."))
    # Tiny gradients separate Keras's ε-hat form from PyTorch's (ε after bias correction).
    tiny = np.full(3, 1e-8)
    r, fail = _call("tiny gradients", adam_step, np.zeros(3), tiny, np.zeros(3), np.zeros(3), 1)
    if fail:
        out.append(fail)
    else:
        m1 = (1 - b1) * tiny
        keras = -lr * math.sqrt(1 - b2) / (1 - b1) * m1 / (np.sqrt((1 - b2) * tiny ** 2) + eps)
        out.append(_err_check("tiny gradients (1e-8): Keras's ε-hat form", r[0], keras, 1e-10,
                              "ε goes outside the square root and on the *uncorrected* "
                              "sqrt(v), with the corrections folded into α_t (Keras); "
                              "PyTorch's form, sqrt(v̂) + ε, gives a different step here."))
    return out


def _apply(optimizer, grad, weight):
    """One engine step: ``optimizer.apply(grads, weights)``, Keras's argument order."""
    optimizer.apply([grad], [weight])


# ---------------------------------------------------------------------------
# 6.1  One epoch of fit
# ---------------------------------------------------------------------------
def _tiny_model(seed):
    minnn.utils.set_random_seed(seed)
    inp = minnn.Input(shape=(3,))
    out = minnn.Dense(2)(minnn.Dense(4, activation="relu")(inp))
    model = minnn.Model(inp, out)
    model.compile(optimizer="adam", loss="mse")
    return model


def check_fit_epoch(fit_epoch, seed=0, n=37, batch_size=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = np.stack([x[:, 0] - x[:, 1], 2 * x[:, 2]], axis=1)  # each y row is a function of its x row
    out = []
    # What the learner's loop hands to step(): record it.
    seen = []

    def spy(xb, yb):
        seen.append((xb.copy(), yb.copy()))
        return float(len(xb))  # a loss equal to the batch size makes the weighting visible

    loss, fail = _call("runs", fit_epoch, spy, x, y, batch_size, np.random.default_rng(7))
    if fail:
        return [fail]
    sizes = [len(b[0]) for b in seen]
    want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    out.append(Check("batch sizes", sizes == want, f"{sizes}", f"{want}",
                     "ceil(N / batch_size) steps; the last, partial batch is kept "
                     f"({n} rows at {batch_size}: {n // batch_size}×{batch_size} + {n % batch_size})."))
    rows = np.concatenate([b[0] for b in seen]) if seen else np.empty((0, 3))
    perm = np.random.default_rng(7).permutation(n)
    out.append(Check("every row once, in the order rng.permutation(N) gives",
                     rows.shape == x.shape and np.array_equal(rows, x[perm]), "", "",
                     "draw perm = rng.permutation(N) once per epoch, then batch "
                     "k is x[perm][k·B:(k+1)·B]."))
    paired = all(np.array_equal(yb, np.stack([xb[:, 0] - xb[:, 1], 2 * xb[:, 2]], axis=1))
                 for xb, yb in seen)
    out.append(Check("each y row stays with its x row", paired and bool(seen), "", "",
                     "shuffle x and y with the *same* permutation."))
    weighted = sum(s * s for s in want) / n
    hint = "the epoch loss is Σ n_b·L_b / N, the batch-size-weighted mean."
    if loss is not None and np.isclose(loss, np.mean(want)):
        hint = "you took the plain mean of the batch losses: weight each by its batch size."
    # fit keeps its running total in float32, as Keras's loss tracker does, so a total kept
    # in float64 is just as right: the band is float32's round-off.
    out.append(Check("epoch loss is the batch-size-weighted mean", loss is not None
                     and np.isclose(loss, weighted, rtol=1e-6, atol=0),
                     f"{loss!r}", f"{weighted!r}", hint))
    # Against minnn's fit itself: the same generator state gives the same epoch, bit for bit.
    a, b = _tiny_model(seed), _tiny_model(seed)
    minnn.utils.set_random_seed(1000 + seed)
    hist = a.fit(x, y, batch_size=batch_size, epochs=1, verbose=0).history["loss"][0]
    loss_b, fail = _call("with train_on_batch", fit_epoch, b.train_on_batch, x, y, batch_size,
                         np.random.default_rng(1000 + seed))
    if fail:
        out.append(fail)
        return out
    close = loss_b is not None and abs(loss_b - hist) <= 1e-6 * abs(hist)
    out.append(Check("equals model.fit's logged loss (to float32 round-off)", close,
                     f"{loss_b!r}", f"{hist!r} ± 1e-6 relative", "same permutation, same "
                     "batches, the weighted mean accumulated batch by batch: total += n_b·L_b."))
    same_w = all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))
    out.append(Check("leaves the same weights as model.fit, bit for bit", same_w, "", "",
                     "every batch must be stepped on once, in order."))
    return out


CHECKS = {
    "relu_backward": check_relu_backward,
    "dense_backward": check_dense_backward,
    "mse_backward": check_mse_backward,
    "numerical_gradient": check_numerical_gradient,
    "adam_step": check_adam_step,
    "fit_epoch": check_fit_epoch,
}
