"""Activation functions, each with its hand-written derivative.

An activation is a small object with two methods:

- ``forward(z) -> a``: applied elementwise, z and a of shape (N, M);
- ``backward(da, z, a) -> dz``: the chain rule, dz = da * f'(z), using the
  input z or the output a, whichever is cheaper. It never writes into da.

Dense fuses its activation (``Dense(20, activation='relu')``); the standalone
``ReLU`` layer in layers.py uses the same object.
"""
import numpy as np

from . import utils


class Activation:
    """Base class. Subclasses set ``name`` and implement forward and backward.

    Your own activation saves with the model when its constructor takes plain
    values (they are remembered, as Keras's auto config does) or when it
    overrides ``get_config``; load it with ``custom_objects={'MyAct': MyAct}``.
    """
    name = None

    def __new__(cls, *args, **kwargs):
        act = super().__new__(cls)
        act._init_config = utils.init_arguments(cls, args, kwargs)
        return act

    def forward(self, z):
        raise NotImplementedError

    def backward(self, da, z, a):
        raise NotImplementedError

    def get_config(self):
        """The constructor arguments that make this activation again (Keras's form)."""
        return dict(getattr(self, "_init_config", None) or {})

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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


class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(−z));  σ'(z) = σ(z)(1 − σ(z)) = a(1 − a), from the output a.

    Written so that exp never overflows: with e = e^(−|z|), which lies in (0, 1],
    σ(z) = 1 / (1 + e) for z ≥ 0 and e / (1 + e) for z < 0 (the same value,
    rearranged). The naive 1 / (1 + exp(−z)) overflows for z ≈ −90 in float32.
    """

    name = "sigmoid"

    def forward(self, z):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

    def backward(self, da, z, a):
        return da * (a * (1 - a))


class Tanh(Activation):
    """tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z));  tanh'(z) = 1 − tanh²(z) = 1 − a².

    np.tanh is stable for every z (it saturates to ±1 instead of computing inf/inf).
    """

    name = "tanh"

    def forward(self, z):
        return np.tanh(z)

    def backward(self, da, z, a):
        return da * (1 - a * a)


linear = Linear()
relu = Relu()
sigmoid = Sigmoid()
tanh = Tanh()

_ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh}


def get(identifier):
    """None or 'linear' -> identity; 'relu', 'sigmoid', 'tanh' -> that; an Activation -> itself."""
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
    """'relu' for a built-in activation; {'class_name', 'config'} for your own (as Keras)."""
    builtin = _ACTIVATIONS.get(activation.name)
    if builtin is not None and type(builtin) is type(activation):
        return activation.name
    return {"class_name": type(activation).__name__, "config": activation.get_config()}


def deserialize(config, custom_objects=None):
    """The inverse of ``serialize``; your own activations come from ``custom_objects``."""
    if isinstance(config, str):
        return get(config)
    name = config["class_name"]
    found = (custom_objects or {}).get(name)
    if found is None:
        raise ValueError(
            f"Unknown activation {name!r}: it is not built into minnn. Pass "
            f"custom_objects={{'{name}': {name}}} to load_model."
        )
    if isinstance(found, Activation):
        return found
    return found.from_config(dict(config.get("config") or {}))
