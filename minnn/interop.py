"""Move a model between minnn and real Keras 3, with its weights and its training state.

- ``to_keras(model)`` returns the equivalent ``keras.Model``: the same layers, names and
  nesting, the same weights, and, when the minnn model is compiled, the same loss and
  optimiser with the optimiser's state (Adam's iterations, m and v), so that training goes
  on in Keras exactly where minnn left off.
- ``from_keras(keras_model)`` does the reverse for models built from layers minnn has.

Both first look at the whole model, its loss and its optimiser. If anything has no
counterpart on the other side, they raise one ``UnsupportedError`` that lists every such
piece by its class name, before anything is built.

Weights are paired by layer (the converted layer keeps its name) and then by weight name
(``kernel``, ``bias``), never by position in a flat list, so a graph whose layer order
differs between the two frameworks still gets each array in the right place.

Keras is optional. minnn never imports it until one of these functions is called. Keras 3
picks its backend once, when it is first imported, from ``KERAS_BACKEND``. If that variable
is unset and Keras is not imported yet, minnn sets it to ``jax`` (the CPU backend that
``pip install -e ".[keras]"`` installs), instead of letting Keras fall back on TensorFlow.
If Keras was already imported, its backend cannot change any more: minnn then works with
that backend (TensorFlow or PyTorch work too, their float32 round-off differs a little from
JAX's); to get JAX, set ``KERAS_BACKEND=jax`` before anything imports Keras.
"""
import os
import sys
import warnings

import numpy as np

from . import activations, losses, optimizers, utils
from . import layers as layers_module

INSTALL_HINT = 'pip install -e ".[keras]"   (from a clone of minnn; or: pip install keras jax)'


class UnsupportedError(ValueError):
    """A model, loss or optimiser with pieces the other framework does not have.

    ``pieces`` is the list of descriptions, one per unsupported piece.
    """

    def __init__(self, what, pieces, lacking="the other side"):
        self.pieces = list(pieces)
        lines = "\n".join(f"  - {p}" for p in self.pieces)
        super().__init__(
            f"{what} uses {len(self.pieces)} piece(s) that {lacking} does not have; "
            f"nothing was built:\n{lines}"
        )


# ---------------------------------------------------------------------------
# Importing Keras (only here, only when asked)
# ---------------------------------------------------------------------------
def import_keras():
    """Import Keras 3 and return the module, choosing the JAX backend if none is set.

    Raises ImportError with the install command when Keras (or its backend) is missing.
    """
    if "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        # Keras reads the variable at import time; unset, it would try TensorFlow.
        os.environ["KERAS_BACKEND"] = "jax"
    try:
        import keras
    except ImportError as e:
        backend = os.environ.get("KERAS_BACKEND")
        raise ImportError(
            f"minnn.interop needs Keras 3 and its backend ({backend!r}), which could not be "
            f"imported ({e}). Install them with:\n    {INSTALL_HINT}\n"
            "or set KERAS_BACKEND to a backend that is installed."
        ) from e
    major = int(str(keras.__version__).split(".")[0])
    if major < 3:
        raise ImportError(
            f"minnn.interop needs Keras 3; found Keras {keras.__version__}. "
            f"Upgrade with:\n    {INSTALL_HINT}"
        )
    return keras


def keras_available():
    """True if Keras 3 and its backend can be imported (imports them to find out)."""
    try:
        import_keras()
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------
# Small shared helpers
# ---------------------------------------------------------------------------
def _round32(value):
    """A float32 hyper-parameter as the short decimal it came from (0.0010000000474974513 -> 0.001)."""
    return float(str(np.float32(value)))


def _minnn_model_class():
    from .models import Model
    return Model


def _minnn_sequential_class():
    try:
        from .sequential import Sequential
    except ImportError:  # a minnn without Sequential: Keras Sequentials become functional
        return None
    return Sequential


def _is_minnn_model(layer):
    return isinstance(layer, _minnn_model_class())


# Per optimiser, the names of Keras's slot lists in the order minnn's get_state() lists
# its arrays (all of one kind for every parameter, then the next kind).
_KERAS_SLOTS = {
    "Adam": ["_momentums", "_velocities"],
    "SGD": ["momentums"],
    "RMSprop": ["_velocities", "_momentums", "_average_gradients"],
}

# Keras optimiser options that change the numbers and that minnn does not implement:
# each is supported only at the value given here (Keras's default).
_KERAS_OPT_DEFAULTS = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "loss_scale_factor": None, "gradient_accumulation_steps": None,
    "amsgrad": False,
}
_KERAS_OPT_IGNORED = {"name", "ema_momentum", "ema_overwrite_frequency"}


