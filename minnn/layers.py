"""Layers: Input, Dense, Flatten, Dropout, activations as layers, Add and Concatenate, each
with a hand-written backward pass.

The contract every layer keeps (cs231n's, with micrograd's ``+=``):

- ``forward(x)`` computes the output and keeps what backward needs in the one
  slot ``self.cache``.
- ``backward(dy)`` returns dx = dL/dx and *adds* dL/dθ into ``w.grad`` for each
  of its weights. It never writes into ``dy`` and never changes a weight: only
  an optimiser does. Because gradients accumulate, a layer used twice gets the
  sum of both uses; call ``zero_grad()`` before a fresh backward pass.

Shapes in docstrings: N batch, D input features, M output features.

A layer that behaves differently while training (Dropout) takes
``forward(x, training=False)``; a Model passes ``training`` only to layers whose
forward has that parameter, so every other layer keeps the plain ``forward(x)``.

forward and backward check only what is cheap (the rank and width of what they
are handed, and that backward follows a forward); the full checks on user data
(dtype, NaN, lengths) happen once, at fit / predict / evaluate.
"""
import numbers

import numpy as np

from . import activations, budget, config, graph, initializers, storage, utils


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
    """Base class. Subclasses set up weights in ``build`` and implement forward/backward.

    ``input_shape=(28, 28)`` (or ``input_dim=784``) is accepted, as in Keras, only for
    the first layer of a Sequential model, which then starts with ``Input(input_shape)``.
    """

    def __new__(cls, *args, **kwargs):
        layer = super().__new__(cls)
        # Remembered so that a custom layer without its own get_config saves its
        # constructor arguments (Keras's auto config); see get_config.
        layer._init_config = utils.init_arguments(cls, args, kwargs)
        return layer

    def __init__(self, name=None, dtype=None, input_shape=None, input_dim=None, trainable=True,
                 **kwargs):
        _check_keras_only_arguments(type(self).__name__, name, trainable, kwargs)
        _check_name(name)
        self._declared_input_shape = _declared_shape(input_shape, input_dim, name)
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
        budget.reserve(shape, f"{self.name}/{name}")  # a no-op unless load_model is building
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

    # -- the graph around the layer (Keras's layer.input / layer.output) --------------
    @property
    def input(self):
        """The symbolic input of the layer's first call (a list for several), as in Keras."""
        return self._first_call("inputs", "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call, as in Keras: so
        ``Model(model.inputs, model.get_layer('hidden').output)`` extracts features."""
        return self._first_call("outputs", "output")

    def _first_call(self, attr, what):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            # An AttributeError, as Keras's, so that hasattr(layer, 'output') stays False.
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined {what}.")
        tensors = getattr(nodes[0], attr)
        return tensors[0] if len(tensors) == 1 else list(tensors)

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

    @property
    def non_trainable_weights(self):
        """Always empty: every minnn weight trains (see ``trainable``)."""
        return []

    @property
    def trainable(self):
        """True: minnn has no frozen layers. Setting it to False is refused (NotImplementedError)
        instead of being ignored, since a silently trained "frozen" layer would mislead."""
        return True

    @trainable.setter
    def trainable(self, value):
        if value is not True:
            raise NotImplementedError(
                f"Layer '{self.name}': received trainable={value!r}, but minnn has no frozen "
                "layers (layer.trainable = False is not supported): every weight is trained. "
                "To train only part of a model, move it to Keras with "
                "minnn.interop.to_keras(model).")

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
        # Only now that every array has passed; all of them, even on Ctrl-C.
        utils.copy_all((w.value, arr) for w, arr in zip(own, arrays))

    # -- config ---------------------------------------------------------------
    def get_config(self):
        """What ``from_config`` needs to make this layer again (without its weights).

        A subclass with constructor arguments overrides this and adds them, as in
        Keras. If it does not, the arguments it was constructed with are returned,
        when they are plain JSON values (Keras's auto config).
        """
        config = {"name": self.name, "dtype": self.dtype}
        auto = getattr(self, "_init_config", None)
        if type(self).get_config is Layer.get_config and type(self).__init__ is not Layer.__init__ \
                and auto:
            auto = {k: v for k, v in auto.items()
                    if not (k in ("input_shape", "input_dim") and v is None)}
            config = {"name": self.name, **auto, "dtype": self.dtype}
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name='{self.name}'>"


# Keras layer arguments for features minnn leaves out: refused by name, never ignored.
_KERAS_ONLY = {
    "kernel_regularizer": "weight regularizers (its loss is the compiled loss alone)",
    "bias_regularizer": "weight regularizers (its loss is the compiled loss alone)",
    "activity_regularizer": "activity regularizers (its loss is the compiled loss alone)",
    "kernel_constraint": "weight constraints", "bias_constraint": "weight constraints",
    "lora_rank": "LoRA", "lora_alpha": "LoRA", "quantization_config": "quantization",
    "autocast": "mixed precision", "input_length": "variable-length inputs",
}


def _check_keras_only_arguments(class_name, name, trainable, kwargs):
    """Before the layer takes a name: a Keras argument minnn lacks is a NotImplementedError
    that names it, any other unknown one a TypeError in Keras's words."""
    for key in kwargs:
        if key in _KERAS_ONLY:
            raise NotImplementedError(
                f"{class_name}({key}=...) is not supported by minnn: it has no "
                f"{_KERAS_ONLY[key]}. The README's section 'Where minnn differs from Keras' "
                "lists what minnn leaves out.")
    if kwargs:
        raise TypeError(f"Unrecognized keyword arguments passed to {class_name}: {kwargs}")
    if trainable is not True:
        raise NotImplementedError(
            f"{class_name}(trainable={trainable!r}){f' {name!r}' if name else ''}: minnn has no "
            "frozen layers (trainable=False is not supported): every weight is trained. To "
            "train only part of a model, move it to Keras with minnn.interop.to_keras(model).")


class InputLayer(Layer):
    """The source of a graph: it holds the shape of the data and does no math."""

    def __init__(self, shape=None, name=None, dtype=None, batch_shape=None, batch_size=None):
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        super().__init__(name=name, dtype=dtype)
        self.shape = _check_shape(shape, "InputLayer")
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


def _check_shape(shape, what):
    """(28, 28), [784] or 784 -> a tuple of positive ints; anything else is a clear error."""
    if _is_int(shape):
        shape = (shape,)
    if (not isinstance(shape, (tuple, list)) or len(shape) == 0
            or not all(_is_int(d) and d > 0 for d in shape)):
        raise ValueError(
            f"Invalid shape for {what}: received shape={shape!r}, expected a tuple of positive "
            "integers, the shape of one sample, such as (2,) or (28, 28). (minnn needs every "
            "size known: None, for a variable length, is not supported.)"
        )
    return tuple(int(d) for d in shape)


def _declared_shape(input_shape, input_dim, name):
    if input_shape is None and input_dim is None:
        return None
    import warnings
    warnings.warn(
        "Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential "
        "models, prefer using an `Input(shape)` object as the first layer in the model "
        "instead.", UserWarning, stacklevel=4)
    if input_shape is not None:
        return _check_shape(input_shape, f"layer {name or ''} input_shape".replace("  ", " "))
    return _check_shape((input_dim,), "input_dim")


def make_input_tensor(layer):
    """The symbolic tensor (None, *shape) an InputLayer feeds: what Input() returns."""
    node = graph.Node(layer, [], call_index=0)
    layer._call_count = 1
    node.outputs = [graph.SymbolicTensor((None,) + layer.shape, layer.dtype, node)]
    layer._output_tensor = node.outputs[0]
    layer._inbound_nodes = [node]
    return node.outputs[0]


def Input(shape=None, name=None, dtype=None, batch_size=None, batch_shape=None):
    """A symbolic input of shape (None, *shape): the start of a functional model.

    ``Input(shape=(28, 28))`` is a batch of 28×28 images, (None, 28, 28);
    ``batch_shape=(None, 28, 28)`` says the same. minnn's batch size is always free,
    so ``batch_size`` is accepted and not fixed.
    """
    if shape is None and batch_shape is not None:
        if not isinstance(batch_shape, (tuple, list)) or len(batch_shape) < 2:
            raise ValueError(
                f"Invalid batch_shape for Input: received batch_shape={batch_shape!r}, "
                "expected (batch, *sample shape) such as (None, 28, 28)."
            )
        shape = tuple(batch_shape[1:])
    if shape is None:
        raise ValueError(
            "Input() needs a shape: received shape=None, expected a tuple such as (2,)."
        )
    if batch_size is not None and (not _is_int(batch_size) or batch_size <= 0):
        raise ValueError(f"Invalid batch_size: received batch_size={batch_size!r}.")
    layer = InputLayer(_check_shape(shape, "Input"), name=name, dtype=dtype)
    return make_input_tensor(layer)


class Dense(Layer):
    """A fully connected layer: y = f(x·W + b), with kernel W (D, M) and bias b (M,)."""

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 name=None, dtype=None, **kwargs):
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
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.units = int(units)
        self.use_bias = use_bias
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if not isinstance(input_shape, list) and len(input_shape) > 2:
            flat = int(np.prod(input_shape[1:]))
            raise ValueError(
                f"Layer '{self.name}' (Dense) received an input of shape {tuple(input_shape)}, "
                f"rank {len(input_shape)}. minnn's Dense takes (None, D) only (Keras would "
                "apply it along the last axis). To treat each sample as one vector, put a "
                f"Flatten() layer before it: it turns {tuple(input_shape)} into (None, {flat})."
            )
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
        _build_or_check(self, x)  # a clear error for a wrong x (and a build on first use)
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
        _check_dy(self, dy, y.shape)
        dz = self.activation.backward(dy, z, y)
        self.kernel.grad += x.T @ dz
        if self.bias is not None:
            self.bias.grad += dz.sum(axis=0)  # the bias touched every row: sum over the batch
        return dz @ self.kernel.value.T if need_dx else None

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
        _check_dy(self, dy, y.shape)
        return activations.relu.backward(dy, None, y)


class Flatten(Layer):
    """Each sample as one row: (N, d1, d2, ...) -> (N, d1·d2·...), in C order (as
    ``x.reshape(N, -1)``; (N,) becomes (N, 1)). No weights, no arithmetic.

    data_format='channels_first' moves axis 1 last before flattening, as Keras does,
    so that (N, C, H, W) flattens in the order of (N, H, W, C).
    """

    def __init__(self, data_format=None, name=None, dtype=None, **kwargs):
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"Invalid data_format: received data_format={data_format!r}, expected "
                "'channels_last' or 'channels_first'."
            )
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.data_format = data_format or "channels_last"

    def build(self, input_shape):
        if isinstance(input_shape, list):
            raise ValueError(f"Layer '{self.name}' (Flatten) expects one input, received "
                             f"{len(input_shape)}.")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:])))

    def forward(self, x):
        """y = x.reshape(N, −1).   x: (N, d1, d2, ...) -> y: (N, d1·d2·...)."""
        if not isinstance(x, np.ndarray) or x.ndim < 1:
            raise TypeError(f"Layer '{self.name}'.forward expects a numpy array with a batch "
                            f"axis, received {type(x).__name__} {getattr(x, 'shape', '')}.")
        self.cache = x.shape
        if self.data_format == "channels_first" and x.ndim > 2:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        """dx = dy reshaped back to x's shape.   dy: (N, d1·d2·...) -> dx: (N, d1, d2, ...)."""
        shape = _cached(self)
        _check_dy(self, dy, (shape[0], int(np.prod(shape[1:]))))
        if self.data_format == "channels_first" and len(shape) > 2:
            moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
            return np.moveaxis(dy.reshape(moved), -1, 1)
        return dy.reshape(shape)

    def get_config(self):
        return {"data_format": self.data_format, "name": self.name, "dtype": self.dtype}


