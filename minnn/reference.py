"""The arithmetic of training, written plainly: read this first.

Each function is the textbook version of one mechanism, one line per formula,
with no checks, no caches and no speed tricks. The engine (layers.py,
losses.py, optimizers.py, models.py, training.py) computes exactly the same
numbers with the machinery a real library needs; tests/test_reference.py
proves each pair equal with ``np.array_equal``, bit for bit, so you can read
the version here and trust the fast one.

Shapes: N batch rows, D input features, M output features.

- relu_forward / relu_backward                 ReLU and its derivative
- dense_forward / dense_backward               a Dense layer (no activation)
- mse / mse_backward                           the mean squared error and dL/dŷ
- numerical_gradient                           central differences, to check any of the above
- adam_step / sgd_step                         one optimiser step on one weight array
- epoch_batches / fit_epoch                    what ``fit`` does in one epoch
- backward_walk                                a model's backward pass over its graph
"""
import math

import numpy as np


# -- layers --------------------------------------------------------------------------
def relu_forward(x):
    """y = max(x, 0).   x: (N, D) -> y: (N, D)."""
    return np.maximum(x, 0)


def relu_backward(dy, x):
    """dx = dy ⊙ [x > 0] (0 at the kink).   dy: (N, D), x: (N, D) the forward input -> dx: (N, D)."""
    return dy * (x > 0)


def dense_forward(x, kernel, bias):
    """y = x·W + b.   x: (N, D), kernel W: (D, M), bias b: (M,) -> y: (N, M)."""
    return x @ kernel + bias


def dense_backward(dy, x, kernel):
    """dx = dy·Wᵀ;  dW = xᵀ·dy;  db = Σₙ dy.   dy: (N, M), x: (N, D), W: (D, M) -> dx: (N, D), dW: (D, M), db: (M,).

    Why the transposes: y[n, j] = Σᵢ x[n, i]·W[i, j], so ∂L/∂W[i, j] = Σₙ x[n, i]·dy[n, j]
    (that is xᵀ·dy) and ∂L/∂x[n, i] = Σⱼ dy[n, j]·W[i, j] (that is dy·Wᵀ). Why the sum:
    the same b is added to every row, so its gradient collects every row's.
    """
    dx = dy @ kernel.T
    dkernel = x.T @ dy
    dbias = dy.sum(axis=0)
    return dx, dkernel, dbias


# -- the loss ------------------------------------------------------------------------
def mse(y_true, y_pred):
    """L = (1/N) Σₙ (1/M) Σⱼ (ŷ − y)², as Keras reduces it.   y_true, y_pred: (N, M) -> float."""
    return float(np.mean(np.mean((y_pred - y_true) ** 2, axis=-1)))


def mse_backward(y_true, y_pred):
    """dL/dŷ = (ŷ − y) · 2/(N·M).   y_true, y_pred: (N, M) -> (N, M)."""
    return (y_pred - y_true) * (2.0 / y_pred.size)


# -- checking a gradient -------------------------------------------------------------
def numerical_gradient(f, x, h=1e-5):
    """∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h for every entry i.   f: array of x's shape -> float; x: any shape -> same shape.

    x is not changed: each f call gets a new array. Use float64 (in float32 the
    round-off of f, divided by 2h, swamps the result).
    """
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


# -- optimisers ----------------------------------------------------------------------
def adam_step(w, g, m, v, t, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """One Adam step, Keras's form; t = 1 on the first step.   w, g, m, v: one shape -> (w, m, v), same shape.

    m ← m + (g − m)(1 − β1)   which is β1·m + (1 − β1)·g, the mean of recent gradients;
    v ← v + (g² − v)(1 − β2)  which is β2·v + (1 − β2)·g², the mean of their squares;
    w ← w − lr·sqrt(1 − β2ᵗ)/(1 − β1ᵗ) · m / (sqrt(v) + ε): the bias corrections
    (m and v start at 0, so early on they are too small) folded into the step size,
    and ε added to the uncorrected sqrt(v) ("epsilon hat").
    """
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    w = w - learning_rate * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + epsilon)
    return w, m, v


def sgd_step(w, g, velocity, learning_rate=0.01, momentum=0.0):
    """One SGD step, Keras's form.   w, g, velocity: one shape -> (w, velocity), same shape.

    velocity ← momentum·velocity − lr·g;   w ← w + velocity.
    With momentum = 0 this is w ← w − lr·g (start velocity at zeros).
    """
    velocity = momentum * velocity - learning_rate * g
    w = w + velocity
    return w, velocity


# -- fit -----------------------------------------------------------------------------
def epoch_batches(x, y, batch_size, perm):
    """The epoch's batches: rows in the order ``perm``, cut every batch_size rows, the last batch partial.

    x: (N, D), y: (N, M), perm: a permutation of range(N) (np.arange(N) for
    shuffle=False) -> list of (xb, yb) with xb: (B, D), yb: (B, M), B = batch_size
    except the last, N − batch_size·(ceil(N / batch_size) − 1).
    """
    return [(x[perm][lo:lo + batch_size], y[perm][lo:lo + batch_size])
            for lo in range(0, len(x), batch_size)]


def fit_epoch(step, x, y, batch_size, rng):
    """One epoch of ``fit``: a fresh permutation, then ``step`` on each batch. Returns the epoch loss

    Σ_b n_b·L_b / Σ_b n_b, the batch-size-weighted mean of each batch's loss computed
    *before* that batch's update, which is what ``fit`` logs. The running total is kept
    in float32, as Keras's loss tracker keeps it.
    step(xb, yb) -> L_b: one training step, returning the batch loss before the update
    (``model.train_on_batch`` is one). x: (N, D), y: (N, M), rng: np.random.Generator.
    """
    total, seen = np.float32(0), 0
    for xb, yb in epoch_batches(x, y, batch_size, rng.permutation(len(x))):
        total += np.float32(step(xb, yb)) * np.float32(len(xb))
        seen += len(xb)
    return float(total / np.float32(seen))


# -- the model's backward pass -------------------------------------------------------
def backward_walk(model, dy):
    """dL/dx of a model, after ``model.forward(x)``: its steps in reverse, each layer's
    backward handed the gradient of its output, gradients of a tensor read twice summed.

    dy: (N, M), or a list with one array per output -> dx: (N, D), or a list per input.
    Layers add their weight gradients into ``w.grad`` as they go (zero them first).
    A nested model is walked the same way.
    """
    grad = {}  # tensor slot -> dL/d(that tensor)

    def add(slot, g):
        grad[slot] = g if slot not in grad else grad[slot] + g  # a tensor read twice: sum

    for slot, g in zip(model._out_slots, dy if model._multi_out else [dy]):
        add(slot, g)
    for step, cache in zip(reversed(model._steps), reversed(model.cache)):
        g = [grad.get(slot) for slot in step.outs]
        if all(gi is None for gi in g):
            continue  # this layer's output does not reach the loss
        layer = step.layer
        layer.cache = cache  # a layer used twice ran forward twice: restore this call's cache
        g = g if step.multi_out else g[0]
        dx = backward_walk(layer, g) if hasattr(layer, "_steps") else layer.backward(g)
        for slot, d in zip(step.ins, dx if step.multi_in else [dx]):
            add(slot, d)
    dxs = [grad.get(i) for i in range(len(model.inputs))]
    return dxs if model._multi_in else dxs[0]