def _minnn_optimizer_classes():
    return {name: getattr(optimizers, name) for name in ("SGD", "Adam", "RMSprop")
            if hasattr(optimizers, name)}


# ---------------------------------------------------------------------------
# minnn -> Keras
# ---------------------------------------------------------------------------
def _minnn_nodes(model):
    """(layer, input tensors, as_list) for each call in ``model``, in topological order."""
    out = []
    for node in model._nodes:
        as_list = len(node.inputs) > 1 or isinstance(node.layer._input_shape, list)
        out.append((node, as_list))
    return out


def _minnn_leaf_layers(model, seen=None):
    """Every layer of ``model`` once, descending into nested models (models included)."""
    seen = set() if seen is None else seen
    for layer in model.layers:
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        if _is_minnn_model(layer):
            yield from _minnn_leaf_layers(layer, seen)


def _minnn_activation_name(act):
    name = getattr(act, "name", None)
    try:
        if name is not None and activations.get(name) is act:
            return name
    except ValueError:
        pass
    return None


def _minnn_layer_problems(layer, keras):
    kind = type(layer).__name__
    where = f"{kind} '{layer.name}'"
    if _is_minnn_model(layer) or kind == "InputLayer":
        return []
    if not hasattr(keras.layers, kind):
        return [f"{kind} (layer '{layer.name}'): Keras has no layer of that name"]
    problems = []
    act = getattr(layer, "activation", None) if kind in ("Dense", "Activation") else None
    if act is not None and not isinstance(act, str):
        name = _minnn_activation_name(act)
        if name is None or not _keras_has_activation(keras, name):
            problems.append(f"activation {type(act).__name__} ({where})")
    if kind not in _TO_KERAS:
        problems.append(f"{kind} (layer '{layer.name}'): minnn.interop cannot convert it yet")
    return problems


def _keras_has_activation(keras, name):
    try:
        keras.activations.get(name)
        return True
    except (ValueError, TypeError):
        return False


def _loss_name(fn):
    try:
        return losses.serialize(fn)["class_name"]
    except (ValueError, KeyError):
        return None


def _minnn_compile_problems(model, keras):
    if not getattr(model, "compiled", False):
        return []
    problems = []
    for out, fn in zip(model.output_names, model._loss_fns):
        name = _loss_name(fn)
        if name is None or not hasattr(keras.losses, name):
            problems.append(
                f"{type(fn).__name__} (loss of output '{out}'): a custom minnn loss has no Keras "
                "counterpart; compile with a built-in loss such as 'mse' to move the model"
            )
    opt = model.optimizer
    kind = type(opt).__name__
    if kind not in _KERAS_SLOTS or not hasattr(keras.optimizers, kind):
        problems.append(f"{kind} (optimizer)")
    for out, spec in zip(model.output_names, getattr(model, "_metric_specs", None) or []):
        for identifier in spec:
            if _keras_metric(keras, identifier) is None:
                problems.append(f"{_describe(identifier)} (metric of output '{out}')")
    return problems


def _describe(obj):
    if isinstance(obj, str):
        return repr(obj)
    if callable(obj) and not isinstance(obj, type) and hasattr(obj, "__name__"):
        return f"function {obj.__name__!r}"
    return type(obj).__name__


def _keras_metric(keras, identifier):
    """The Keras counterpart of one of minnn's metric identifiers, or None."""
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return identifier
        try:
            keras.metrics.get(identifier)
        except (ValueError, TypeError):
            return None
        return identifier
    if isinstance(identifier, type):
        identifier = identifier()
    from . import metrics as metrics_module
    if isinstance(identifier, metrics_module.Metric):
        cls = getattr(keras.metrics, type(identifier).__name__, None)
        if cls is None or type(identifier).__name__ in ("Mean", "MeanMetricWrapper"):
            return None
        return cls(name=identifier.name)
    name = getattr(identifier, "__name__", None)
    if name is None or identifier not in getattr(metrics_module, "_FUNCTIONS", {}):
        return None  # a user's own function: NumPy code that Keras cannot run
    try:
        return keras.metrics.get(name)
    except (ValueError, TypeError):
        return None


def _keras_initializer(init, keras):
    from . import initializers
    try:
        cfg = initializers.serialize(init)
    except ValueError:
        return None
    return keras.initializers.get({"class_name": cfg["class_name"], "config": cfg["config"]})


def _dense_to_keras(layer, keras):
    kwargs = {}
    for key in ("kernel_initializer", "bias_initializer"):
        init = _keras_initializer(getattr(layer, key), keras)
        if init is not None:
            kwargs[key] = init
    return keras.layers.Dense(layer.units, activation=_minnn_activation_name(layer.activation),
                              use_bias=layer.use_bias, name=layer.name, dtype=layer.dtype, **kwargs)


