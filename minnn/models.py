"""Model: a functional graph of layers that is itself a layer, and trains.

``Model(inputs, outputs)`` walks the graph once and keeps it as a list of
steps ``(layer, input slots, output slots)`` in topological order. Forward
runs the list; backward runs it in reverse, summing the gradients of a tensor
that feeds several layers. Because a Model is a Layer, ``decoder(encoder(x))``
nests models that share their layers, and so their weights.

``model.layers`` (and so ``model.weights`` and ``get_weights()``) is listed in
Keras's order, which in a branched graph is not the order the steps run in:
see ``graph.keras_order``.
"""
import collections
import inspect

import numpy as np

from . import graph, saving, storage, utils
from . import summary as summary_module
from .layers import InputLayer, Layer, _cached
from .training import Trainer


def _as_tensor_list(tensors, what):
    if isinstance(tensors, dict):
        names = ", ".join(f"'{k}'" for k in tensors)
        raise NotImplementedError(
            f"Model `{what}` given as a dict (keys {names}) is not supported by minnn: pass a "
            f"list, {what}=[...]. Each {what[:-1]} is named by its layer (name='...'), and "
            "loss, loss_weights, metrics and the data take dicts keyed by those names, as "
            "in Keras.")
    as_list = isinstance(tensors, (list, tuple))
    items = list(tensors) if as_list else [tensors]
    if not items:
        raise ValueError(f"Model needs at least one tensor in `{what}`, received an empty list.")
    for t in items:
        if not isinstance(t, graph.SymbolicTensor):
            shown = f"an array of shape {t.shape}" if hasattr(t, "shape") else repr(t)
            raise TypeError(
                f"Model `{what}` must be symbolic tensors from minnn.Input(...) and layer "
                f"calls; received {shown} of type {type(t).__name__}."
            )
    return items, as_list


