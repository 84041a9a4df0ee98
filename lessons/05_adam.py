# %% [markdown]
# # Lesson 5: Adam, line by line
#
# Lesson 4 computed the gradients; this lesson follows what the optimiser does with
# them. Plain SGD steps against the gradient; momentum keeps a running velocity; Adam
# divides a running mean of the gradients by a running root-mean-square of them, so
# that every weight moves about ``learning_rate`` per step, whatever its gradient's
# scale. Three lines of NumPy, then the details that make implementations disagree:
# the bias correction, where ε goes (Keras's form against PyTorch's), and the classic
# bugs.
#
# Run it as a script from anywhere, or open it as a notebook and run it cell by cell
# (``MINNN_LESSON_QUICK=1`` for the quick mode in a kernel; see ``minnn.lesson``):
#
#     python lessons/05_adam.py            # the full lesson, a few seconds
#     python lessons/05_adam.py --quick    # the tutorial model trained for fewer epochs
#     python lessons/05_adam.py --out DIR  # where to save the figures

# %%
import inspect
import math

import matplotlib.pyplot as plt
import numpy as np

import minnn
from minnn import lesson, reference
from minnn.datasets import two_gaussians
from minnn.optimizers import SGD, Adam, Optimizer

run = lesson.setup("05", "Lesson 5: Adam, line by line")

# %% [markdown]
# ## Three optimisers on a 2-D loss surface
#
# The loss is a long, narrow, tilted valley: f(w) = ½ wᵀ·A·w, with curvatures 1 and 20
# along axes turned by 30°, minimum at (0, 0). Each optimiser gets the exact gradient
# A·w at every step and updates the point through minnn's own ``apply(grads, weights)``.
#
# What to look for in the figure: SGD's rate is capped by the steep direction (beyond
# 2/20 it diverges), so it zigzags across the valley and crawls along it; momentum
# builds up speed along the valley and overshoots; Adam's first steps go diagonally,
# ±lr in each coordinate, ignoring how steep each direction is.

# %%
angle = np.radians(30)
R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
A = R @ np.diag([1.0, 20.0]) @ R.T


def surface(w):
    return 0.5 * w @ A @ w


def path(optimizer, start=(-4.0, 3.0), steps=60):
    w = np.array(start)
    points = [w.copy()]
    for _ in range(steps):
        optimizer.apply([A @ w], [w])      # Keras's order: gradients first, then the weights
        points.append(w.copy())
    return np.array(points)


paths = {
    "SGD, lr 0.09": path(SGD(learning_rate=0.09)),
    "SGD + momentum 0.9, lr 0.02": path(SGD(learning_rate=0.02, momentum=0.9)),
    "Adam, lr 0.3": path(Adam(learning_rate=0.3)),
}
for name, p in paths.items():
    print(f"{name:<28} loss after 0, 10, 30, 60 steps: "
          + ", ".join(f"{surface(p[i]):.2e}" for i in (0, 10, 30, 60)))
first_adam_step = paths["Adam, lr 0.3"][1] - paths["Adam, lr 0.3"][0]
print(f"Adam's first step: {np.round(first_adam_step, 6)}; the gradient there was "
      f"{np.round(A @ paths['Adam, lr 0.3'][0], 3)}")
# Adam's first step moves every coordinate by learning_rate against its gradient's sign
# (up to ε), whatever the gradient's size: m/√v = g/|g| at t = 1.
assert np.allclose(np.abs(first_adam_step), 0.3, rtol=1e-6)
# All three find the valley floor: each divides the loss by more than 100 in 60 steps.
assert all(surface(p[-1]) < surface(p[0]) / 100 for p in paths.values())