def _config_to_keras(layer, keras):
    """Layers whose minnn get_config() uses Keras's argument names (Add, ReLU, Flatten, ...)."""
    cfg = dict(layer.get_config())
    return getattr(keras.layers, type(layer).__name__)(**cfg)


_TO_KERAS = {
    "Dense": _dense_to_keras,
    **{kind: _config_to_keras for kind in ("Add", "Concatenate", "ReLU", "Flatten", "Dropout",
                                           "Activation", "Softmax", "LeakyReLU", "ELU")},
}


class _ToKeras:
    """One conversion minnn -> Keras: memos so that shared layers and inputs stay shared."""

    def __init__(self, keras):
        self.keras = keras
        self.layers = {}    # id(minnn layer) -> keras layer or model
        self.tensors = {}   # id(minnn symbolic tensor) -> keras tensor
        self.pairs = []     # (minnn leaf layer, keras layer), for the weights

    def layer(self, layer):
        if id(layer) in self.layers:
            return self.layers[id(layer)]
        if _is_minnn_model(layer):
            made = self.model(layer)
        else:
            made = _TO_KERAS[type(layer).__name__](layer, self.keras)
            self.pairs.append((layer, made))
        self.layers[id(layer)] = made
        return made

    def input_tensor(self, t):
        if id(t) not in self.tensors:
            layer = t.layer
            self.tensors[id(t)] = self.keras.Input(shape=tuple(layer.shape), name=layer.name,
                                                   dtype=layer.dtype)
        return self.tensors[id(t)]

    def model(self, model):
        keras = self.keras
        seq_cls = _minnn_sequential_class()
        if seq_cls is not None and isinstance(model, seq_cls):
            inner = [self.layer(l) for l in model.layers if type(l).__name__ != "InputLayer"]
            first = model.inputs[0].layer
            return keras.Sequential(
                [keras.Input(shape=tuple(first.shape), name=first.name, dtype=first.dtype)]
                + inner, name=model.name)
        ins = [self.input_tensor(t) for t in model.inputs]
        for node, as_list in _minnn_nodes(model):
            if not node.inputs:
                continue  # an Input: made above
            args = [self.tensors[id(t)] for t in node.inputs]
            out = self.layer(node.layer)(args if as_list else args[0])
            outs = out if isinstance(out, (list, tuple)) else [out]
            for t, kt in zip(node.outputs, outs):
                self.tensors[id(t)] = kt
        outs = [self.tensors[id(t)] for t in model.outputs]
        return keras.Model(ins if model._multi_in else ins[0],
                           outs if model._multi_out else outs[0], name=model.name)


def _weight_key(weight):
    """'encoder/dense/kernel' -> 'kernel': a weight's own name within its layer."""
    return weight.name.rsplit("/", 1)[-1]


def _paired_weights(pairs):
    """[(minnn Weight, keras Variable)] for every weight, matched by layer and weight name."""
    out = []
    for mlayer, klayer in pairs:
        kvars = {v.name.rsplit("/", 1)[-1]: v for v in klayer.weights}
        mws = mlayer.weights
        if sorted(kvars) != sorted(_weight_key(w) for w in mws):
            raise RuntimeError(
                f"Layer '{mlayer.name}': minnn has weights {[_weight_key(w) for w in mws]}, "
                f"Keras has {sorted(kvars)}."
            )
        for w in mws:
            out.append((w, kvars[_weight_key(w)]))
    return out


def _minnn_state_by_weight(model):
    """minnn's optimiser state as {kind index: [array per weight in model.weights order]}."""
    opt = model.optimizer
    state = opt.get_state()
    weights = model.weights
    if not state:
        return []
    total = sum(w.value.size for w in weights)
    size = sum(a.size for a in state)
    if size % total:
        raise RuntimeError(
            f"The {type(opt).__name__} state holds {size} numbers, which is not a whole "
            f"number of copies of the model's {total} parameters."
        )
    kinds = size // total
    flat = np.concatenate([a.ravel() for a in state])
    per_kind = []
    for k in range(kinds):
        part, start, arrays = flat[k * total:(k + 1) * total], 0, []
        for w in weights:
            arrays.append(part[start:start + w.value.size].reshape(w.shape))
            start += w.value.size
        per_kind.append(arrays)
    return per_kind


