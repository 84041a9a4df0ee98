"""Losses: a value and, because minnn has no autodiff, its gradient too.

A ``Loss`` reduces a batch to one number, as Keras's compiled loss does
("sum_over_batch_size"), and gives dL/dŷ with the shape of the prediction:

- ``forward(y_true, y_pred) -> float``
- ``backward(y_true, y_pred) -> dL/dy_pred``, shape (N, M)

To write your own, subclass ``Loss`` and implement both. ``minnn.gradient_check``
can check that they agree.
"""
import numpy as np

from . import config


class Loss:
    """Base class for losses. Subclasses implement ``forward`` and ``backward``."""

    def __init__(self, name=None):
        self.name = name or _snake(type(self).__name__)

    def forward(self, y_true, y_pred):
        """The loss of a batch, a Python float. y_true, y_pred: (N, M)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement forward(y_true, y_pred) -> float."
        )

    def backward(self, y_true, y_pred):
        """dL/dy_pred, an array of shape (N, M)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement backward(y_true, y_pred) -> dL/dy_pred, "
            "because minnn has no autodiff."
        )

    def __call__(self, y_true, y_pred):
        """The checked entry point: equal shapes, never broadcast (fit checks its data itself)."""
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        _check_same_shape(y_true, y_pred)
        return self.forward(y_true, y_pred)

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}'>"


def _snake(name):
    from .utils import to_snake_case
    return to_snake_case(name)


def mean_squared_error(y_true, y_pred):
    """Per-sample MSE, as Keras: mean((y_true - y_pred)², axis=-1). (N, M) -> (N,)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    _check_same_shape(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


mse = mean_squared_error


class MeanSquaredError(Loss):
    """L = (1 / (N·M)) Σ (ŷ − y)²;   dL/dŷ = 2 (ŷ − y) / (N·M)."""

    def forward(self, y_true, y_pred):
        diff = y_pred - y_true
        diff *= diff
        # As Keras sums it: the mean over features per sample, then over the batch. The
        # value is the same mean, but float32 rounds it the same way only in this order.
        return float(np.mean(np.mean(diff, axis=-1)))

    def backward(self, y_true, y_pred):
        diff = y_pred - y_true
        diff *= 2.0 / diff.size  # diff is our own temporary, so scale it in place
        return diff


def _clip_slope(p, lo, hi):
    """d clip(p, lo, hi) / dp as JAX computes it: 1 inside, 0 outside, and 0.5 exactly at a
    bound (clip is max then min, and each splits a tie evenly)."""
    inside = ((p > lo) & (p < hi)).astype(p.dtype)
    inside += 0.5 * ((p == lo) | (p == hi))
    return inside


def _bounds(dtype):
    # Keras's ε and 1 − ε, rounded to the array's float type as JAX rounds them.
    eps = config.epsilon()
    return np.asarray(eps, dtype=dtype), np.asarray(1.0 - eps, dtype=dtype)


def _float(a, like):
    return np.asarray(a, dtype=like.dtype)


def _log_sigmoid(z):
    """log σ(z) = −log(1 + e^(−z)), as −logaddexp(0, −z): never overflows."""
    return -np.logaddexp(0, -z)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample BCE, as Keras: mean(−[y log p + (1 − y) log(1 − p)], axis=-1). (N, M) -> (N,).

    p is y_pred clipped to [ε, 1 − ε] with ε = 1e-7 (``config.epsilon()``), so
    that log never sees 0: a confident wrong answer costs about −log(1e-7) ≈ 16.1
    per entry, not inf. With from_logits=True, y_pred is z and log p = log σ(z),
    log(1 − p) = log σ(−z), computed without clipping. label_smoothing=ls moves
    every target towards 0.5: y ← y(1 − ls) + ls/2.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    _check_same_shape(y_true, y_pred)
    y = _smooth_binary(_float(y_true, y_pred), label_smoothing)
    if from_logits:
        per_entry = -y * _log_sigmoid(y_pred) - (1.0 - y) * _log_sigmoid(-y_pred)
    else:
        lo, hi = _bounds(y_pred.dtype)
        p = np.clip(y_pred, lo, hi)
        per_entry = -(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))
    return np.mean(per_entry, axis=-1)


bce = binary_crossentropy


def _smooth_binary(y, ls):
    return y * (1.0 - ls) + 0.5 * ls if ls else y


def _smooth_categorical(y, ls):
    return y * (1.0 - ls) + ls / y.shape[-1] if ls else y


def _check_options(from_logits, label_smoothing=0.0):
    if not isinstance(from_logits, bool):
        raise TypeError(f"from_logits must be True or False, received from_logits={from_logits!r}.")
    if (isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float))
            or not 0.0 <= label_smoothing <= 1.0):
        raise ValueError(
            f"Invalid label_smoothing: received label_smoothing={label_smoothing!r}, expected a "
            "number in [0, 1]."
        )
    return float(label_smoothing)


class BinaryCrossentropy(Loss):
    """L = (1 / (N·M)) Σ −[y log p + (1 − y) log(1 − p)], p = clip(ŷ, ε, 1 − ε);

    dL/dŷ = (p − y) / (p (1 − p)) / (N·M) where ε < ŷ < 1 − ε, and 0 where the clip
    is active (the clip is flat there, so the loss does not change with ŷ; JAX's
    clip gives half the slope exactly at a bound, and so does minnn).
    With from_logits=True: ŷ = z, p = σ(z), and dL/dz = (σ(z) − y) / (N·M).
    Targets y may be any values in [0, 1], such as pixel intensities.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, name="binary_crossentropy"):
        super().__init__(name)
        self.label_smoothing = _check_options(from_logits, label_smoothing)
        self.from_logits = from_logits

    def forward(self, y_true, y_pred):
        return float(np.mean(binary_crossentropy(y_true, y_pred, self.from_logits,
                                                 self.label_smoothing)))

    def backward(self, y_true, y_pred):
        _check_same_shape(y_true, y_pred)
        y = _smooth_binary(_float(y_true, y_pred), self.label_smoothing)
        if self.from_logits:
            grad = _sigmoid(y_pred) - y
        else:
            lo, hi = _bounds(y_pred.dtype)
            p = np.clip(y_pred, lo, hi)
            # −y/p + (1 − y)/(1 − p), put over one denominator: (p − y) / (p (1 − p)).
            grad = (p - y) / (p * (1 - p))
            grad *= _clip_slope(y_pred, lo, hi)
        grad /= grad.size
        return grad

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "name": self.name}