# %%
grid = np.linspace(-5, 5, 201)
W0, W1 = np.meshgrid(grid, np.linspace(-4, 4, 161))
F = 0.5 * (A[0, 0] * W0 ** 2 + 2 * A[0, 1] * W0 * W1 + A[1, 1] * W1 ** 2)
fig, ax = plt.subplots(figsize=(7, 5.5))
ax.contour(W0, W1, F, levels=np.geomspace(0.05, 200, 14), colors="lightgray", linewidths=0.8)
for (name, p), color in zip(paths.items(), ["tab:blue", "tab:orange", "tab:green"]):
    ax.plot(p[:, 0], p[:, 1], "o-", markersize=2.5, linewidth=1, color=color, label=name)
ax.plot([0], [0], "k*", markersize=10, label="minimum")
ax.set_aspect("equal")
ax.set_xlabel("w₀")
ax.set_ylabel("w₁")
ax.set_title("60 steps on f(w) = ½ wᵀAw, curvatures 1 and 20")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
paths_png = run.save(fig, "paths.png")

# %% [markdown]
# ## Adam in three lines, equal to ``minnn.optimizers.Adam`` bit for bit
#
# With t = 1 on the first step, for each weight w with gradient g:
#
#     m = m + (g − m)·(1 − β1)           # = β1·m + (1 − β1)·g, the mean of recent gradients
#     v = v + (g² − v)·(1 − β2)          # = β2·v + (1 − β2)·g², the mean of their squares
#     w = w − lr·√(1 − β2ᵗ)/(1 − β1ᵗ) · m/(√v + ε)
#
# The first two lines are the textbook ones rearranged: equal on paper, and written the
# way Keras (and minnn) write them, so that in float32 they also round the same way.
# Below, the three lines and minnn's Adam take 1000 steps on the same random gradients.

# %%
def adam_by_hand(w, grads, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + eps)
    return w


steps = 1000
grad_rng = np.random.default_rng(run.seed)
w_start = grad_rng.standard_normal(50).astype(np.float32)
grads = [grad_rng.standard_normal(50).astype(np.float32) * 10.0 ** grad_rng.uniform(-4, 0)
         for _ in range(steps)]
w_hand = adam_by_hand(w_start, grads)
w_minnn = w_start.copy()
adam = Adam()
for g in grads:
    adam.apply([g], [w_minnn])
print(f"after {steps} steps: by hand vs minnn.optimizers.Adam, float32: bit-identical "
      f"{np.array_equal(w_hand, w_minnn)}, max difference {np.max(np.abs(w_hand - w_minnn)):.1e}")
assert np.array_equal(w_hand, w_minnn) and adam.iterations == steps


def adam_textbook(w, grads, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        w = w - lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + eps)
    return w


w_textbook = adam_textbook(w_start, grads)
gap = np.max(np.abs(w_textbook - w_minnn))
print(f"the textbook's β1·m + (1 − β1)·g instead: max difference {gap:.1e}, float32 round-off "
      f"(one unit in the last place of 1 is {np.finfo(np.float32).eps:.1e})")
assert 0 < gap < 1e-4
print("\nminnn.reference.adam_step, which the engine's Adam is tested equal to:\n")
print(inspect.getsource(reference.adam_step))

# %% [markdown]
# ## Bias correction
#
# m and v start at 0, so in the first steps they are averages of the gradients *and of
# the zeros they started from*: with a constant gradient g, m_t = (1 − β1ᵗ)·g and
# v_t = (1 − β2ᵗ)·g², far too small. Dividing by (1 − β1ᵗ) and (1 − β2ᵗ) undoes exactly
# that. Without it the first step is lr·(1 − β1)/√(1 − β2) = 3.16·lr; m then fills up
# faster than v, the step grows to about 6.5·lr near step 10, and it comes back to lr only
# after thousands of steps, as β2ᵗ dies away.

# %%
g = 0.01
print(f"constant gradient g = {g}; learning rate lr = 0.001")
print(f"{'t':>5} {'m':>10} {'v':>10} {'m / (1−β1ᵗ)':>12} {'v / (1−β2ᵗ)':>12} "
      f"{'step / lr':>10} {'uncorrected':>12}")