def to_keras(model):
    """The ``keras.Model`` equivalent to the minnn ``model``: layers, names, nesting,
    weights and, if the model is compiled, its loss, optimiser and optimiser state."""
    if not _is_minnn_model(model):
        raise TypeError(
            f"to_keras expects a minnn Model, received {type(model).__name__}."
        )
    if not getattr(model, "built", False) or not getattr(model, "inputs", None):
        raise ValueError(
            f"The minnn model '{model.name}' is not built yet, so it has no weights to move. "
            "Start it with minnn.Input(shape=...), or call model.build((None, ...)) or fit "
            "it once, then convert it."
        )
    keras = import_keras()
    problems = []
    for layer in _minnn_leaf_layers(model):
        problems += _minnn_layer_problems(layer, keras)
    problems += _minnn_compile_problems(model, keras)
    if problems:
        raise UnsupportedError(f"The minnn model '{model.name}'", problems, "Keras")

    conv = _ToKeras(keras)
    kmodel = conv.model(model)
    pairs = _paired_weights(conv.pairs)
    for w, v in pairs:
        # A copy: on the CPU, JAX may wrap a NumPy array without copying it, and minnn
        # updates its weights in place, so the Keras model would train on minnn's changes.
        v.assign(np.array(w.value, copy=True))
    if getattr(model, "compiled", False):
        _compile_keras(model, kmodel, pairs, keras)
    return kmodel


def _compile_keras(model, kmodel, pairs, keras):
    loss_objs = []
    for fn in model._loss_fns:
        cls = getattr(keras.losses, _loss_name(fn))
        cfg = {k: v for k, v in fn.get_config().items() if k != "name"}
        loss_objs.append(cls(**cfg))
    loss = loss_objs[0] if len(loss_objs) == 1 else loss_objs
    opt = model.optimizer
    kopt = getattr(keras.optimizers, type(opt).__name__)(**opt.get_config())
    kwargs = {}
    weights = getattr(model, "_loss_weights", None)
    if weights is not None:
        kwargs["loss_weights"] = list(weights)
    specs = getattr(model, "_metric_specs", None)
    if specs:
        per_output = [[_keras_metric(keras, i) for i in spec] for spec in specs]
        kwargs["metrics"] = per_output[0] if len(per_output) == 1 else \
            {n: m for n, m in zip(model.output_names, per_output) if m}
    kmodel.compile(optimizer=kopt, loss=loss, **kwargs)
    if opt.iterations == 0 and not opt.get_state():
        return
    kopt.build(kmodel.trainable_variables)
    kopt.iterations.assign(int(opt.iterations))
    per_kind = _minnn_state_by_weight(model)
    if not per_kind:
        return
    slots = [getattr(kopt, s, None) for s in _KERAS_SLOTS[type(opt).__name__]]
    slots = [s for s in slots if s][:len(per_kind)]
    if len(slots) != len(per_kind):
        raise RuntimeError(
            f"minnn's {type(opt).__name__} holds {len(per_kind)} kinds of state, Keras's "
            f"{len(slots)}."
        )
    index = {id(w): i for i, w in enumerate(model.weights)}
    for slot, arrays in zip(slots, per_kind):
        for w, v in pairs:
            slot[kopt._get_variable_index(v)].assign(np.array(arrays[index[id(w)]], copy=True))


# ---------------------------------------------------------------------------
# Keras -> minnn
# ---------------------------------------------------------------------------
def _keras_class(obj):
    return type(obj).__name__


def _keras_is_model(keras, layer):
    return isinstance(layer, keras.Model)


def _keras_nodes(kmodel):
    """(node, as_list) for each call inside ``kmodel``, in topological order, from its inputs
    to its outputs. A node's ``input_tensors`` and ``outputs`` are Keras tensors."""
    input_ids = {id(t) for t in kmodel.inputs}
    order, seen = [], set()

    def visit(t):
        if id(t) in input_ids:
            return
        op, node_index, _ = t._keras_history
        node = op._inbound_nodes[node_index]
        if id(node) in seen:
            return
        seen.add(id(node))
        for parent in node.input_tensors:
            visit(parent)
        order.append(node)

    for t in kmodel.outputs:
        visit(t)
    out = []
    for node in order:
        args = node.arguments.args
        as_list = len(args) == 1 and isinstance(args[0], (list, tuple))
        out.append((node, as_list))
    return out


def _keras_all_layers(keras, kmodel, seen=None):
    """Every layer reached from ``kmodel``'s outputs once, descending into nested models."""
    seen = set() if seen is None else seen
    found = []
    for t in kmodel.inputs:
        op = t._keras_history[0]
        if id(op) not in seen:
            seen.add(id(op))
            found.append(op)
    for node, _ in _keras_nodes(kmodel):
        op = node.operation
        if id(op) in seen:
            continue
        seen.add(id(op))
        found.append(op)
        if _keras_is_model(keras, op):
            found += _keras_all_layers(keras, op, seen)
    return found


def _keras_dtype(layer):
    policy = getattr(layer, "dtype_policy", None)
    return getattr(policy, "name", None) or getattr(layer, "dtype", None)