class Dropout(Layer):
    """Inverted dropout: while training, each entry is kept with probability keep = 1 − rate
    and scaled by 1/keep, so the expected output equals the input; otherwise the identity.

    Training (fit, train_on_batch, ``model.forward(x, training=True)``):
        mask ~ Bernoulli(keep) of x's shape;  y = mask ⊙ x / keep.
    Inference (predict, evaluate, validation, the default): y = x.

    The mask comes from minnn's seeded generator (``minnn.utils.set_random_seed``), or
    from the layer's own when ``seed`` is given; backward reuses the forward's mask.
    ``noise_shape`` (e.g. (None, 1)) draws a smaller mask and broadcasts it, None
    entries taking x's sizes. Keras draws its masks with JAX's generator, so the
    dropped entries differ from Keras's; their statistics and inference do not.
    """

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None, **kwargs):
        if (isinstance(rate, bool) or not isinstance(rate, numbers.Real)
                or not np.isfinite(rate) or not 0.0 <= rate < 1.0):
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value in "
                f"[0, 1). Received: rate={rate!r}"
                + (" (rate=1 would drop every entry: remove the layer's input instead)"
                   if rate == 1 else "")
            )
        if noise_shape is not None and (not isinstance(noise_shape, (tuple, list))
                                        or not all(d is None or (_is_int(d) and d > 0)
                                                   for d in noise_shape)):
            raise ValueError(
                f"Invalid noise_shape: received noise_shape={noise_shape!r}, expected a tuple "
                "of positive integers or None, such as (None, 1)."
            )
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = None if seed is None else utils.resolve_rng(seed)

    def _mask_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Layer '{self.name}' (Dropout): noise_shape={self.noise_shape} has rank "
                f"{len(self.noise_shape)}, but its input has shape {shape}."
            )
        return tuple(s if d is None else d for d, s in zip(self.noise_shape, shape))

    def forward(self, x, training=False):
        """Training: y = mask ⊙ x / (1 − rate); otherwise y = x.   x: (N, ...) -> y: (N, ...)."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Layer '{self.name}'.forward expects a numpy array, received "
                            f"{type(x).__name__}.")
        if not training or self.rate == 0:
            self.cache = (None, x.shape)
            return x
        keep = 1.0 - self.rate
        rng = self._rng if self._rng is not None else utils.get_rng()
        mask = rng.random(self._mask_shape(x.shape), dtype=np.float32) < keep
        self.cache = (mask, x.shape)
        return np.where(mask, x / np.asarray(keep, dtype=x.dtype), 0).astype(x.dtype, copy=False)

    def backward(self, dy):
        """dx = mask ⊙ dy / (1 − rate) with the forward's mask (dx = dy at inference)."""
        mask, shape = _cached(self)
        _check_dy(self, dy, shape)
        if mask is None:
            return dy
        keep = np.asarray(1.0 - self.rate, dtype=dy.dtype)
        return np.where(mask, dy / keep, 0).astype(dy.dtype, copy=False)

    def get_config(self):
        return {"rate": self.rate, "noise_shape": None if self.noise_shape is None
                else list(self.noise_shape), "seed": self.seed if _is_int(self.seed) else None,
                "name": self.name, "dtype": self.dtype}


