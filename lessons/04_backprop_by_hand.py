# %% [markdown]
# # Lesson 4: backpropagation by hand
#
# minnn has no autodiff: every layer's backward pass is written by hand. This lesson
# writes one too, for a network small enough to print (2 → 3 → 2, four rows, float64),
# and checks it three ways: against minnn's own ``backward``, intermediate by
# intermediate; against central differences, the way every gradient in minnn is
# tested; and by planting three classic bugs and watching the check name the weight
# that each one breaks.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``):
#
#     python lessons/04_backprop_by_hand.py            # the full lesson, a few seconds
#     python lessons/04_backprop_by_hand.py --quick    # a coarser error-vs-h sweep, for tests
#     python lessons/04_backprop_by_hand.py --out DIR  # where to save the figure

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import Dense, Input, Model, ReLU, lesson, reference
from minnn import gradient_check as gc
from minnn.datasets import two_gaussians

run = lesson.setup("04", "Lesson 4: backpropagation by hand")
F64 = "float64"  # every array in this lesson: gradient checks need float64 (shown below)

# %% [markdown]
# ## The network: 2 → Dense(3) → ReLU → Dense(2), mean squared error
#
# The ReLU is a layer of its own here, so that ``model.backward`` has an intermediate
# for each stage of the hand-written pass to be compared with.

# %%
minnn.utils.set_random_seed(run.seed)
inputs = Input(shape=(2,), name="x", dtype=F64)
dense_1 = Dense(3, name="dense_1", dtype=F64)
relu = ReLU(name="relu", dtype=F64)
dense_2 = Dense(2, name="dense_2", dtype=F64)
model = Model(inputs, dense_2(relu(dense_1(inputs))), name="net")
loss_fn = minnn.losses.MeanSquaredError()

rng = np.random.default_rng(run.seed)
x = rng.standard_normal((4, 2))
y = rng.standard_normal((4, 2))
# Biases start at 0 in Keras; small random ones make every bias gradient visible.
dense_1.bias.value[...] = rng.normal(0, 0.1, 3)
dense_2.bias.value[...] = rng.normal(0, 0.1, 2)
W1, b1 = dense_1.kernel.value, dense_1.bias.value
W2, b2 = dense_2.kernel.value, dense_2.bias.value
print(f"x {x.shape}, y {y.shape}, W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}")

# %% [markdown]
# ## The forward pass, in numbered stages
#
# Each line is one operation; every intermediate keeps a name, because the backward
# pass needs it.

# %%
z1 = x @ W1 + b1              # (1) the first Dense layer         (N, 3)
h1 = np.maximum(z1, 0)        # (2) ReLU                           (N, 3)
y_pred = h1 @ W2 + b2         # (3) the second Dense layer        (N, 2)
diff = y_pred - y             # (4) the error                      (N, 2)
L = np.mean(diff ** 2)        # (5) mean squared error over N·M entries   ()

for name, value in [("z1", z1), ("h1", h1), ("y_pred", y_pred), ("diff", diff)]:
    print(f"{name:>7} {str(value.shape):>7}  {np.round(value, 4).tolist()}")
print(f"      L      ()  {L:.6f}")
# The same numbers from minnn: its forward pass and its loss.
assert np.array_equal(model.forward(x), y_pred)
# minnn sums as Keras does (a mean per row, then over rows), so it equals np.mean to round-off.
assert abs(L - loss_fn.forward(y, y_pred)) <= 1e-15 * L
assert reference.mse(y, y_pred) == loss_fn.forward(y, y_pred)
assert min(np.abs(z1).ravel()) > 1e-3   # no ReLU input at the kink (see the gradient check)

# %% [markdown]
# ## The backward pass: one line per forward line, last stage first
#
# Each line applies the chain rule to the stage it inverts: given dL/d(output of the
# stage), it computes dL/d(each input of the stage).

