"""Weight initialisers, exactly as Keras defines them.

Each initialiser is called as ``init(shape, dtype)`` and returns a new array.
Random ones draw from an explicit ``np.random.Generator``: the one given as
``seed`` (an int gives a fresh generator each call, as a seeded Keras
initialiser repeats itself), or else minnn's own generator
(``minnn.utils.set_random_seed``).
"""
import math

import numpy as np

from . import config, utils


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {}


class Zeros(Initializer):
    """w = 0."""

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=config.standardize_dtype(dtype))


class Ones(Initializer):
    """w = 1."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=config.standardize_dtype(dtype))


def compute_fans(shape):
    """(fan_in, fan_out) of a kernel: a Dense kernel (D, M) has fan_in=D, fan_out=M."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[-2], shape[-1]


class GlorotUniform(Initializer):
    """w ~ U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010).

    The bound keeps the variance of activations and of gradients roughly equal
    from layer to layer: Var(w) = limit² / 3 = 2 / (fan_in + fan_out).
    """

    def __init__(self, seed=None):
        utils.resolve_rng(seed)  # validate now, not at first use
        self.seed = seed

    def __call__(self, shape, dtype=None):
        dtype = config.standardize_dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        rng = utils.resolve_rng(self.seed)
        return rng.uniform(-limit, limit, size=shape).astype(dtype)

    def get_config(self):
        return {"seed": self.seed if not isinstance(self.seed, np.random.Generator) else None}


_ALIASES = {
    "glorot_uniform": GlorotUniform,
    "zeros": Zeros,
    "ones": Ones,
}


def get(identifier):
    """Turn a name ('glorot_uniform', 'zeros', 'ones') or an Initializer into an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _ALIASES:
        return _ALIASES[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    raise ValueError(
        f"Unknown initializer: received {identifier!r}, expected one of "
        f"{sorted(_ALIASES)} or an instance of minnn.initializers.Initializer."
    )


def serialize(init):
    name = {v: k for k, v in _ALIASES.items()}.get(type(init))
    if name is None:
        raise ValueError(f"Cannot serialize a custom initializer {init!r}.")
    return {"class_name": name, "config": init.get_config()}


def deserialize(cfg):
    return _ALIASES[cfg["class_name"]](**cfg.get("config", {}))