m = v = 0.0
uncorrected_steps, corrected_steps = [], []
for t in range(1, 2001):
    m = m + (g - m) * (1 - 0.9)
    v = v + (g * g - v) * (1 - 0.999)
    corrected = math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (math.sqrt(v) + 1e-7)
    uncorrected = m / (math.sqrt(v) + 1e-7)
    corrected_steps.append(corrected)
    uncorrected_steps.append(uncorrected)
    if t in (1, 2, 3, 5, 10, 100, 1000, 2000):
        print(f"{t:>5} {m:>10.2e} {v:>10.2e} {m / (1 - 0.9 ** t):>12.2e} {v / (1 - 0.999 ** t):>12.2e} "
              f"{corrected:>10.4f} {uncorrected:>12.4f}")
# With the correction every step is lr (up to ε); without it, 3.16·lr first, about 6.5·lr
# near step 10, and still 7 % too long after 2000 steps.
assert all(abs(s - 1) < 1e-3 for s in corrected_steps)
assert abs(uncorrected_steps[0] - 0.1 / math.sqrt(0.001)) < 2e-3
assert 6 < max(uncorrected_steps[:100]) < 7 and 1.05 < uncorrected_steps[-1] < 1.1

# %% [markdown]
# ## Where ε goes: Keras's form against PyTorch's
#
# PyTorch (and Algorithm 1 of the Adam paper) adds ε to the bias-corrected √v̂:
#
#     step = lr · m̂ / (√v̂ + ε),   m̂ = m/(1 − β1ᵗ),  v̂ = v/(1 − β2ᵗ)
#
# Keras (the paper's "ε-hat" variant, and minnn) folds the corrections into the rate and
# adds ε to the *uncorrected* √v. For a constant gradient g both give lr·g/(|g| + ε'),
# with ε' = ε for PyTorch and ε' = ε/√(1 − β2ᵗ) for Keras: 31.6·ε on the first step, and
# still 3.2·ε after 100 steps. Where |g| is far above ε' nothing differs; where gradients
# are tiny, the same ε damps Keras's steps much more. The figure measures the steps.