class Activation(Layer):
    """An activation as a layer of its own: y = f(x), for x of any shape (softmax: along the
    last axis). ``Activation('softmax')``; Softmax, LeakyReLU and ELU are named versions."""

    def __init__(self, activation, name=None, dtype=None, **kwargs):
        self.activation = activations.get(activation)
        super().__init__(name=name, dtype=dtype, **kwargs)

    def forward(self, x):
        """y = f(x).   x: (N, ...) -> y: (N, ...)."""
        if not isinstance(x, np.ndarray):
            _check_rows(self, "forward", x, None)
        y = self.activation.forward(x)
        self.cache = (x, y)
        return y

    def backward(self, dy):
        """dx = dy ⊙ f'(x) (softmax: its Jacobian-vector product).   dy: (N, ...) -> dx."""
        x, y = _cached(self)
        _check_dy(self, dy, y.shape)
        return self.activation.backward(dy, x, y)

    def get_config(self):
        return {"activation": activations.serialize(self.activation), "name": self.name,
                "dtype": self.dtype}


class Softmax(Activation):
    """y = softmax(x) along the last axis (the only axis minnn supports)."""

    def __init__(self, axis=-1, name=None, dtype=None, **kwargs):
        if axis != -1:
            raise ValueError(f"Softmax: minnn supports axis=-1 only, received axis={axis!r}.")
        super().__init__(activations.softmax, name=name, dtype=dtype, **kwargs)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class LeakyReLU(Activation):
    """y = x if x ≥ 0 else negative_slope·x, with the layer's Keras default 0.3 (the
    activation 'leaky_relu' uses 0.2)."""

    def __init__(self, negative_slope=0.3, name=None, dtype=None, **kwargs):
        super().__init__(activations.LeakyRelu(negative_slope), name=name, dtype=dtype, **kwargs)
        self.negative_slope = self.activation.negative_slope

    def get_config(self):
        return {"negative_slope": self.negative_slope, "name": self.name, "dtype": self.dtype}