# %%
d_diff = 2 * diff / diff.size        # (5) L = Σ diff² / (N·M)       (N, 2)
d_y_pred = d_diff                    # (4) diff = y_pred − y         (N, 2)
dW2 = h1.T @ d_y_pred                # (3) y_pred = h1·W2 + b2       (3, 2)
db2 = d_y_pred.sum(axis=0)           # (3)                           (2,)
d_h1 = d_y_pred @ W2.T               # (3)                           (N, 3)
d_z1 = d_h1 * (z1 > 0)               # (2) h1 = max(z1, 0)           (N, 3)
dW1 = x.T @ d_z1                     # (1) z1 = x·W1 + b1            (2, 3)
db1 = d_z1.sum(axis=0)               # (1)                           (3,)
d_x = d_z1 @ W1.T                    # (1)                           (N, 2)

# %% [markdown]
# ## Compared with minnn, intermediate by intermediate
#
# minnn's layers are called one by one, last first, each handed the gradient of its
# output (what ``model.backward`` does for you); then the whole ``model.backward`` and
# the plain reference walk ``minnn.reference.backward_walk``. "exact" means bit for bit.

# %%
def compare(name, mine, theirs):
    gap = float(np.max(np.abs(mine - theirs)))
    verdict = "exact" if np.array_equal(mine, theirs) else "close" if np.allclose(mine, theirs) else "WRONG"
    print(f"{name:<37} {str(mine.shape):>8} {gap:>12.2e}  {verdict}")
    return verdict


print(f"{'gradient':<37} {'shape':>8} {'max |diff|':>12}  verdict")
model.forward(x)
model.zero_grad()
verdicts = [
    compare("dL/dy_pred  (loss.backward)", d_y_pred, loss_fn.backward(y, y_pred)),
    compare("dL/dh1      (dense_2.backward)", d_h1, dense_2.backward(d_y_pred)),
    compare("dL/dW2      (dense_2 kernel)", dW2, dense_2.kernel.grad),
    compare("dL/db2      (dense_2 bias)", db2, dense_2.bias.grad),
    compare("dL/dz1      (relu.backward)", d_z1, relu.backward(d_h1)),
    compare("dL/dx       (dense_1.backward)", d_x, dense_1.backward(d_z1)),
    compare("dL/dW1      (dense_1 kernel)", dW1, dense_1.kernel.grad),
    compare("dL/db1      (dense_1 bias)", db1, dense_1.bias.grad),
]
model.zero_grad()
verdicts.append(compare("dL/dx       (model.backward)", d_x, model.backward(d_y_pred)))
model.forward(x)
model.zero_grad()
verdicts.append(compare("dL/dx       (reference.backward_walk)", d_x, reference.backward_walk(model, d_y_pred)))
assert verdicts == ["exact"] * len(verdicts), verdicts

# %% [markdown]
# The reference that the engine is tested equal to, bit for bit, is the same arithmetic:

# %%
print(inspect.getsource(reference.dense_backward))

# %% [markdown]
# ## Why the transpose
#
# y_pred[n, j] = Σᵢ h1[n, i]·W2[i, j] + b2[j]. A weight W2[i, j] touches every row n,
# each time multiplied by h1[n, i], so ∂L/∂W2[i, j] = Σₙ h1[n, i]·dy[n, j]: that sum over
# n is exactly the matrix product h1ᵀ·dy. The shapes say the same: (3, N)·(N, 2) is the
# only product of h1 and dy with W2's shape (3, 2). Likewise dL/dh1 = dy·W2ᵀ, (N, 2)·(2, 3).

# %%
by_the_sum = np.array([[sum(h1[n, i] * d_y_pred[n, j] for n in range(len(x)))
                        for j in range(2)] for i in range(3)])
print(f"Σₙ h1[n, i]·dy[n, j], entry by entry, against h1ᵀ·dy: max difference "
      f"{np.max(np.abs(by_the_sum - dW2)):.1e}")
assert np.allclose(by_the_sum, dW2, rtol=1e-14, atol=1e-16)

# %% [markdown]
# ## Why the bias gradient sums over the batch
#
# The same b2 is added to every row, so a change of b2 moves every row's output, and
# its gradient collects all of them: Σₙ dy[n]. Averaging instead (a common bug) makes
# it N times too small. Central differences decide which is right.

# %%
def loss_of_b2(b):
    return reference.mse(y, np.maximum(x @ W1 + b1, 0) @ W2 + b)


