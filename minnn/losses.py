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


def binary_crossentropy(y_true, y_pred):
    """Per-sample BCE, as Keras: mean(−[y log p + (1 − y) log(1 − p)], axis=-1). (N, M) -> (N,).

    p is y_pred clipped to [ε, 1 − ε] with ε = 1e-7 (``config.epsilon()``), so
    that log never sees 0: a confident wrong answer costs about −log(1e-7) ≈ 16.1
    per entry, not inf.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    _check_same_shape(y_true, y_pred)
    eps = config.epsilon()
    p = np.clip(y_pred, eps, 1 - eps)
    return np.mean(-(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)), axis=-1)


bce = binary_crossentropy


class BinaryCrossentropy(Loss):
    """L = (1 / (N·M)) Σ −[y log p + (1 − y) log(1 − p)], p = clip(ŷ, ε, 1 − ε);

    dL/dŷ = (p − y) / (p (1 − p)) / (N·M) where ε ≤ ŷ ≤ 1 − ε, and 0 where the clip
    is active (the clip is flat there, so the loss does not change with ŷ).
    Targets y may be any values in [0, 1], such as pixel intensities.
    """

    def forward(self, y_true, y_pred):
        return float(np.mean(binary_crossentropy(y_true, y_pred)))

    def backward(self, y_true, y_pred):
        _check_same_shape(y_true, y_pred)
        eps = config.epsilon()
        p = np.clip(y_pred, eps, 1 - eps)
        # −y/p + (1 − y)/(1 − p), put over one denominator: (p − y) / (p (1 − p)).
        grad = (p - y_true) / (p * (1 - p))
        grad *= (y_pred >= eps) & (y_pred <= 1 - eps)  # the clip's derivative: 1 inside, 0 outside
        grad /= grad.size
        return grad


def _check_same_shape(y_true, y_pred):
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "Arguments y_true and y_pred must have the same shape. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )


# Functions minnn knows the gradient of, so that `loss=minnn.losses.mean_squared_error`
# works as in Keras: they map to the Loss class that carries the gradient.
_BY_NAME = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "bce": BinaryCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "BinaryCrossentropy": BinaryCrossentropy,
}
_BY_FUNCTION = {mean_squared_error: MeanSquaredError, binary_crossentropy: BinaryCrossentropy}


def get(identifier):
    """Turn 'mse', a minnn loss function, a Loss class or a Loss instance into a Loss."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise ValueError(
            f"Unknown loss: received loss={identifier!r}, expected one of {sorted(_BY_NAME)} "
            "or a minnn.losses.Loss instance."
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
    for name, cls in _BY_NAME.items():
        if type(loss) is cls:
            return {"class_name": cls.__name__}
    raise ValueError(f"Cannot serialize the custom loss {loss!r}.")


def deserialize(cfg):
    return _BY_NAME[cfg["class_name"]]()