class ELU(Activation):
    """y = x if x > 0 else alpha·(eˣ − 1), alpha = 1.0 by default."""

    def __init__(self, alpha=1.0, name=None, dtype=None, **kwargs):
        super().__init__(activations.Elu(alpha), name=name, dtype=dtype, **kwargs)
        self.alpha = self.activation.alpha

    def get_config(self):
        return {"alpha": self.alpha, "name": self.name, "dtype": self.dtype}


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


class Concatenate(Layer):
    """Several inputs side by side along ``axis`` (the last by default, as Keras):
    y = [x₁ | x₂ | …]."""

    def __init__(self, axis=-1, name=None, dtype=None, **kwargs):
        if not _is_int(axis):
            raise TypeError(f"Concatenate expects an integer axis, received axis={axis!r}.")
        self.axis = int(axis)
        super().__init__(name=name, dtype=dtype, **kwargs)

    def _axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:  # axis 0 is the batch: the rows must stay the samples
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) received axis={self.axis} for inputs of rank "
                f"{rank}; expected an axis from 1 to {rank - 1} (or -1, the last).")
        return axis

    def build(self, input_shape):
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) expects a list of at least 2 inputs, received "
                f"input_shape={input_shape!r}.")
        ranks = {len(s) for s in input_shape}
        axis = self._axis(len(input_shape[0])) if len(ranks) == 1 else None
        rest = {tuple(d for i, d in enumerate(s) if i != axis) for s in input_shape}
        if axis is None or len(rest) != 1:
            raise ValueError(
                f"A `Concatenate` layer requires inputs with matching shapes except for the "
                f"concatenation axis. Received: input_shape={input_shape} (layer "
                f"'{self.name}', axis={self.axis}).")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        axis = self._axis(len(input_shape[0]))
        out = list(input_shape[0])
        out[axis] = sum(s[axis] for s in input_shape)
        return tuple(out)

    def forward(self, xs):
        """y = [x₁ | x₂ | …] along axis.   xs: list of (N, Dᵢ) -> y: (N, Σ Dᵢ)."""
        if len(xs) < 2 or any(getattr(x, "ndim", None) != xs[0].ndim or len(x) != len(xs[0])
                              for x in xs):
            raise ValueError(
                f"Layer '{self.name}' (Concatenate) expects at least 2 arrays with one batch "
                f"size and rank, received shapes "
                f"{[getattr(x, 'shape', type(x).__name__) for x in xs]}.")
        axis = self._axis(xs[0].ndim)
        self.cache = (axis, np.cumsum([x.shape[axis] for x in xs[:-1]]))
        return np.concatenate(xs, axis=axis)

    def backward(self, dy):
        """dxᵢ = dy's block of columns for xᵢ.   dy: (N, Σ Dᵢ) -> list of (N, Dᵢ)."""
        axis, cuts = _cached(self)
        # Views into dy: each input gets its own block, and no one downstream writes into it.
        return np.split(dy, cuts, axis=axis)

    def get_config(self):
        return {"axis": self.axis, "name": self.name, "dtype": self.dtype}


