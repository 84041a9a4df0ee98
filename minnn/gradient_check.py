"""Checking hand-written gradients against central differences.

For a function f and an upstream gradient G (random, so that every output
element matters), the quantity checked is the scalar s(θ) = Σ f(θ) ⊙ G, whose
gradient is exactly what backward computes. Each coordinate is estimated by

    ∂s/∂θᵢ ≈ (s(θ + h·eᵢ) − s(θ − h·eᵢ)) / 2h,

with an error of order h², in float64. The agreement of the analytic array a
with the numeric array n is judged by one relative error for the whole array,

    max |a − n| / (max |a| + max |n|),

in cs231n's bands. (Dividing each entry by its own size instead, as cs231n
does, turns the round-off of an entry that is zero up to cancellation into a
large ratio; with a thousand parameters that always happens somewhere.)

    > 1e-2        wrong
    1e-4 … 1e-2   suspicious
    1e-7 … 1e-4   acceptable only near a kink (ReLU at 0)
    < 1e-7        good
"""
import numpy as np

from . import activations, layers

BANDS = ((1e-7, "good"), (1e-4, "acceptable only near a kink"), (1e-2, "suspicious"))


def verdict(rel_err):
    for bound, word in BANDS:
        if rel_err < bound:
            return word
    return "wrong"


def rel_error(analytic, numeric):
    """max |a − n| / (max |a| + max |n|): the error of a whole gradient array (0 if both are 0)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"Shapes differ: analytic {a.shape}, numeric {n.shape}.")
    scale = np.max(np.abs(a)) + np.max(np.abs(n)) if a.size else 0.0
    return float(np.max(np.abs(a - n)) / scale) if scale > 0 else 0.0


def numerical_gradient(f, x, h=1e-6):
    """Central-difference gradient of the scalar function f() with respect to array x.

    x is perturbed in place, one entry at a time, and restored exactly.
    """
    if x.dtype != np.float64:
        raise TypeError(f"Gradient checks need float64 arrays, received dtype={x.dtype}.")
    grad = np.zeros_like(x)
    # Index x itself: x.reshape(-1) would be a silent copy for a transposed or
    # Fortran-ordered x, and perturbing a copy gives a gradient of zeros.
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def gradient_pairs(layer, x, rng, h=1e-6):
    """Backward's gradients next to central differences, for a layer or a model.

    layer: built, float64. x: (N, D) float64 input (or a list of them).
    A random upstream gradient G (one draw from ``rng`` per output) defines
    s = Σ y ⊙ G. Returns ({name: (analytic, numeric)}, Σ|y ⊙ G|), with names 'dx'
    (or 'dx0', 'dx1', …) and every weight's; the second value is the size of
    the terms in s, from which the round-off of a central difference follows.
    """
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    _check_float64(layer, xs, rng)
    y = layer.forward(x)
    ys = y if isinstance(y, list) else [y]
    upstream = [rng.standard_normal(o.shape) for o in ys]
    terms = sum(float(np.sum(np.abs(o * g))) for o, g in zip(ys, upstream))

    def scalar():
        out = layer.forward(x)
        outs = out if isinstance(out, list) else [out]
        return float(sum(np.sum(o * g) for o, g in zip(outs, upstream)))

    layer.forward(x)
    layer.zero_grad()
    dx = layer.backward(upstream if isinstance(y, list) else upstream[0])
    dxs = dx if isinstance(dx, list) else [dx]
    pairs = {}
    for i, (xi, dxi) in enumerate(zip(xs, dxs)):
        pairs["dx" if len(xs) == 1 else f"dx{i}"] = (dxi, numerical_gradient(scalar, xi, h))
    for w in layer.weights:
        pairs[w.name] = (w.grad.copy(), numerical_gradient(scalar, w.value, h))
    return pairs, terms


def _check_float64(layer, xs, rng):
    # Named here, before any forward: deep inside, a float32 weight would only show up as
    # "received dtype=float32" without saying which array or how to get float64.
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy Generator (for example np.random.default_rng(0)), "
                        f"received rng={rng!r}.")
    for w in getattr(layer, "weights", []):
        if w.value.dtype != np.float64:
            raise TypeError(
                f"Gradient checks need float64: weight '{w.name}' is {w.value.dtype}. Build the "
                "model after minnn.config.set_floatx('float64'), or give its layers dtype='float64'.")
    for i, xi in enumerate(xs):
        if not isinstance(xi, np.ndarray) or xi.dtype != np.float64:
            got = f"dtype={xi.dtype}" if isinstance(xi, np.ndarray) else type(xi).__name__
            raise TypeError(f"Gradient checks need float64: x{'' if len(xs) == 1 else i} "
                            f"must be a float64 array, received {got} (use x.astype('float64')).")


def check_layer(layer, x, rng, h=1e-6):
    """{name: relative error} of every gradient of a layer or model: 'dx' (or 'dx0',
    'dx1', …) and each weight. See ``gradient_pairs`` for what is compared."""
    pairs, _ = gradient_pairs(layer, x, rng, h)
    return {name: rel_error(a, n) for name, (a, n) in pairs.items()}


def check_loss(loss, y_true, y_pred, h=1e-6):
    """Relative error between loss.backward and central differences of loss.forward."""
    analytic = loss.backward(y_true, y_pred)
    numeric = numerical_gradient(lambda: loss.forward(y_true, y_pred), y_pred, h)
    return rel_error(analytic, numeric)


def _leaf_layers(layer):
    steps = getattr(layer, "_steps", None)  # a Model: look inside, recursively
    if steps is None:
        return [layer]
    out = []
    for inner, *_ in steps:
        out.extend(leaf for leaf in _leaf_layers(inner) if leaf not in out)
    return out


def near_kink(layer, x, margin=1e-4):
    """{layer name: count} of ReLU inputs z with |z| < margin, after ``layer.forward(x)``.

    A central difference whose two points straddle ReLU's kink measures a slope
    between 0 and 1, so the check there can fail for a correct backward. Keep
    every |z| well above h (cs231n's pitfall). Looked at: Dense layers and
    Activation / LeakyReLU layers whose activation has a kink (relu, leaky_relu,
    a subclass of either). A standalone ReLU layer keeps only its output, so its
    inputs cannot be told; a layer used twice shows its last call.
    """
    layer.forward(x)
    counts = {}
    for leaf in _leaf_layers(layer):
        z = _kink_inputs(leaf)
        n = 0 if z is None else int(np.sum(np.abs(z) < margin))
        if n:
            counts[leaf.name] = n
    return counts


def _kink_inputs(leaf):
    """The inputs of a kinked activation that ``leaf`` cached in its last forward, or None."""
    if not isinstance(getattr(leaf, "activation", None), (activations.Relu, activations.LeakyRelu)) \
            or leaf.cache is None:
        return None
    if isinstance(leaf, layers.Dense):
        return leaf.cache[1]   # (x, z, y): z = x·W + b enters the activation
    if isinstance(leaf, layers.Activation):
        return leaf.cache[0]   # (x, y)
    return None


def report(errors, kinks=None):
    """A small table: one row per gradient, with its relative error and verdict, then a
    warning for each layer with ReLU inputs near the kink (``near_kink``'s result)."""
    lines = [f"{'gradient':<28} {'rel. error':>11}  verdict"]
    for name, err in errors.items():
        lines.append(f"{name:<28} {err:>11.2e}  {verdict(err)}")
    for name, n in (kinks or {}).items():
        lines.append(f"warning: {n} ReLU input(s) of '{name}' lie near 0, where central "
                     "differences are unreliable; draw other inputs.")
    return "\n".join(lines)