# Keras layer options minnn does not implement; each must have this (Keras's default) value.
_KERAS_LAYER_DEFAULTS = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "lora_rank": None,
    "quantization_config": None,
}
_KERAS_INITIALIZERS = {"GlorotUniform": "glorot_uniform", "Zeros": "zeros", "Ones": "ones"}


def _keras_activation_name(cfg_value):
    if isinstance(cfg_value, str):
        return cfg_value
    if isinstance(cfg_value, dict):
        return cfg_value.get("config", {}).get("name") or cfg_value.get("class_name")
    return repr(cfg_value)


def _keras_layer_problems(keras, layer):
    kind = _keras_class(layer)
    where = f"{kind} '{layer.name}'"
    if _keras_is_model(keras, layer):
        if kind not in ("Functional", "Sequential"):
            return [f"{kind} (model '{layer.name}'): a subclassed keras.Model has no graph "
                    "to copy; build it with the functional API or Sequential"]
        return []
    problems = []
    dtype = _keras_dtype(layer)
    if dtype not in ("float32", "float64"):
        problems.append(f"dtype {dtype!r} ({where}): minnn computes in float32 or float64")
    if not layer.trainable and layer.weights:
        problems.append(f"trainable=False ({where}): minnn trains every weight")
    if kind == "InputLayer":
        shape = tuple(layer.batch_shape[1:])
        if len(shape) != 1 and "Flatten" not in layers_module.LAYER_CLASSES:
            problems.append(f"InputLayer '{layer.name}' of shape {shape}: minnn's Input takes "
                            "flat feature vectors, shape (D,)")
        elif any(d is None for d in shape):
            problems.append(f"InputLayer '{layer.name}' of shape {shape}: minnn needs every "
                            "dimension but the batch to be known")
        return problems
    if kind not in _FROM_KERAS or kind not in layers_module.LAYER_CLASSES:
        return problems + [kind + (f" (layer '{layer.name}')")]
    cfg = layer.get_config()
    for key, default in _KERAS_LAYER_DEFAULTS.items():
        if cfg.get(key, default) != default:
            value = cfg[key]
            shown = value.get("class_name", value) if isinstance(value, dict) else value
            problems.append(f"{key}={shown} ({where})")
    if "activation" in cfg:
        name = _keras_activation_name(cfg["activation"])
        try:
            activations.get(name)
        except ValueError:
            problems.append(f"activation '{name}' ({where})")
    problems += _FROM_KERAS_CHECKS.get(kind, lambda c, w: [])(cfg, where)
    if kind == "Dense":
        ranks = {len(n.input_tensors[0].shape) for n in layer._inbound_nodes if n.input_tensors}
        if any(r != 2 for r in ranks):
            problems.append(f"{where} on an input of rank {max(ranks)}: minnn's Dense takes "
                            "(N, D); put a Flatten before it")
    return problems


def _relu_checks(cfg, where):
    bad = [f"{k}={cfg.get(k)}" for k, d in (("max_value", None), ("negative_slope", 0.0),
                                           ("threshold", 0.0)) if cfg.get(k, d) not in (d, 0)]
    return [f"ReLU option {b} ({where})" for b in bad]


def _softmax_checks(cfg, where):
    axis = cfg.get("axis", -1)
    return [] if axis in (-1, [-1]) else [f"Softmax option axis={axis} ({where}): minnn "
                                          "takes the softmax along the last axis only"]


_FROM_KERAS_CHECKS = {"ReLU": _relu_checks, "Softmax": _softmax_checks}


def _minnn_initializer(cfg_value, layer_name, key):
    cls = cfg_value.get("class_name") if isinstance(cfg_value, dict) else cfg_value
    name = _KERAS_INITIALIZERS.get(cls, cls if isinstance(cls, str) else None)
    from . import initializers
    try:
        init = initializers.get(name)
    except ValueError:
        warnings.warn(
            f"Dense '{layer_name}': minnn has no {key} {cls!r}; the weights are copied exactly, "
            "but the minnn layer records glorot_uniform/zeros as its initializer.",
            stacklevel=4)
        return None
    seed = (cfg_value.get("config") or {}).get("seed") if isinstance(cfg_value, dict) else None
    if seed is not None and hasattr(init, "seed"):
        init = type(init)(seed=seed)
    return init


def _dense_from_keras(layer, dtype):
    cfg = layer.get_config()
    kwargs = {}
    for key in ("kernel_initializer", "bias_initializer"):
        init = _minnn_initializer(cfg.get(key), layer.name, key)
        if init is not None:
            kwargs[key] = init
    return layers_module.Dense(cfg["units"], activation=_keras_activation_name(cfg["activation"]),
                               use_bias=cfg["use_bias"], name=layer.name, dtype=dtype, **kwargs)


