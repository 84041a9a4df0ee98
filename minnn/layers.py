"""Layers: Input, Dense, ReLU and Add, each with a hand-written backward pass.

The contract every layer keeps (cs231n's, with micrograd's ``+=``):

- ``forward(x)`` computes the output and keeps what backward needs in the one
  slot ``self.cache``.
- ``backward(dy)`` returns dx = dL/dx and *adds* dL/dθ into ``w.grad`` for each
  of its weights. It never writes into ``dy`` and never changes a weight: only
  an optimiser does. Because gradients accumulate, a layer used twice gets the
  sum of both uses; call ``zero_grad()`` before a fresh backward pass.

Shapes in docstrings: N batch, D input features, M output features.

forward and backward check only what is cheap (the rank and width of what they
are handed, and that backward follows a forward); the full checks on user data
(dtype, NaN, lengths) happen once, at fit / predict / evaluate.
"""
import numbers

import numpy as np

from . import activations, config, graph, initializers, storage, utils


class Weight:
    """A trainable array and, beside it, the gradient of the loss with respect to it.

    The array is allocated once (next to the previous weights, see ``storage``)
    and never replaced: ``weight.value`` is the live array for as long as the
    weight exists, and assigning to it copies the new numbers into that array.
    """

    __slots__ = ("name", "_value", "grad")

    def __init__(self, name, value):
        value = np.asarray(value)
        self.name = name
        self._value, self.grad = storage.allocate(value.shape, value.dtype)
        self._value[...] = value

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, new):
        # Into the existing array: models, optimisers and the learner's own
        # references all keep pointing at the live weights.
        new = np.asarray(new)
        if new.shape != self._value.shape:
            raise ValueError(
                f"Weight {self.name} has shape {self._value.shape}; received an array of "
                f"shape {new.shape}."
            )
        self._value[...] = new

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def numpy(self):
        return self.value.copy()

    def __repr__(self):
        return f"<Weight {self.name} shape={self.shape} dtype={self.dtype}>"


def _check_name(name):
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ValueError(
            f"Invalid layer name: received name={name!r}, expected a non-empty string "
            "without '/'."
        )