numeric_db2 = reference.numerical_gradient(loss_of_b2, b2.copy())
print(f"numerical dL/db2     {np.round(numeric_db2, 6)}")
print(f"summed over the batch {np.round(db2, 6)}   (relative error {gc.rel_error(db2, numeric_db2):.1e})")
print(f"averaged instead      {np.round(d_y_pred.mean(axis=0), 6)}   "
      f"(relative error {gc.rel_error(d_y_pred.mean(axis=0), numeric_db2):.1e})")
assert gc.rel_error(db2, numeric_db2) < 1e-7 < 1e-2 < gc.rel_error(d_y_pred.mean(axis=0), numeric_db2)

# %% [markdown]
# ## Why gradients are added, and why they are zeroed before each step
#
# A layer used twice, y = d(d(x)), changes the loss through both uses, so its gradient
# is the sum of the two contributions. minnn's layers therefore *add* into ``w.grad``
# (``+=``), and the model's backward pass visits the layer once per use. The price: a
# second backward pass without ``zero_grad()`` adds the same gradient again, and the
# step would be twice as long. That is why every training step zeroes first.

# %%
twice_in = Input(shape=(2,), dtype=F64)
shared = Dense(2, name="shared", dtype=F64)
twice = Model(twice_in, shared(shared(twice_in)), name="twice")
w0 = shared.kernel.value
u = x @ w0 + shared.bias.value           # the first use's output, the second use's input
first_use = x.T @ (d_y_pred @ w0.T)       # dL/dW through the first use
second_use = u.T @ d_y_pred               # dL/dW through the second use
twice.forward(x)
twice.zero_grad()
twice.backward(d_y_pred)
print(f"shared kernel: grad from use 1 + use 2 vs model.backward: max difference "
      f"{np.max(np.abs(first_use + second_use - shared.kernel.grad)):.1e}")
assert np.allclose(first_use + second_use, shared.kernel.grad, rtol=1e-13, atol=1e-15)
one_pass = shared.kernel.grad.copy()
twice.backward(d_y_pred)                  # again, without zero_grad
print(f"a second backward without zero_grad: grad / first grad = "
      f"{np.round(shared.kernel.grad / one_pass, 12).ravel().tolist()}")
assert np.allclose(shared.kernel.grad, 2 * one_pass, rtol=1e-15, atol=0)
twice.zero_grad()

# %% [markdown]
# ## Gradient checking, and why float64 and central differences
#
# A numerical derivative has two errors. Truncation: the Taylor series cut short, of order
# h for a forward difference (f(w + h) − f(w)) / h and of order h² for a central one
# (f(w + h) − f(w − h)) / 2h, which wants a small h. Round-off: f itself is off by about
# ε·|f| (ε = 1.1e-16 in float64, 6e-8 in float32), and dividing by h magnifies that, which
# wants a large h. The figure sweeps h for dL/dW1, checked against the hand-written dW1
# with minnn's relative error max |a − n| / (max |a| + max |n|).
#
# This network is linear in W1 between ReLU kinks, so its loss is a parabola in each
# weight, and a central difference of a parabola has no truncation error at all: the
# central curves fall with h until h is large enough to push some z1 across 0 (the
# smallest |z1| here is 0.027), where they jump. A forward difference still has the
# parabola's O(h) error. float32's round-off is so large that no h gets it near "good".

# %%
def loss_of_W1(W, dtype):
    """L as a function of W1, computed entirely in ``dtype``."""
    xs, W, b, V, c, t = (np.asarray(a, dtype) for a in (x, W, b1, W2, b2, y))
    return float(np.mean((np.maximum(xs @ W + b, 0) @ V + c - t) ** 2))


def numeric_dW1(h, dtype, central):
    grad = np.zeros(W1.shape)
    for i in np.ndindex(W1.shape):
        e = np.zeros(W1.shape)
        e[i] = h
        plus = loss_of_W1(W1 + e, dtype)
        other = loss_of_W1(W1 - e, dtype) if central else loss_of_W1(W1, dtype)
        grad[i] = (plus - other) / (2 * h if central else h)
    return grad


hs = np.logspace(-12, -1, 12 if run.quick else 45)
curves = {(dtype, central): [gc.rel_error(dW1, numeric_dW1(h, dtype, central)) for h in hs]
          for dtype in ("float64", "float32") for central in (True, False)}