class Model(Trainer, Layer):
    """``Model(inputs, outputs, name=None)``: the layers between ``inputs`` and ``outputs``."""

    def __init__(self, inputs, outputs, name=None):
        ins, outs, multi_in, multi_out, nodes, layers = _collect_graph(inputs, outputs)
        if name is None:  # Keras calls unnamed functional models 'functional', 'functional_1', ...
            name = utils.unique_name("functional")
        super().__init__(name=name, dtype=outs[0].dtype)
        self._init_graph(ins, outs, multi_in, multi_out, nodes, layers)
        self._init_trainer()

    def _init_graph(self, ins, outs, multi_in, multi_out, nodes, layers):
        """Keep the graph between ``ins`` and ``outs`` as a list of steps (a Sequential
        model calls this again after each add() and pop())."""
        self.layers = layers
        self.inputs, self.outputs = ins, outs
        # As Keras: Model([inp], [out]) is a model of one input and one output, whose
        # model(x) and predict(x) return one array (x may be [array] too).
        multi_in, multi_out = multi_in and len(ins) > 1, multi_out and len(outs) > 1
        self._multi_in, self._multi_out = multi_in, multi_out
        self._single_input, self._single_output = len(ins) == 1, len(outs) == 1
        self._input_layers = [t.layer for t in ins]
        self._input_shapes = [t.shape for t in ins]
        self._output_shapes = [t.shape for t in outs]
        self._input_shape = self._input_shapes if multi_in else self._input_shapes[0]
        self.output_names = [t.layer.name for t in outs]
        self._nodes = nodes

        # Number every tensor once ("slots"); a step reads and writes slots by index.
        slot = {id(t): i for i, t in enumerate(ins)}
        data = set(range(len(ins)))  # the slots that hold the data, or depend on nothing else
        steps = []
        for node in nodes:
            if isinstance(node.layer, InputLayer):
                continue
            in_idx = tuple(slot[id(t)] for t in node.inputs)
            for t in node.outputs:
                slot[id(t)] = len(slot)
            out_idx = tuple(slot[id(t)] for t in node.outputs)
            on_data = all(i in data for i in in_idx)
            weightless = on_data and not node.layer.weights
            if weightless:
                data.update(out_idx)
            steps.append(_Step(
                node.layer, in_idx, out_idx,
                multi_in=len(node.inputs) > 1 or isinstance(node.layer._input_shape, list),
                multi_out=len(node.outputs) > 1 or getattr(node.layer, "_multi_out", False),
                takes_training=_takes_training(node.layer),
                on_data_only=weightless,
                reads_only_data=on_data and not weightless and _can_skip_dx(node.layer)))
        self._steps = steps
        self._n_slots = len(slot)
        self._out_slots = [slot[id(t)] for t in outs]
        self.built = True
        self._flat_for = None  # the weights _param_flats / _grad_flats were found for
        self._param_flats = self._grad_flats = []

    # -- as a layer -------------------------------------------------------------------
    def __call__(self, inputs, training=None):
        """On symbolic tensors: record the call (the model becomes a layer of a bigger graph).
        On arrays: the output for them, as ``forward(x, training=bool(training))``; as in
        Keras, ``model(x)`` runs in inference mode unless training=True."""
        items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if any(isinstance(t, graph.SymbolicTensor) for t in items):
            return super().__call__(inputs)
        xs = self._standardize_x(inputs)
        return self.forward(self._unpack(xs), training=bool(training))

    @property
    def input(self):
        """The model's symbolic input (a list for several), as Keras's ``model.input``."""
        return self._own_tensors(self.inputs, "input")

    @property
    def output(self):
        """The model's symbolic output (a list for several), as Keras's ``model.output``."""
        return self._own_tensors(self.outputs, "output")

    def _own_tensors(self, tensors, what):
        if not tensors:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined {what}.")
        return tensors[0] if len(tensors) == 1 else list(tensors)

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        return list(self._output_shapes) if self._multi_out else self._output_shapes[0]

    def compute_output_shape(self, input_shape):
        return list(self._output_shapes) if self._multi_out else self._output_shapes[0]

    def forward(self, x, training=False):
        """Run every step in topological order.   x: (N, D) (or a list) -> y: (N, M) (or a list).

        training=True (fit's step) makes layers such as Dropout act as in training.
        """
        vals = [None] * self._n_slots  # vals[i]: the value of tensor i
        _put(vals, range(len(self.inputs)), x, self._multi_in)
        caches = []
        for step in self._steps:
            x_in = _get(vals, step.ins, step.multi_in)
            y = (step.layer.forward(x_in, training=training) if step.takes_training
                 else step.layer.forward(x_in))
            _put(vals, step.outs, y, step.multi_out)
            caches.append(step.layer.cache)  # a layer used twice keeps one cache per use
        self.cache = caches
        return _get(vals, self._out_slots, self._multi_out)

    def backward(self, dy, need_dx=True):
        """Run the steps in reverse; gradients of a tensor used twice are summed.
        dy: (N, M) (or a list) -> dx: (N, D) (or a list).

        need_dx=False: the caller wants only the weight gradients (fit does), so the
        steps that only lead back to the data skip their dx (see _Step).
        """
        grads = [None] * self._n_slots  # grads[i]: dL/d(tensor i); None: it does not reach the loss
        _add(grads, self._out_slots, dy, self._multi_out)
        for step, cache in zip(reversed(self._steps), reversed(_cached(self))):
            g = _gradient_of(grads, step.outs, step.multi_out)
            if g is None or (step.on_data_only and not need_dx):
                continue
            step.layer.cache = cache  # a layer used twice: this call's forward pass
            if step.reads_only_data and not need_dx:
                step.layer.backward(g, need_dx=False)
            else:
                _add(grads, step.ins, step.layer.backward(g), step.multi_in)
        return _get(grads, range(len(self.inputs)), self._multi_in)

    # -- weights ----------------------------------------------------------------------
    @property
    def weights(self):
        """Every Weight once, in layer order, recursing into nested models (Keras's order)."""
        out, seen = [], set()
        for layer in self.layers:
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    trainable_weights = weights

    def _ensure_flat(self):
        """Find the runs of neighbouring weights the optimiser updates in one go.

        Weights are never moved (see ``storage``): a model only looks up where
        its weights already sit. For a model built layer after layer, nested
        models included, that is one run, so an optimiser step is a few
        vectorised operations on one array instead of a dozen per layer. The
        check that nothing changed is cheap and is made once per fit (and per
        train_on_batch).
        """
        ws = self.weights
        if self._flat_for is not None and len(ws) == len(self._flat_for) and all(
                w is v for w, v in zip(ws, self._flat_for)):
            return
        dtypes = {w.value.dtype for w in ws}
        if len(dtypes) > 1:
            raise TypeError(f"Model '{self.name}' mixes weight dtypes {sorted(map(str, dtypes))}.")
        pairs = storage.runs(ws)
        old_runs = [p.size for p in self._param_flats]
        # One statement: a Ctrl-C cannot leave the lists the step reads half replaced.
        self._param_flats, self._grad_flats, self._flat_for = (
            [v for v, _ in pairs], [g for _, g in pairs], ws)
        _recut_optimizer_state(self, old_runs)

    def __setstate__(self, state):
        # A copy (copy.deepcopy, pickle) has its weights in arrays of its own, and copies
        # of the old runs that are no views of them: find the runs again at first use.
        self.__dict__.update(state)
        self._flat_for = None

    def _flat_grads_and_weights(self):
        """([gradient buffer], [weight buffer]): every gradient and weight of the model, as
        the flat views the optimiser updates (found on first use, see _ensure_flat)."""
        if self._flat_for is None:
            self._ensure_flat()
        return self._grad_flats, self._param_flats

    def zero_grad(self):
        """Set every weight's gradient to 0: backward adds into them."""
        if self._flat_for is None:
            self._ensure_flat()
        for g in self._grad_flats:  # usually one run: one call
            g.fill(0)

    # -- inspection ---------------------------------------------------------------------
    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print Keras's table of layers, output shapes and parameter counts (Keras's
        arguments, in Keras's order; see minnn/summary.py)."""
        summary_module.print_summary(self, line_length=line_length, positions=positions,
                                     print_fn=print_fn, expand_nested=expand_nested,
                                     show_trainable=show_trainable, layer_range=layer_range)

    # -- saving (the file formats are described in saving.py) ---------------------------
    def get_config(self):
        """The architecture as JSON data: layer configs and how their calls connect."""
        return saving.model_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new model with the architecture of ``get_config()`` (and fresh weights)."""
        return saving.model_from_config(config, custom_objects)

    def save_weights(self, filepath):
        """Write the weights to the .npz file ``filepath``, keyed like 'encoder/dense/kernel'."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath, by_name=None):
        """Read weights written by ``save_weights`` (or ``save``); all-or-nothing."""
        saving.load_weights(self, filepath, by_name=by_name)

    def save(self, filepath):
        """Write architecture, weights, loss and optimiser state to one file (``name.minnn``)."""
        saving.save_model(self, filepath)

    def get_layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name!r}. Existing layers are: {[l.name for l in self.layers]}."
        )


