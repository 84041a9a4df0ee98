"""Activation functions, each with its hand-written derivative.

An activation is a small object with two methods:

- ``forward(z) -> a``: applied elementwise, z and a of shape (N, M);
- ``backward(da, z, a) -> dz``: the chain rule, dz = da * f'(z), using the
  input z or the output a, whichever is cheaper. It never writes into da.

Dense fuses its activation (``Dense(20, activation='relu')``); the standalone
``ReLU`` layer in layers.py uses the same object.
"""
import numpy as np


class Activation:
    name = None

    def forward(self, z):
        raise NotImplementedError

    def backward(self, da, z, a):
        raise NotImplementedError

    def __repr__(self):
        return f"<activation {self.name}>"


class Linear(Activation):
    """f(z) = z;  f'(z) = 1, so dz = da (returned as is, never modified)."""

    name = "linear"

    def forward(self, z):
        return z

    def backward(self, da, z, a):
        return da


class Relu(Activation):
    """f(z) = max(z, 0);  f'(z) = 1 if z > 0 else 0 (0 at the kink, as Keras and PyTorch)."""

    name = "relu"

    def forward(self, z):
        return np.maximum(z, 0)

    def backward(self, da, z, a):
        # a > 0 exactly where z > 0; multiplying by the boolean mask makes a new
        # array, so the caller's da is left untouched (pitfall: da[mask] = 0).
        return da * (a > 0)


linear = Linear()
relu = Relu()

_ACTIVATIONS = {"linear": linear, "relu": relu}


def get(identifier):
    """None or 'linear' -> identity; 'relu' -> ReLU; an Activation -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in _ACTIVATIONS:
        return _ACTIVATIONS[identifier]
    raise ValueError(
        f"Unknown activation: received activation={identifier!r}, expected None or one of "
        f"{sorted(_ACTIVATIONS)}."
    )


def serialize(activation):
    return activation.name