def _sigmoid(z):
    from .activations import sigmoid
    return sigmoid.forward(z)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample CCE, as Keras on JAX: −Σ_k y_k log q_k along the last axis. (N, K) -> (N,).

    Probabilities: q = clip(p / Σ_k p_k, ε, 1 − ε): renormalised first, then clipped.
    Logits (from_logits=True): log q = log_softmax(z) = z − max z − log Σ exp(z − max z).
    label_smoothing=ls: y ← y(1 − ls) + ls/K.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={y_true.shape}, output.shape={y_pred.shape}"
        )
    y = _smooth_categorical(_float(y_true, y_pred), label_smoothing)
    return -np.sum(y * _log_q(y_pred, from_logits), axis=-1)


def _log_q(y_pred, from_logits):
    if from_logits:
        shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
    lo, hi = _bounds(y_pred.dtype)
    return np.log(np.clip(y_pred / np.sum(y_pred, axis=-1, keepdims=True), lo, hi))


def _categorical_grad(y, y_pred, from_logits):
    """dL/dŷ of L = (1/n) Σ_rows −Σ_k y_k log q_k, n = the number of rows (y is float, smoothed).

    Logits:        dL/dz = (softmax(z)·Σ_k y_k − y) / n  (= (ŷ − y)/n for one-hot y).
    Probabilities: q = p/s with s = Σ p; g = dL/dq = −y/clip(q) · clip′(q) / n, then through
                   the renormalisation dL/dp_k = (g_k − Σ_j g_j q_j) / s. For one-hot y and
                   p inside the clip this is (1 − y/p)/n, not −y/(p n): the 1 is the
                   renormalisation's, and it cancels when softmax comes before.
    """
    n = y_pred.size // y_pred.shape[-1]
    if from_logits:
        e = np.exp(y_pred - np.max(y_pred, axis=-1, keepdims=True))
        e /= np.sum(e, axis=-1, keepdims=True)
        grad = e * np.sum(y, axis=-1, keepdims=True) - y
        grad /= n
        return grad
    lo, hi = _bounds(y_pred.dtype)
    s = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / s
    g = -y / np.clip(q, lo, hi)
    g *= _clip_slope(q, lo, hi)
    g /= n
    grad = g - np.sum(g * q, axis=-1, keepdims=True)
    grad /= s
    return grad