def _collect_graph(inputs, outputs):
    """Check inputs and outputs and walk the graph between them:
    (ins, outs, multi_in, multi_out, nodes in topological order, layers)."""
    ins, multi_in = _as_tensor_list(inputs, "inputs")
    outs, multi_out = _as_tensor_list(outputs, "outputs")
    for t in ins:
        if not isinstance(t.layer, InputLayer):
            raise ValueError(
                f"Model inputs must be tensors returned by minnn.Input(); received {t!r}."
            )
    nodes = graph.topological_nodes(ins, outs)  # the order the forward pass runs in
    # The order Keras lists layers in (and so weights): by depth, then traversal.
    layers = graph.keras_order(ins, outs)[0]
    counts = collections.Counter(layer.name for layer in layers)
    for lname, c in counts.items():
        if c > 1:
            raise ValueError(
                f'The name "{lname}" is used {c} times in the model. All operation names '
                "should be unique."
            )
    return ins, outs, multi_in, multi_out, nodes, layers


def _recut_optimizer_state(model, old_runs):
    """Cut the optimiser's state, kept as one array per run of neighbouring weights, from
    the runs ``old_runs`` (their sizes) to the model's new runs. The runs change when the
    weights move to other arrays (a copied model's), not the weights' order: so each
    kind of state (Adam's m, its v) is joined in weight order and cut anew."""
    optimizer = getattr(model, "optimizer", None)
    state = optimizer.get_state() if optimizer is not None else []
    new_runs = [p.size for p in model._param_flats]
    if not state or not old_runs or new_runs == old_runs or sum(new_runs) != sum(old_runs) \
            or len(state) % len(old_runs) or any(
                a.shape != (old_runs[i % len(old_runs)],) for i, a in enumerate(state)):
        return  # nothing to cut, or not per run (a custom optimiser's state): left as it is
    cuts = np.cumsum(new_runs)[:-1]
    k = len(old_runs)
    optimizer.set_state([part for i in range(0, len(state), k)
                         for part in np.split(np.concatenate(state[i:i + k]), cuts)])


