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


class VarianceScaling(Initializer):
    """Keras's family: Var(w) = scale / n, with n = fan_in, fan_out or their mean (mode).

    distribution 'uniform':          w ~ U(−limit, limit), limit = sqrt(3·scale / n);
    distribution 'truncated_normal': w ~ N(0, σ²) redrawn outside ±2σ, with
        σ = sqrt(scale / n) / 0.87962566103423978 (the cut lowers the spread by that factor);
    distribution 'untruncated_normal': w ~ N(0, scale / n).
    He (scale 2, fan_in) suits ReLU layers; Glorot (scale 1, fan_avg) and LeCun
    (scale 1, fan_in) suit tanh/linear ones. The numbers drawn differ from Keras's
    (another generator); their distribution does not.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"Invalid scale: received scale={scale!r}, expected a positive number.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"Invalid mode: received mode={mode!r}, expected 'fan_in', "
                             "'fan_out' or 'fan_avg'.")
        if distribution not in ("uniform", "truncated_normal", "untruncated_normal"):
            raise ValueError(f"Invalid distribution: received distribution={distribution!r}, expected "
                             "'uniform', 'truncated_normal' or 'untruncated_normal'.")
        utils.resolve_rng(seed)
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, shape, dtype=None):
        dtype = config.standardize_dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        rng = utils.resolve_rng(self.seed)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * self.scale / max(1.0, n))
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(self.scale / max(1.0, n)), size=shape).astype(dtype)
        std = math.sqrt(self.scale / max(1.0, n)) / 0.87962566103423978
        return truncated_normal(rng, std, shape).astype(dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed if not isinstance(self.seed, np.random.Generator) else None}


def truncated_normal(rng, std, shape, mean=0.0):
    """N(mean, std²) with every value beyond 2·std from the mean drawn again."""
    w = rng.normal(0.0, 1.0, size=shape)
    bad = np.abs(w) > 2
    while bad.any():
        w[bad] = rng.normal(0.0, 1.0, size=int(bad.sum()))
        bad = np.abs(w) > 2
    return mean + std * w


def _named(name, scale, mode, distribution):
    class Named(VarianceScaling):
        def __init__(self, seed=None):
            super().__init__(scale, mode, distribution, seed)

        def get_config(self):
            return {"seed": self.seed if not isinstance(self.seed, np.random.Generator) else None}

    Named.__name__ = Named.__qualname__ = name
    Named.__doc__ = f"VarianceScaling(scale={scale}, mode='{mode}', distribution='{distribution}')."
    return Named


HeNormal = _named("HeNormal", 2.0, "fan_in", "truncated_normal")
HeUniform = _named("HeUniform", 2.0, "fan_in", "uniform")
GlorotNormal = _named("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
LecunNormal = _named("LecunNormal", 1.0, "fan_in", "truncated_normal")
LecunUniform = _named("LecunUniform", 1.0, "fan_in", "uniform")


class RandomNormal(Initializer):
    """w ~ N(mean, stddev²), Keras's defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        utils.resolve_rng(seed)
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype=None):
        rng = utils.resolve_rng(self.seed)
        return rng.normal(self.mean, self.stddev, size=shape).astype(config.standardize_dtype(dtype))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev,
                "seed": self.seed if not isinstance(self.seed, np.random.Generator) else None}


class TruncatedNormal(RandomNormal):
    """w ~ N(mean, stddev²) redrawn beyond 2·stddev, Keras's defaults mean=0, stddev=0.05."""

    def __call__(self, shape, dtype=None):
        rng = utils.resolve_rng(self.seed)
        return truncated_normal(rng, self.stddev, shape, self.mean).astype(config.standardize_dtype(dtype))


class RandomUniform(Initializer):
    """w ~ U(minval, maxval), Keras's defaults −0.05 and 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        utils.resolve_rng(seed)
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype=None):
        rng = utils.resolve_rng(self.seed)
        return rng.uniform(self.minval, self.maxval, size=shape).astype(config.standardize_dtype(dtype))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval,
                "seed": self.seed if not isinstance(self.seed, np.random.Generator) else None}


class Constant(Initializer):
    """w = value."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=config.standardize_dtype(dtype))

    def get_config(self):
        return {"value": self.value}


_ALIASES = {
    "glorot_uniform": GlorotUniform,
    "zeros": Zeros,
    "ones": Ones,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "constant": Constant,
    "variance_scaling": VarianceScaling,
}
_CLASS_NAMES = {cls.__name__: cls for cls in _ALIASES.values()}


def get(identifier):
    """Turn a name ('glorot_uniform', 'he_normal', 'zeros', ..., or a class name such as
    'HeNormal') or an Initializer into an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in _ALIASES:
        return _ALIASES[identifier]()
    if isinstance(identifier, str) and identifier in _CLASS_NAMES:
        return _CLASS_NAMES[identifier]()
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