best = {key: (min(errs), hs[int(np.argmin(errs))]) for key, errs in curves.items()}
print(f"smallest |z1|: {np.min(np.abs(z1)):.3f}, so a step h of that order can push a z1 across 0")
if run.seed == 0:
    assert round(float(np.min(np.abs(z1))), 3) == 0.027   # the number the text above quotes
print(f"{'differences':<22} {'best relative error':>20} {'at h':>8}")
for (dtype, central), (err, h) in best.items():
    print(f"{dtype + (' central' if central else ' forward'):<22} {err:>20.1e} {h:>8.0e}")
# minnn's checker uses exactly this: float64, central differences.
assert reference.numerical_gradient(lambda W: loss_of_W1(W, "float64"), W1.copy()).shape == W1.shape
(c64, _), (f64, _), (c32, _), (f32, _) = (best[("float64", True)], best[("float64", False)],
                                          best[("float32", True)], best[("float32", False)])
assert c64 < 1e-8 and c64 < f64 / 100   # float64 central differences are far the best ...
assert min(c32, f32) > 1e-7             # ... and float32 never reaches "good", whatever the h

fig, ax = plt.subplots(figsize=(7, 4.5))
for (dtype, central), errs in curves.items():
    ax.loglog(hs, errs, "o-" if dtype == "float64" else "s--", markersize=3,
              label=f"{dtype}, {'central' if central else 'forward'}")
ax.axhline(1e-7, color="gray", linestyle=":", label="'good' below 1e-7")
ax.set_xlabel("step h")
ax.set_ylabel("relative error against the hand backward")
ax.set_title("Numerical gradient error against h: round-off (left), truncation and kinks (right)", fontsize=10)
ax.legend(fontsize=8)
fig.tight_layout()
error_png = run.save(fig, "gradient_error_vs_h.png")

# %% [markdown]
# ## ``minnn.gradient_check.report`` on the tutorial's autoencoder
#
# The same check on a real model: the tutorial's 1003-parameter autoencoder in
# float64, eight rows of its data, a random upstream gradient. Every gradient, dx
# and each weight's, gets one row with its relative error and verdict.

# %%
def tutorial_autoencoder():
    """The tutorial's autoencoder (lesson 1), in float64."""
    return two_gaussians.tutorial_autoencoder(dtype=F64)


minnn.utils.set_random_seed(run.seed)
ae = tutorial_autoencoder()
rows = two_gaussians.load_data(seed=run.seed, dtype=F64)[0][:8]
ae_errors = gc.check_layer(ae, rows, np.random.default_rng(run.seed))
print(gc.report(ae_errors, gc.near_kink(ae, rows)))
assert all(gc.verdict(e) == "good" for e in ae_errors.values())

# %% [markdown]
# ### The ReLU kink
#
# ReLU has no derivative at 0. If a unit's input z sits within h of 0, the two points
# of a central difference straddle the kink and measure a slope between 0 and 1, while
# the backward pass uses 0 or 1: the check fails although the code is right. Here one
# first-layer bias is moved so that unit 0 receives z = 1e-7 on row 0 (h is 1e-6).
# ``near_kink`` finds it and the report warns. The rows that fail are that layer's weights
# and dx, which reaches the loss through it; every later layer stays good. The cure is
# other inputs, not other code.

# %%
first = ae.get_layer("encoder").layers[1]
saved = first.bias.value.copy()
first.bias.value[0] = 1e-7 - rows[0] @ first.kernel.value[:, 0]
kinks = gc.near_kink(ae, rows)
kink_errors = gc.check_layer(ae, rows, np.random.default_rng(run.seed))
print(gc.report(kink_errors, kinks))
first.bias.value[...] = saved
worst = max(kink_errors, key=kink_errors.get)
assert kinks == {first.name: 1} and gc.verdict(kink_errors[worst]) != "good"
print(f"\nworst row: {worst}, {kink_errors[worst]:.1e}; with the bias restored, the rows are the "
      "first report's, all good.")