# %%
def torch_step(g, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """The step after t steps of a constant gradient g, PyTorch's formula."""
    m = v = 0.0
    for _ in range(t):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
    return lr * (m / (1 - beta_1 ** t)) / (np.sqrt(v / (1 - beta_2 ** t)) + eps)


def keras_step(g, t, lr=0.001, eps=1e-7):
    """The t-th step of minnn's Adam (Keras's form) under a constant gradient g."""
    w, opt = np.zeros_like(g), Adam(learning_rate=lr, epsilon=eps)
    for _ in range(t):
        before = w.copy()
        opt.apply([g], [w])
    return before - w


g_sizes = np.logspace(-10, 0, 41)
curves = {f"Keras form, step {t}": keras_step(g_sizes, t) / 0.001 for t in (1, 10, 100)}
curves["PyTorch form, any step"] = torch_step(g_sizes, 1) / 0.001
for name, ratio in curves.items():
    at = {gs: ratio[np.argmin(np.abs(g_sizes - gs))] for gs in (1e-8, 1e-6, 1e-4)}
    print(f"{name:<24} step / lr at |g| = 1e-8, 1e-6, 1e-4: "
          + ", ".join(f"{v:.3f}" for v in at.values()))
i6 = np.argmin(np.abs(g_sizes - 1e-6))
# The closed forms above, measured: lr·g/(g + ε/√(1 − β2)) and lr·g/(g + ε) at g = 1e-6.
assert abs(curves["Keras form, step 1"][i6] - 1e-6 / (1e-6 + 1e-7 / math.sqrt(0.001))) < 1e-6
assert abs(curves["PyTorch form, any step"][i6] - 1e-6 / (1e-6 + 1e-7)) < 1e-6
eps_100 = 1e-7 / math.sqrt(1 - 0.999 ** 100)          # Keras's ε' after 100 steps: 3.2·ε
assert abs(curves["Keras form, step 100"][i6] - 1e-6 / (1e-6 + eps_100)) < 1e-6 and round(eps_100 / 1e-7, 1) == 3.2
assert np.allclose(torch_step(g_sizes, 10), torch_step(g_sizes, 1), rtol=1e-9)

# %% [markdown]
# ### On the tutorial's model, trained both ways
#
# The same autoencoder, the same seed, the same batches: once with minnn's Adam, once
# with an Adam that uses PyTorch's formula (an ``Optimizer`` subclass, below). First
# their very first step, weight by weight, against the weight's gradient; then the
# losses over training.

# %%
class TorchFormAdam(Optimizer):
    """Adam with PyTorch's formula: ε added to the bias-corrected √v̂."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.m = self.v = None

    def _update(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        t = self.iterations + 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += (g - m) * (1 - self.beta_1)
            v += (g * g - v) * (1 - self.beta_2)
            m_hat, v_hat = m / (1 - self.beta_1 ** t), v / (1 - self.beta_2 ** t)
            p -= self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


def tutorial_autoencoder():
    """The tutorial's autoencoder (lesson 1): 2 → 20 → 20 → 1 → 20 → 20 → 2, ReLU inside."""
    return two_gaussians.tutorial_autoencoder()


data = two_gaussians.load_data(seed=run.seed)[0]
batch = data[:128]
epochs = 40 if run.quick else 200
trained = {}
for name, make in [("Keras form (minnn's Adam)", Adam), ("PyTorch form", TorchFormAdam)]:
    minnn.utils.set_random_seed(run.seed)        # the same initial weights for both
    model = tutorial_autoencoder()
    model.compile(optimizer=make(), loss="mse")
    before = model.get_weights()
    model.train_on_batch(batch, batch)
    first_step = np.concatenate([(a - b).ravel() for a, b in zip(before, model.get_weights())])
    minnn.utils.set_random_seed(run.seed)        # again: the same weights and the same shuffles
    model = tutorial_autoencoder()
    model.compile(optimizer=make(), loss="mse")
    history = model.fit(data, data, epochs=epochs, batch_size=128, verbose=0).history["loss"]
    trained[name] = {"model": model, "first_step": first_step, "history": history}

# The gradient of that first step, weight by weight (the same for both: same weights, same batch).
minnn.utils.set_random_seed(run.seed)
probe = tutorial_autoencoder()
y_pred = probe.forward(batch)
probe.zero_grad()
probe.backward(minnn.losses.MeanSquaredError().backward(batch, y_pred))
first_grad = np.concatenate([w.grad.ravel() for w in probe.weights])
keras_first, torch_first = (trained[k]["first_step"] for k in trained)
moving = np.abs(first_grad) > 0
ratio = np.abs(keras_first[moving]) / np.abs(torch_first[moving])
print(f"first step on the tutorial model: {moving.sum()} weights have a gradient; Keras's form "
      f"moves {np.sum(ratio < 0.99)} of them more than 1 % less than PyTorch's")
print(f"Keras-form step / PyTorch-form step: median {np.median(ratio):.4f}, "
      f"smallest {ratio.min():.3f} (at |g| = {np.abs(first_grad[moving][np.argmin(ratio)]):.1e})")
for name, rec in trained.items():
    h = rec["history"]
    print(f"{name:<26} loss after epoch 1, {epochs // 2}, {epochs}: {h[0]:.5f}, {h[epochs // 2 - 1]:.5f}, {h[-1]:.5f}")
hk, ht = (np.array(trained[k]["history"]) for k in trained)
print(f"largest relative difference between the two loss histories: {np.max(np.abs(hk - ht) / ht):.1e}")
# Keras's form never steps further than PyTorch's, and it damps the smallest gradients most.
assert np.all(ratio <= 1 + 1e-4) and ratio.min() < np.median(ratio)
assert not np.array_equal(hk, ht)

fig, ax = plt.subplots(figsize=(7, 4.5))
for (name, ratio_curve), style in zip(curves.items(), ["-", "--", ":", "-"]):
    ax.semilogx(g_sizes, ratio_curve, style, color="black" if "PyTorch" in name else None, label=name)
ax.semilogx(np.abs(first_grad[moving]), np.abs(keras_first[moving]) / 0.001, ".", markersize=3,
            alpha=0.5, color="tab:red", label="tutorial model, first step, Keras form")
ax.axvline(1e-7, color="gray", linestyle=":", label="ε = 1e-7")
ax.set_xlabel("gradient size |g| (constant gradient)")
ax.set_ylabel("step size / learning rate")
ax.set_title("Adam's step against the gradient's size: where ε matters")
ax.legend(fontsize=8)
fig.tight_layout()
eps_png = run.save(fig, "step_vs_gradient.png")

# %% [markdown]
# ## The classic Adam bugs, and what each does to the first steps
#
# A constant gradient g = 1e-4, learning rate 0.001; the table gives the first steps in
# units of the learning rate. The correct Adam moves about 1 (slightly less: ε'). Each
# row changes one thing:
#
# - **t starts at 0**: the first step divides by 1 − β1⁰ = 0, so the weight becomes NaN;
# - **t starts at 2** (incremented before the first step as well as after): the first
#   steps are too short;
# - **ε inside the root**, √(v + ε): ε = 1e-7 acts like √ε = 3.2e-4, larger than
#   the gradient itself, and every step shrinks;
# - **no bias correction**: about 3 times too long at first (3.16 without ε), as above.

# %%
def adam_steps(g, steps, t0=1, bias_correction=True, eps_inside=False, lr=0.001, eps=1e-7):
    m = v = 0.0
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in range(t0, t0 + steps):
            m = m + (g - m) * (1 - 0.9)
            v = v + (g * g - v) * (1 - 0.999)
            rate = np.float64(lr)
            if bias_correction:
                rate = rate * np.sqrt(1 - 0.999 ** t) / np.float64(1 - 0.9 ** t)
            out.append(rate * m / (np.sqrt(v + eps) if eps_inside else np.sqrt(v) + eps) / lr)
    return out


bugs = {
    "correct (Keras form)": adam_steps(1e-4, 5),
    "t starts at 0": adam_steps(1e-4, 5, t0=0),
    "t starts at 2": adam_steps(1e-4, 5, t0=2),
    "ε inside the root": adam_steps(1e-4, 5, eps_inside=True),
    "no bias correction": adam_steps(1e-4, 5, bias_correction=False),
}
print(f"{'':<22}" + "".join(f"{'step ' + str(i):>9}" for i in range(1, 6)))
for name, s in bugs.items():
    print(f"{name:<22}" + "".join(f"{x:>9.3f}" for x in s))
assert abs(bugs["correct (Keras form)"][0] - 1e-4 / (1e-4 + 1e-7 / math.sqrt(0.001))) < 1e-9
assert math.isnan(bugs["t starts at 0"][0])
assert bugs["t starts at 2"][0] < 0.8 * bugs["correct (Keras form)"][0]
assert bugs["ε inside the root"][0] < 0.1 * bugs["correct (Keras form)"][0]
assert bugs["no bias correction"][0] > 3 * bugs["correct (Keras form)"][0]
# minnn's Adam takes the correct row's first step.
w_check = np.zeros(1)
Adam().apply([np.array([1e-4])], [w_check])
assert abs(-w_check[0] / 0.001 - bugs["correct (Keras form)"][0]) < 1e-9

# %% [markdown]
# ## What you can do now
#
# Write Adam's step yourself; the grader checks it against values worked out by hand
# (Adam's first step) and against minnn's engine over many steps:
#
#     python lessons/exercises/grade.py start 5.1     # adam_step(w, g, m, v, t, ...)
#     python lessons/exercises/grade.py check 5.1
#
# Next: lesson 6, how ``fit`` calls the optimiser, batch by batch.

# %%
print(f"\nfigures saved in {run.out}: {paths_png.name}, {eps_png.name}")
print("exercise: 5.1 adam_step; start it with `python lessons/exercises/grade.py start 5.1` "
      "(see lessons/exercises/README.md)")