def _config_from_keras(keys):
    def make(layer, dtype):
        cfg = layer.get_config()
        cls = layers_module.LAYER_CLASSES[_keras_class(layer)]
        kwargs = {k: cfg[k] for k in keys if k in cfg}
        return cls(name=layer.name, dtype=dtype, **kwargs)
    return make


_FROM_KERAS = {
    "Dense": _dense_from_keras,
    "Add": _config_from_keras(()),
    "Concatenate": _config_from_keras(("axis",)),
    "ReLU": _config_from_keras(()),
    "Flatten": _config_from_keras(("data_format",)),
    "Dropout": _config_from_keras(("rate", "noise_shape", "seed")),
    "Activation": _config_from_keras(("activation",)),
    "Softmax": _config_from_keras(()),
    "LeakyReLU": _config_from_keras(("negative_slope",)),
    "ELU": _config_from_keras(("alpha",)),
}


def _keras_loss_entries(kmodel):
    """[(output name, loss as compiled)] for a compiled Keras model."""
    loss = kmodel.loss
    names = _keras_output_names(kmodel)
    if isinstance(loss, dict):
        return [(n, loss.get(n)) for n in names]
    if isinstance(loss, (list, tuple)):
        return list(zip(names, loss))
    return [(n, loss) for n in names]


def _keras_output_names(kmodel):
    # A functional output is named after the layer that made it (a Sequential has no
    # output_names attribute, but the same rule holds).
    return [t._keras_history[0].name for t in kmodel.outputs]


def _keras_loss_to_minnn(keras, loss):
    """(minnn Loss, None) or (None, description of why not)."""
    if loss is None:
        return None, "no loss"
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except (ValueError, TypeError):
            return None, f"loss {loss!r}"
    if isinstance(loss, keras.losses.Loss):
        kind = type(loss).__name__
        cfg = loss.get_config()
        extra = {k: v for k, v in cfg.items() if k not in ("name", "reduction", "dtype")}
        wrong = [f"reduction={cfg.get('reduction')!r}"] \
            if cfg.get("reduction", "sum_over_batch_size") != "sum_over_batch_size" else []
        try:
            fn = losses.get(kind)
        except (ValueError, TypeError):
            return None, kind
        for key, value in extra.items():
            default = {"from_logits": False, "label_smoothing": 0.0, "axis": -1}.get(key, value)
            if value != default and key not in _init_params(type(fn)):
                wrong.append(f"{key}={value!r}")
        if wrong:
            return None, f"{kind} with {', '.join(wrong)}"
        accepted = {k: v for k, v in extra.items() if k in _init_params(type(fn))}
        return (type(fn)(**accepted) if accepted else fn), None
    name = getattr(loss, "__name__", None)
    if name is None:
        return None, type(loss).__name__
    try:
        return losses.get(name), None
    except (ValueError, TypeError):
        cls = _keras_loss_class_of(keras, name)
        return None, cls if cls else f"function {name!r}"


def _keras_loss_class_of(keras, function_name):
    """Keras's class name for one of its loss functions ('huber' -> 'Huber'), else None."""
    for attr in dir(keras.losses):
        obj = getattr(keras.losses, attr)
        if isinstance(obj, type) and issubclass(obj, keras.losses.Loss) \
                and utils.to_snake_case(attr) == function_name:
            return attr
    return None


def _init_params(cls):
    import inspect
    try:
        return set(inspect.signature(cls.__init__).parameters) - {"self", "name"}
    except (TypeError, ValueError):
        return set()


def _keras_optimizer_to_minnn(kopt):
    """(minnn Optimizer, []) or (None, [descriptions of what is missing])."""
    kind = type(kopt).__name__
    classes = _minnn_optimizer_classes()
    if kind not in classes or kind not in _KERAS_SLOTS:
        return None, [f"{kind} (optimizer)"]
    cfg = kopt.get_config()
    problems = []
    if not isinstance(cfg.get("learning_rate"), (int, float)):
        lr = cfg.get("learning_rate")
        shown = lr.get("class_name", lr) if isinstance(lr, dict) else type(lr).__name__
        problems.append(f"{shown} (learning-rate schedule of {kind})")
    for key, default in _KERAS_OPT_DEFAULTS.items():
        if key in cfg and cfg[key] != default:
            problems.append(f"{kind} option {key}={cfg[key]!r}")
    cls = classes[kind]
    params = _init_params(cls)
    kwargs = {}
    for key, value in cfg.items():
        if key in _KERAS_OPT_DEFAULTS or key in _KERAS_OPT_IGNORED:
            continue
        if key not in params:
            problems.append(f"{kind} option {key}={value!r}")
            continue
        kwargs[key] = _round32(value) if key == "learning_rate" and not problems else value
    if problems:
        return None, problems
    return cls(**kwargs), []