# %% [markdown]
# ## Three planted bugs, each found on its own row
#
# A gradient check does more than say "something is wrong": each weight gets its own
# row, so the row that fails names the weight to look at. Three classic bugs are
# planted one at a time in a copy of minnn's Dense backward (a wrapper that corrupts
# what the correct pass adds to one weight's gradient), on a network that has a
# square kernel and a layer used twice:
#
# - **bias-mean**: the bias gradient averaged over the batch instead of summed;
# - **transpose**: dW = dyᵀ·x instead of xᵀ·dy, a transpose in the wrong place that the
#   shapes cannot catch on a square kernel;
# - **overwrite**: dW = … instead of dW += … on the layer used twice, so one use's
#   contribution is lost.

# %%
minnn.utils.set_random_seed(run.seed + 1)
bug_in = Input(shape=(3,), name="x3", dtype=F64)
layer_a = Dense(4, activation="relu", name="a", dtype=F64)
layer_square = Dense(4, activation="relu", name="square", dtype=F64)
layer_twice = Dense(4, activation="tanh", name="twice", dtype=F64)
layer_out = Dense(2, name="out", dtype=F64)
bug_net = Model(bug_in, layer_out(layer_twice(layer_twice(layer_square(layer_a(bug_in))))), name="bugs")
bug_x = np.random.default_rng(run.seed + 1).standard_normal((6, 3))
assert gc.near_kink(bug_net, bug_x) == {}


def plant(layer, weight, corrupt):
    """Make ``layer.backward`` pass ``corrupt(added, before)`` into ``weight.grad`` instead of
    ``before + added``, where ``added`` is what the correct backward adds."""
    original = layer.backward

    def buggy(dy, *args, **kwargs):
        before = weight.grad.copy()
        dx = original(dy, *args, **kwargs)
        weight.grad[...] = corrupt(weight.grad - before, before)
        return dx

    layer.backward = buggy


BUGS = {
    "bias-mean": (layer_a, layer_a.bias, lambda added, before: before + added / len(bug_x)),
    "transpose": (layer_square, layer_square.kernel, lambda added, before: before + added.T),
    "overwrite": (layer_twice, layer_twice.kernel, lambda added, before: added),
}
bands = "  ".join(f"{word} < {bound:.0e}" for bound, word in gc.BANDS) + "  wrong otherwise"
print(f"bands: {bands}\n")
for bug, (layer, weight, corrupt) in BUGS.items():
    plant(layer, weight, corrupt)
    errors = gc.check_layer(bug_net, bug_x, np.random.default_rng(run.seed))
    del layer.backward                    # the class's correct backward again
    print(f"planted: {bug} in {weight.name}")
    print(f"  {'gradient':<16} {'rel. error':>10}  {'verdict':<10} expected")
    for name, err in errors.items():
        flag = "   <- the planted bug" if name == weight.name else ""
        print(f"  {name:<16} {err:>10.1e}  {gc.verdict(err):<10} < 1e-07 (good){flag}")
    flagged = [name for name, err in errors.items() if gc.verdict(err) != "good"]
    assert flagged == [weight.name], (bug, flagged)
    assert gc.verdict(errors[weight.name]) == "wrong"
print("each bug was flagged on exactly its own weight's row, and every other row stayed good")

# %% [markdown]
# ## What you can do now
#
# Write these yourself; the grader checks them against central differences and
# minnn's engine, then on inputs you have not seen:
#
#     python lessons/exercises/grade.py start 4.1     # relu_backward(dy, x)
#     python lessons/exercises/grade.py start 4.2     # dense_backward(dy, x, kernel)
#     python lessons/exercises/grade.py start 4.3     # mse_backward(y_true, y_pred)
#     python lessons/exercises/grade.py start 4.4     # numerical_gradient(f, x, h)
#     python lessons/exercises/grade.py check 4.2     # grade one
#
# Next: lesson 5, what the optimiser does with these gradients (Adam).

# %%
print(f"\nfigure saved in {run.out}: {error_png.name}")
print("exercises: 4.1 relu_backward, 4.2 dense_backward, 4.3 mse_backward, 4.4 numerical_gradient; "
      "start one with `python lessons/exercises/grade.py start 4.2` (see lessons/exercises/README.md)")