class CategoricalCrossentropy(Loss):
    """L = (1/N) Σ_n −Σ_k y_nk log q_nk, with Keras's renormalisation and clip (see
    ``categorical_crossentropy``); targets are one-hot (or probability) rows of width K.

    After a softmax, the gradient that reaches the logits is (ŷ − y)/N: softmax's
    Jacobian-vector product applied to this loss's gradient (1 − y/ŷ)/N.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, name="categorical_crossentropy"):
        super().__init__(name)
        self.label_smoothing = _check_options(from_logits, label_smoothing)
        self.from_logits = from_logits

    def forward(self, y_true, y_pred):
        return float(np.mean(categorical_crossentropy(y_true, y_pred, self.from_logits,
                                                      self.label_smoothing)))

    def backward(self, y_true, y_pred):
        _check_same_shape(y_true, y_pred)
        y = _smooth_categorical(_float(y_true, y_pred), self.label_smoothing)
        return _categorical_grad(y, y_pred, self.from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "name": self.name}


def _one_hot(labels, k, dtype):
    out = np.zeros(labels.shape + (k,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _labels(y_true, y_pred):
    """Integer labels of shape y_pred.shape[:-1], from (N,) or (N, 1); checked and cast."""
    y = np.asarray(y_true)
    if y.ndim == y_pred.ndim and y.shape[-1] == 1:
        y = y[..., 0]
    if y.shape != y_pred.shape[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={np.shape(y_true)}, output.shape={y_pred.shape}"
        )
    if y.dtype.kind not in "iu":
        check_class_labels(y, y_pred.shape[-1], "y_true")
        y = y.astype(np.int64)
    elif y.size and (y.min() < 0 or y.max() >= y_pred.shape[-1]):
        check_class_labels(y, y_pred.shape[-1], "y_true")
    return y


def check_class_labels(y, k, what):
    """Raise a ValueError naming the first label (and its row) that is not an integer in
    [0, k); bools, NaN, 1.5 and 10 (for k = 10) are all refused."""
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold integer class labels, received dtype {y.dtype}.")
    if y.dtype.kind == "b":
        raise TypeError(f"{what} must hold integer class labels 0..{k - 1}, received booleans.")
    flat = y.reshape(len(y), -1) if y.ndim else y.reshape(1, 1)
    with np.errstate(invalid="ignore"):
        bad = ~((flat >= 0) & (flat < k) & (flat == np.floor(flat)))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        v = flat[row, col].item()
        kind = "not an integer" if not (np.isfinite(v) and v == np.floor(v)) else "out of range"
        where = f"row {row}" + (f", position {col}" if flat.shape[1] > 1 else "")
        raise ValueError(
            f"{what} holds the label {v!r} at {where} ({kind}); expected integer class "
            f"labels in [0, {k}) for an output of {k} classes."
        )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample CCE against integer labels: −log q[label]. y_true (N,) or (N, 1), y_pred
    (N, K) -> (N,). The same formula as ``categorical_crossentropy`` on one_hot(y_true)."""
    y_pred = np.asarray(y_pred)
    labels = _labels(y_true, y_pred)
    return -np.take_along_axis(_log_q(y_pred, from_logits), labels[..., None], axis=-1)[..., 0]