def _keras_compile_problems(keras, kmodel):
    if not _keras_compiled(kmodel):
        return []
    problems = []
    for out, loss in _keras_loss_entries(kmodel):
        fn, why = _keras_loss_to_minnn(keras, loss)
        if fn is None:
            problems.append(f"{why} (loss of output '{out}')")
    _, opt_problems = _keras_optimizer_to_minnn(kmodel.optimizer)
    problems += opt_problems
    cfg = _keras_compile_args(kmodel)
    if cfg.get("weighted_metrics"):
        problems.append(f"weighted_metrics={cfg['weighted_metrics']!r} (compile): minnn has "
                        "no sample weights")
    for out, identifier in _keras_metric_entries(kmodel):
        if _minnn_metric(keras, identifier) is None:
            problems.append(f"{_keras_metric_class(keras, identifier)} (metric of output '{out}')")
    return problems


def _keras_metric_class(keras, identifier):
    """Keras's class name for a metric given as a string ('auc' -> 'AUC'), where it has one."""
    if isinstance(identifier, str):
        try:
            found = keras.metrics.get(identifier)
        except (ValueError, TypeError):
            return repr(identifier)
        if isinstance(found, keras.metrics.Metric):
            return type(found).__name__
        return getattr(found, "__name__", repr(identifier))
    return _describe(identifier)


def _keras_compile_args(kmodel):
    """What compile() was given (loss_weights, metrics, ...), as Keras keeps it."""
    cc = getattr(kmodel, "_compile_config", None)
    return dict(getattr(cc, "config", {}) or {}) if cc is not None else {}


def _keras_metric_entries(kmodel):
    """[(output name, metric identifier as given to compile)], flattened."""
    metrics = _keras_compile_args(kmodel).get("metrics")
    names = _keras_output_names(kmodel)
    if not metrics:
        return []
    if isinstance(metrics, dict):
        per = [(n, metrics.get(n)) for n in names]
    elif len(names) == 1:
        per = [(names[0], metrics)]
    else:
        per = list(zip(names, metrics))
    out = []
    for n, m in per:
        for item in (m if isinstance(m, (list, tuple)) else [m] if m is not None else []):
            out.append((n, item))
    return out


def _minnn_metric(keras, identifier):
    """minnn's counterpart of a Keras metric identifier, or None."""
    from . import metrics as metrics_module
    if isinstance(identifier, str):
        try:
            metrics_module.check(identifier)
        except (ValueError, TypeError):
            return None
        return identifier
    if isinstance(identifier, keras.metrics.Metric):
        kind = type(identifier).__name__
        cfg = identifier.get_config()
        try:
            metric = metrics_module.get(kind)
        except (ValueError, TypeError):
            return None
        params = _init_params(type(metric))
        for key, value in cfg.items():
            if key in ("name", "dtype"):
                continue
            default = {"threshold": 0.5}.get(key, object())
            if key not in params and value != default:
                return None
        metric.name = identifier.name
        return metric
    name = getattr(identifier, "__name__", None)
    if name is None:
        return None
    try:
        metrics_module.check(name)
    except (ValueError, TypeError):
        return None
    return name


def _keras_built(kmodel):
    try:
        return bool(kmodel.built and kmodel.inputs)
    except (AttributeError, ValueError):  # an unbuilt Sequential has no inputs at all
        return False


def _keras_compiled(kmodel):
    return bool(getattr(kmodel, "compiled", False)) and getattr(kmodel, "optimizer", None) is not None


