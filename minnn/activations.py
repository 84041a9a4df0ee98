"""Activation functions, each with its hand-written derivative.

An activation is a small object with two methods:

- ``forward(z) -> a``: applied elementwise, z and a of shape (N, M);
- ``backward(da, z, a) -> dz``: the chain rule, dz = da * f'(z), using the
  input z or the output a, whichever is cheaper. It never writes into da.

Elementwise ones work on arrays of any shape; softmax works along the last
axis, where its backward is a Jacobian-vector product (never a K×K matrix).
Calling one on an array, ``minnn.activations.softmax(x)``, is its forward, as
``keras.activations.softmax(x)`` is.

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

    def __call__(self, x):
        return self.forward(np.asarray(x))

    def get_config(self):
        """The parameters that make this activation again. Built-in ones return those that
        differ from the defaults (none for most); your own returns its constructor
        arguments, remembered when they are plain values (Keras's auto config)."""
        return dict(getattr(self, "_init_config", None) or {})

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @property
    def __name__(self):
        # Keras's activations are functions: dense.activation.__name__ == 'relu'.
        return self.name or type(self).__name__

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


class Softmax(Activation):
    """s_k = exp(z_k − max z) / Σ_j exp(z_j − max z) along the last axis (the stable form);

    backward is the Jacobian-vector product dz = s ⊙ (da − Σ_j da_j s_j), one row at a
    time: the K×K Jacobian diag(s) − s sᵀ is never built. Subtracting max z changes
    nothing mathematically and keeps exp from overflowing ([1000, 1001, 1002] is fine).
    """

    name = "softmax"

    def forward(self, z):
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))
        e /= np.sum(e, axis=-1, keepdims=True)
        return e

    def backward(self, da, z, a):
        return a * (da - np.sum(da * a, axis=-1, keepdims=True))


class LeakyRelu(Activation):
    """f(z) = z if z ≥ 0 else slope·z;  f'(z) = 1 if z ≥ 0 else slope (1 at 0, as Keras/JAX).

    The activation 'leaky_relu' has Keras's negative_slope=0.2; the layer
    ``LeakyReLU()`` has 0.3 (Keras's two defaults differ).
    """

    name = "leaky_relu"

    def __init__(self, negative_slope=0.2):
        self.negative_slope = _check_number("negative_slope", negative_slope)

    def forward(self, z):
        return np.where(z >= 0, z, z * self.negative_slope)

    def backward(self, da, z, a):
        return np.where(z >= 0, da, da * self.negative_slope)

    def get_config(self):
        return {} if self.negative_slope == 0.2 else {"negative_slope": self.negative_slope}


class Elu(Activation):
    """f(z) = z if z > 0 else α(e^z − 1);  f'(z) = 1 if z > 0 else α·e^z = a + α (α at 0, as JAX)."""

    name = "elu"

    def __init__(self, alpha=1.0):
        self.alpha = _check_number("alpha", alpha)

    def forward(self, z):
        # expm1 only of the non-positive part: exp of a large positive z would overflow.
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0)))

    def backward(self, da, z, a):
        return np.where(z > 0, da, da * (a + self.alpha))

    def get_config(self):
        return {} if self.alpha == 1.0 else {"alpha": self.alpha}


class Softplus(Activation):
    """f(z) = log(1 + e^z), computed as logaddexp(z, 0) so that it never overflows;
    f'(z) = σ(z) = 1 / (1 + e^(−z))."""

    name = "softplus"

    def forward(self, z):
        return np.logaddexp(z, 0).astype(z.dtype, copy=False)

    def backward(self, da, z, a):
        return da * sigmoid.forward(z)


def _check_number(name, value):
    import numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"Invalid {name}: received {name}={value!r}, expected a finite number.")
    return float(value)


linear = Linear()
relu = Relu()
sigmoid = Sigmoid()
tanh = Tanh()
softmax = Softmax()
leaky_relu = LeakyRelu()
elu = Elu()
softplus = Softplus()

_ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
                "softmax": softmax, "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus}
_CLASSES = {a.name: type(a) for a in _ACTIVATIONS.values()}


def get(identifier):
    """None or 'linear' -> identity; a name such as 'relu' or 'softmax' -> that activation
    (with Keras's defaults); {'name': ..., 'config': {...}} (from ``serialize``) -> rebuilt;
    an Activation -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier in _ACTIVATIONS:
        return _ACTIVATIONS[identifier]
    if isinstance(identifier, dict) and identifier.get("name") in _CLASSES:
        return _CLASSES[identifier["name"]](**identifier.get("config", {}))
    raise ValueError(
        f"Unknown activation: received activation={identifier!r}, expected None or one of "
        f"{sorted(_ACTIVATIONS)}."
    )


def serialize(activation):
    """'relu', or {'name', 'config'} for a built-in activation with non-default parameters;
    {'class_name', 'config'} for your own (Keras's form, loaded with custom_objects)."""
    if _CLASSES.get(activation.name) is type(activation):
        config = activation.get_config()
        return {"name": activation.name, "config": config} if config else activation.name
    return {"class_name": type(activation).__name__, "config": activation.get_config()}


def deserialize(config, custom_objects=None):
    """The inverse of ``serialize``; your own activations come from ``custom_objects``."""
    if isinstance(config, str) or "class_name" not in config:
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