def concatenate(inputs, axis=-1, **kwargs):
    """Keras's functional form: ``concatenate([a, b])`` is ``Concatenate()([a, b])``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    """Keras's functional form of Add: ``add([a, b])`` is ``Add()([a, b])``."""
    return Add(**kwargs)(inputs)


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


def _build_or_check(layer, x):
    """Before Dense.forward: build ``layer`` for x's width on its first call on an array
    (as Keras does), and refuse any x that is not an (N, D) array of the built width D."""
    if layer.kernel is None:
        _check_rows(layer, "forward", x, None)
        layer.build((None, x.shape[1]))
    if (not isinstance(x, np.ndarray) or x.ndim != 2
            or x.shape[1] != layer.kernel.value.shape[0]):
        _check_rows(layer, "forward", x, layer.kernel.value.shape[0])


def _check_dy(layer, dy, shape):
    """Refuse a dy that does not have the shape of the output it is the gradient of."""
    if getattr(dy, "shape", None) != shape:  # shape: a tuple, as numpy's shapes are
        raise ValueError(
            f"Layer '{layer.name}'.backward expects dy of the output's shape {shape}, "
            f"received {getattr(dy, 'shape', type(dy).__name__)}."
        )


def _cached(layer):
    if layer.cache is None:
        raise RuntimeError(
            f"Layer '{layer.name}'.backward was called before forward: there is no cached "
            "forward pass to differentiate. Call forward(x) first."
        )
    return layer.cache


LAYER_CLASSES = {cls.__name__: cls for cls in (InputLayer, Dense, ReLU, Add, Concatenate, Flatten,
                                                Dropout, Activation, Softmax, LeakyReLU, ELU)}


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