class SparseCategoricalCrossentropy(Loss):
    """CategoricalCrossentropy with integer labels: y_true (N,) or (N, 1) of values in
    [0, K), instead of one-hot rows. L = (1/N) Σ_n −log q_n,label;  dL/dz = (ŷ − onehot)/N
    after a softmax. Keras has no label_smoothing here, and neither has minnn."""

    sparse_labels = True  # fit checks and keeps targets as integer labels

    def __init__(self, from_logits=False, name="sparse_categorical_crossentropy"):
        super().__init__(name)
        _check_options(from_logits)
        self.from_logits = from_logits

    def forward(self, y_true, y_pred):
        return float(np.mean(sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)))

    def backward(self, y_true, y_pred):
        labels = _labels(y_true, y_pred)
        y = _one_hot(labels, y_pred.shape[-1], y_pred.dtype)
        return _categorical_grad(y, y_pred, self.from_logits)

    def get_config(self):
        return {"from_logits": self.from_logits, "name": self.name}


def mean_absolute_error(y_true, y_pred):
    """Per-sample MAE, as Keras: mean(|y_true − y_pred|, axis=-1). (N, M) -> (N,)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    _check_same_shape(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


mae = mean_absolute_error


class MeanAbsoluteError(Loss):
    """L = (1 / (N·M)) Σ |y − ŷ|;   dL/dŷ = −sign′(y − ŷ) / (N·M), where sign′ is JAX's
    slope of |x|: 1 for x ≥ 0 (so an exact fit still gets −1/(N·M)), −1 below."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(name)

    def forward(self, y_true, y_pred):
        return float(np.mean(mean_absolute_error(y_true, y_pred)))

    def backward(self, y_true, y_pred):
        _check_same_shape(y_true, y_pred)
        grad = np.where(y_true - y_pred >= 0, -1.0, 1.0).astype(y_pred.dtype)
        grad /= grad.size
        return grad


def _check_same_shape(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Arguments y_true and y_pred must have the same shape. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )


# Keras's string names (and class names) for each loss, and the functions minnn knows
# the gradient of, so that `loss=minnn.losses.mean_squared_error` works as in Keras:
# each maps to the Loss class that carries the gradient.
_CLASSES = (MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_BY_NAME = {
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "bce": BinaryCrossentropy, "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
} | {cls.__name__: cls for cls in _CLASSES}
_BY_FUNCTION = {mean_squared_error: MeanSquaredError, binary_crossentropy: BinaryCrossentropy,
                mean_absolute_error: MeanAbsoluteError,
                categorical_crossentropy: CategoricalCrossentropy,
                sparse_categorical_crossentropy: SparseCategoricalCrossentropy}


def get(identifier):
    """Turn 'mse', 'sparse_categorical_crossentropy', a minnn loss function, a Loss class or a
    Loss instance into a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(
            f"Could not interpret loss identifier: received loss={identifier!r}, expected one "
            f"of {sorted(_BY_NAME)} or a minnn.losses.Loss instance."
        )
    if callable(identifier):
        if identifier in _BY_FUNCTION:
            return _BY_FUNCTION[identifier]()
        name = getattr(identifier, "__name__", repr(identifier))
        raise TypeError(
            f"Received loss={name}, a plain Python function. minnn has no automatic "
            "differentiation, so it cannot find the gradient of an arbitrary function. "
            "Write the loss as a subclass of minnn.losses.Loss that implements both "
            "forward(y_true, y_pred) -> float and backward(y_true, y_pred) -> dL/dy_pred, "
            "and pass an instance of it."
        )
    raise TypeError(
        f"Invalid loss: received {identifier!r} of type {type(identifier).__name__}, "
        "expected a string such as 'mse' or a minnn.losses.Loss instance."
    )


def serialize(loss):
    if type(loss) in _CLASSES:
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    raise ValueError(f"Cannot serialize the custom loss {loss!r}.")


def deserialize(cfg):
    return _BY_NAME[cfg["class_name"]](**cfg.get("config", {}))


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