def _takes_training(layer):
    return "training" in inspect.signature(layer.forward).parameters


def _can_skip_dx(layer):
    # Dense and Model take backward(dy, need_dx=False); a layer written with a plain
    # backward(dy) (a custom one, or a subclass) is always asked for dx.
    return "need_dx" in inspect.signature(layer.backward).parameters


class _Step(collections.namedtuple(
        "_Step", "layer ins outs multi_in multi_out takes_training on_data_only reads_only_data")):
    """One call of a layer in the graph: it reads the tensors in slots ``ins`` and writes
    those in slots ``outs`` (a list in, or out, when ``multi_in`` or ``multi_out``).

    The flags are decided once, when the model is built:
    - takes_training: the layer acts differently in training (Dropout), so it gets
      forward(x, training=...); every other layer keeps its plain forward(x);
    - on_data_only: no weights, and fed only by the data (Flatten, Dropout on the
      input): when no dL/dx is wanted (fit's step), backward skips it;
    - reads_only_data: the first weighted layers, reading only the data: when no
      dL/dx is wanted, they are asked for backward(dy, need_dx=False).
    """


def _get(vals, slots, multi):
    """The values in ``slots``: a list, or the one value when not ``multi``."""
    return [vals[i] for i in slots] if multi else vals[slots[0]]


def _put(vals, slots, y, multi):
    if multi:
        for i, yi in zip(slots, y):
            vals[i] = yi
    else:
        vals[slots[0]] = y


def _add(grads, slots, g, multi):
    """Add the gradient(s) ``g`` into ``slots``: a tensor read by several layers collects all
    their gradients. A new array, never +=: the first gradient may be a caller's array (or
    another branch's), and backward must not write into arrays it was handed."""
    for i, gi in zip(slots, g if multi else [g]):
        grads[i] = gi if grads[i] is None else grads[i] + gi


def _gradient_of(grads, slots, multi):
    """dL/d(a step's output), as _get gives it; None when no gradient reached any of the
    outputs (the step does not lead to the loss)."""
    if not multi:
        return grads[slots[0]]
    g = [grads[i] for i in slots]
    return None if all(gi is None for gi in g) else g


def clone_model(model):
    """A new model with ``model``'s architecture and freshly initialised weights (not
    compiled), as ``keras.models.clone_model(model)``; a Sequential stays a Sequential."""
    if not isinstance(model, Model):
        raise TypeError(f"clone_model expects a minnn Model, received {type(model).__name__}.")
    return type(model).from_config(model.get_config())


def load_model(filepath, custom_objects=None, compile=True):
    """Rebuild a model saved with ``model.save(filepath)``. See ``minnn.saving.load_model``."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


# Sequential is a Model; it lives in its own file and is also reachable here, as
# keras.models.Sequential is.
from .sequential import Sequential  # noqa: E402