class _FromKeras:
    """One conversion Keras -> minnn, with memos so that shared layers and inputs stay shared."""

    def __init__(self, keras):
        self.keras = keras
        self.layers = {}
        self.tensors = {}
        self.pairs = []   # (minnn leaf layer, keras layer)

    def input_tensor(self, kt):
        if id(kt) not in self.tensors:
            op = kt._keras_history[0]
            name = op.name if _keras_class(op) == "InputLayer" else None
            self.tensors[id(kt)] = layers_module.Input(shape=tuple(kt.shape[1:]), name=name,
                                                       dtype=_keras_dtype(op))
        return self.tensors[id(kt)]

    def layer(self, op):
        if id(op) in self.layers:
            return self.layers[id(op)]
        if _keras_is_model(self.keras, op):
            made = self.model(op)
        else:
            made = _FROM_KERAS[_keras_class(op)](op, _keras_dtype(op))
            self.pairs.append((made, op))
        self.layers[id(op)] = made
        return made

    def model(self, kmodel):
        seq_cls = _minnn_sequential_class()
        if seq_cls is not None and _keras_class(kmodel) == "Sequential":
            first = kmodel.inputs[0]._keras_history[0]
            inp = layers_module.Input(shape=tuple(first.batch_shape[1:]), name=first.name,
                                      dtype=_keras_dtype(first))
            return seq_cls([inp] + [self.layer(l) for l in kmodel.layers], name=kmodel.name)
        ins = [self.input_tensor(t) for t in kmodel.inputs]
        for node, as_list in _keras_nodes(kmodel):
            args = [self.tensors[id(t)] for t in node.input_tensors]
            out = self.layer(node.operation)(args if as_list else args[0])
            outs = out if isinstance(out, (list, tuple)) else [out]
            for kt, t in zip(node.outputs, outs):
                self.tensors[id(kt)] = t
        outs = [self.tensors[id(t)] for t in kmodel.outputs]
        multi_in = isinstance(getattr(kmodel, "_inputs_struct", None), (list, tuple, dict))
        multi_out = isinstance(getattr(kmodel, "_outputs_struct", None), (list, tuple, dict))
        Model = _minnn_model_class()
        return Model(ins if multi_in else ins[0], outs if multi_out else outs[0], name=kmodel.name)


def from_keras(keras_model):
    """The minnn ``Model`` equivalent to ``keras_model`` (functional or Sequential): layers,
    names, nesting, weights and, if it is compiled, its loss, optimiser and optimiser state."""
    keras = import_keras()
    if not isinstance(keras_model, keras.Model):
        raise TypeError(
            f"from_keras expects a keras.Model, received {type(keras_model).__name__}."
        )
    if _keras_class(keras_model) not in ("Functional", "Sequential"):
        raise UnsupportedError(f"The Keras model '{keras_model.name}'",
                               _keras_layer_problems(keras, keras_model), "minnn")
    if not _keras_built(keras_model):
        raise ValueError(
            f"The Keras model '{keras_model.name}' is not built yet, so it has no weights to "
            "copy. Give it an input shape (keras.Input(shape=...) as its first layer) or call "
            "it on data once, then convert it."
        )
    problems = []
    for op in _keras_all_layers(keras, keras_model):
        problems += _keras_layer_problems(keras, op)
    problems += _keras_compile_problems(keras, keras_model)
    if problems:
        raise UnsupportedError(f"The Keras model '{keras_model.name}'", problems, "minnn")

    # Building layers draws initial weights from minnn's generator; they are overwritten
    # at once, so put the generator back as it was (a conversion is not a random event).
    rng = utils.get_rng()
    rng_state = rng.bit_generator.state
    try:
        conv = _FromKeras(keras)
        model = conv.model(keras_model)
    finally:
        rng.bit_generator.state = rng_state
    pairs = _paired_weights([(m, k) for m, k in conv.pairs])
    for w, v in pairs:
        w.value[...] = np.asarray(v.value, dtype=w.value.dtype)
    if _keras_compiled(keras_model):
        _compile_minnn(keras, keras_model, model, pairs)
    return model


def _compile_minnn(keras, kmodel, model, pairs):
    fns = [_keras_loss_to_minnn(keras, loss)[0] for _, loss in _keras_loss_entries(kmodel)]
    loss = fns[0] if len(fns) == 1 else fns
    kopt = kmodel.optimizer
    opt, _ = _keras_optimizer_to_minnn(kopt)
    kwargs = {}
    args = _keras_compile_args(kmodel)
    if args.get("loss_weights") is not None:
        kwargs["loss_weights"] = args["loss_weights"]
    entries = _keras_metric_entries(kmodel)
    if entries:
        names = model.output_names
        per = {n: [_minnn_metric(keras, i) for o, i in entries if o == n] for n in names}
        kwargs["metrics"] = per[names[0]] if len(names) == 1 else {n: m for n, m in per.items() if m}
    model.compile(optimizer=opt, loss=loss, **kwargs)
    if not kopt.built:
        return
    opt.iterations = int(np.asarray(kopt.iterations.value))
    slots = [getattr(kopt, s, None) for s in _KERAS_SLOTS[type(kopt).__name__]]
    slots = [s for s in slots if s]
    if not slots:
        return
    by_weight = {id(w): v for w, v in pairs}
    model._ensure_flat()
    weights = model.weights
    state = []
    for slot in slots:
        flat = np.concatenate([
            np.asarray(slot[kopt._get_variable_index(by_weight[id(w)])].value).ravel()
            for w in weights]).astype(weights[0].value.dtype)
        start = 0
        for p in model._param_flats:
            state.append(flat[start:start + p.size].reshape(p.shape))
            start += p.size
    opt.set_state(state)