class Layer:
    """Base class. Subclasses set up weights in ``build`` and implement forward/backward."""

    def __init__(self, name=None, dtype=None):
        _check_name(name)
        self.name = name or utils.unique_name(utils.to_snake_case(type(self).__name__))
        self.dtype = config.standardize_dtype(dtype)
        self.built = False
        self.cache = None
        self._weights = []
        self._input_shape = None   # the shape the layer was built for, e.g. (None, 2)
        self._call_count = 0

    # -- building -----------------------------------------------------------
    def __call__(self, inputs):
        return graph.record_call(self, inputs)

    def build(self, input_shape):
        self._input_shape = input_shape
        self.built = True

    def add_weight(self, name, shape, initializer):
        value = initializers.get(initializer)(shape, self.dtype)
        w = Weight(f"{self.name}/{name}", value)
        self._weights.append(w)
        return w

    def check_input_shape(self, input_shape):
        """On a second call, the input must match the one the layer was built for."""
        expected = self._input_shape
        if expected is None:
            return
        exp_list = expected if isinstance(expected, list) else [expected]
        got_list = input_shape if isinstance(input_shape, list) else [input_shape]
        if len(exp_list) != len(got_list):
            raise ValueError(
                f"Layer '{self.name}' expects {len(exp_list)} input(s), but it received "
                f"{len(got_list)} input tensors."
            )
        for i, (e, g) in enumerate(zip(exp_list, got_list)):
            if tuple(e[1:]) != tuple(g[1:]):
                raise ValueError(
                    f"Input {i} of layer '{self.name}' is incompatible with the layer: "
                    f"expected shape={tuple(e)}, found shape={tuple(g)}"
                )

    def compute_output_shape(self, input_shape):
        return input_shape

    # -- math -----------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    # -- weights --------------------------------------------------------------
    @property
    def weights(self):
        """This layer's Weight objects, in Keras order (kernel, then bias)."""
        return list(self._weights)

    trainable_weights = weights

    def zero_grad(self):
        for w in self.weights:
            w.grad[...] = 0

    def count_params(self):
        return int(sum(w.value.size for w in self.weights))

    def get_weights(self):
        return [w.value.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights, after checking the count and every shape."""
        own = self.weights
        if not isinstance(weights, (list, tuple)):
            raise TypeError(
                f"set_weights expects a list of arrays, received {type(weights).__name__}."
            )
        if len(weights) != len(own):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight "
                f"list of length {len(weights)}, but the layer was expecting {len(own)} "
                f"weights: {[w.name for w in own]}."
            )
        arrays = []
        for w, new in zip(own, weights):
            try:
                arr = np.asarray(new)
            except (TypeError, ValueError) as e:
                raise TypeError(f"Weight {w.name} received a non-numeric value: {e}") from None
            if arr.shape != w.shape:
                raise ValueError(
                    f"Weight {w.name} has shape {w.shape}, but set_weights received an "
                    f"array of shape {arr.shape}."
                )
            if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
                raise TypeError(
                    f"Weight {w.name} expects real numbers, received dtype={arr.dtype}."
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"Weight {w.name} received NaN or inf values.")
            arrays.append(arr)
        for w, arr in zip(own, arrays):  # only now that every array has passed
            w.value[...] = arr

    # -- config ---------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}'>"


class InputLayer(Layer):
    """The source of a graph: it holds the shape of the data and does no math."""

    def __init__(self, shape, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.shape = shape
        self._input_shape = (None,) + shape
        self.built = True

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"shape": list(self.shape), "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(shape=tuple(config["shape"]), name=config["name"], dtype=config["dtype"])


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def Input(shape=None, name=None, dtype=None):
    """A symbolic input of shape (None, *shape): the start of a functional model."""
    if shape is None:
        raise ValueError(
            "Input() needs a shape: received shape=None, expected a tuple such as (2,)."
        )
    if _is_int(shape):
        shape = (shape,)
    if (not isinstance(shape, (tuple, list)) or len(shape) != 1
            or not all(_is_int(d) and d > 0 for d in shape)):
        raise ValueError(
            f"Invalid shape for Input: received shape={shape!r}, expected a tuple with one "
            "positive integer, the number of features, such as (2,). minnn works on "
            "flat feature vectors: reshape images to (N, height*width) first."
        )
    layer = InputLayer(tuple(int(d) for d in shape), name=name, dtype=dtype)
    node = graph.Node(layer, [], call_index=0)
    layer._call_count = 1
    node.outputs = [graph.SymbolicTensor((None,) + layer.shape, layer.dtype, node)]
    return node.outputs[0]


class Dense(Layer):
    """A fully connected layer: y = f(x·W + b), with kernel W (D, M) and bias b (M,)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None, dtype=None):
        if not _is_int(units) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        if not isinstance(use_bias, bool):
            raise TypeError(f"`use_bias` must be True or False, received use_bias={use_bias!r}.")
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        super().__init__(name=name, dtype=dtype)
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if isinstance(input_shape, list) or len(input_shape) != 2:
            raise ValueError(
                f"Layer '{self.name}' expects one input of shape (None, D), received "
                f"input_shape={input_shape!r}."
            )
        super().build(input_shape)
        # Keras's order: the kernel is drawn first, then the bias.
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def forward(self, x):
        """y = f(x·W + b).   x: (N, D), W: (D, M), b: (M,) -> y: (N, M)."""
        if self.kernel is None:  # called on an array before any graph: build now, as Keras does
            _check_rows(self, "forward", x, None)
            self.build((None, x.shape[1]))
        if (not isinstance(x, np.ndarray) or x.ndim != 2
                or x.shape[1] != self.kernel.value.shape[0]):
            _check_rows(self, "forward", x, self.kernel.value.shape[0])
        z = x @ self.kernel.value
        if self.bias is not None:
            z += self.bias.value  # z is a fresh array, so adding in place is safe
        y = self.activation.forward(z)
        self.cache = (x, z, y)
        return y

    def backward(self, dy, need_dx=True):
        """dz = dy ⊙ f'(z);  dW += xᵀ·dz;  db += Σₙ dz;  dx = dz·Wᵀ.   dy: (N, M) -> dx: (N, D).

        With need_dx=False, dx is not computed and None is returned: fit asks for
        that on the first layer, whose x is the data (a (N, M)·(M, D) product saved).
        """
        x, z, y = _cached(self)
        if dy.shape != y.shape:
            _wrong_dy(self, dy, y.shape)
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad += x.T @ dz
        if self.bias is not None:
            self.bias.grad += dz.sum(axis=0)  # the bias touched every row: sum over the batch
        if not need_dx:
            return None
        return dz @ self.kernel.value.T

    def get_config(self):
        return {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "name": self.name,
            "dtype": self.dtype,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["kernel_initializer"] = initializers.deserialize(config["kernel_initializer"])
        config["bias_initializer"] = initializers.deserialize(config["bias_initializer"])
        return cls(**config)


class ReLU(Layer):
    """The rectifier as a layer of its own: y = max(x, 0)."""

    def forward(self, x):
        """y = max(x, 0).   x: (N, D) -> y: (N, D)."""
        if not isinstance(x, np.ndarray):
            _check_rows(self, "forward", x, None)
        y = activations.relu.forward(x)
        self.cache = y
        return y

    def backward(self, dy):
        """dx = dy ⊙ [x > 0]  (0 at the kink).   dy: (N, D) -> dx: (N, D)."""
        y = _cached(self)
        if dy.shape != y.shape:
            _wrong_dy(self, dy, y.shape)
        return activations.relu.backward(dy, None, y)


class Add(Layer):
    """Elementwise sum of several inputs of the same shape: y = x₁ + x₂ + …"""

    def build(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' (Add) expects a list of at least 2 inputs, received "
                f"input_shape={input_shape!r}."
            )
        if len({tuple(s) for s in input_shape}) != 1:
            raise ValueError(
                f"Layer '{self.name}' (Add) expects inputs of one shape, received "
                f"shapes {input_shape}."
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def forward(self, xs):
        """y = Σᵢ xᵢ.   xs: list of (N, D) -> y: (N, D)."""
        if len(xs) < 2 or any(x.shape != xs[0].shape for x in xs):  # never broadcast
            raise ValueError(
                f"Layer '{self.name}' (Add) expects at least 2 arrays of one shape, received "
                f"shapes {[getattr(x, 'shape', type(x).__name__) for x in xs]}."
            )
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        self.cache = len(xs)
        return y

    def backward(self, dy):
        """dxᵢ = dy for every input.   dy: (N, D) -> list of (N, D)."""
        # The same array is handed to every input; no one downstream writes into it.
        return [dy] * _cached(self)


def _check_rows(layer, method, x, width):
    """Raise a clear error unless x is a 2-D array (N, width); width None: any width."""
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"Layer '{layer.name}'.{method} expects a numpy array of shape (N, D), received "
            f"{type(x).__name__}. (model.predict converts lists for you.)"
        )
    expected = f"(N, {width})" if width is not None else "(N, D)"
    if x.ndim != 2 or (width is not None and x.shape[1] != width):
        raise ValueError(
            f"Layer '{layer.name}'.{method} expects an array of shape {expected}, received "
            f"shape {x.shape}." + (f" For one sample, pass x.reshape(1, {width or -1})."
                                   if x.ndim == 1 else "")
        )


def _wrong_dy(layer, dy, shape):
    raise ValueError(
        f"Layer '{layer.name}'.backward expects dy of the output's shape {shape}, received "
        f"{getattr(dy, 'shape', type(dy).__name__)}."
    )


def _cached(layer):
    if layer.cache is None:
        raise RuntimeError(
            f"Layer '{layer.name}'.backward was called before forward: there is no cached "
            "forward pass to differentiate. Call forward(x) first."
        )
    return layer.cache


LAYER_CLASSES = {cls.__name__: cls for cls in (InputLayer, Dense, ReLU, Add)}
