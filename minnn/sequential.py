"""Sequential: a stack of layers, each reading the previous one's output.

``Sequential([Input((28, 28)), Flatten(), Dense(128, activation='relu'), Dense(10)])``
is the functional model ``Model(x, Dense(...)(Dense(...)(Flatten()(x))))``, written
as a list. It is a ``Model`` in every way (fit, evaluate, predict, save, load,
get/set_weights, summary, nesting), whose graph is rebuilt after each ``add()``
and ``pop()``, as Keras rebuilds it.

As in Keras:

- the first element may be ``Input(shape)`` (or an ``InputLayer``), or the first
  layer may carry ``input_shape=...``; either makes the model built as soon as it
  holds a second layer, with its weights drawn then, in layer order;
- without either, the model is built by ``build((None, ...))`` or by the first
  ``fit`` / ``predict`` / ``evaluate`` / call, from the data's shape (Keras keeps
  that first batch's size in the shapes it shows; minnn shows None);
- ``model.layers`` leaves the InputLayer out, and so does ``summary()``;
- automatic names are ``sequential``, ``sequential_1``, ..., and every build uses
  up one ``functional`` name, as Keras's inner functional model does.
"""
from . import graph, utils
from .layers import InputLayer, Layer, make_input_tensor
from .models import Model, _collect_graph


class Sequential(Model):
    """``Sequential(layers=None, trainable=True, name=None)``: layers applied one after the other."""

    def __init__(self, layers=None, trainable=True, name=None):
        if trainable is not True:
            raise ValueError(f"minnn has no frozen layers: received trainable={trainable!r}.")
        Layer.__init__(self, name=name)
        self._layers = []
        self._init_trainer()
        self._set_unbuilt()
        if layers is not None:
            if not isinstance(layers, (list, tuple)):
                raise TypeError(
                    f"Sequential expects a list of layers, received {type(layers).__name__}."
                )
            for layer in layers:
                self.add(layer, rebuild=False)
            if self._layers:
                self._maybe_rebuild()

    # -- the stack ----------------------------------------------------------------------
    def add(self, layer, rebuild=True):
        """Put ``layer`` (or ``Input(shape)``) on top of the stack, then rebuild the model."""
        if not self._layers and getattr(layer, "_declared_input_shape", None) is not None:
            self.add(InputLayer(shape=layer._declared_input_shape, dtype=layer.dtype),
                     rebuild=False)
        if isinstance(layer, graph.SymbolicTensor) and isinstance(layer.layer, InputLayer) \
                and not layer.node.inputs:
            layer = layer.layer  # keras.Input(...) stands for its InputLayer
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `minnn.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the "
                "`name` argument to pass a unique name."
            )
        if isinstance(layer, InputLayer):
            if self._layers and isinstance(self._layers[0], InputLayer):
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {(None,) + self._layers[0].shape}. You cannot add a different Input "
                    "layer to it."
                )
            if self._layers:
                raise ValueError(
                    f"An Input can only be the first layer of Sequential model '{self.name}', "
                    f"which already holds {[l.name for l in self._layers]}."
                )
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self._set_unbuilt()

    def pop(self, rebuild=True):
        """Remove the last layer and return it; the model is rebuilt without it."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._set_unbuilt()
        if rebuild and self._layers:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self):
        self._set_unbuilt()
        first = self._layers[0]
        if isinstance(first, InputLayer) and len(self._layers) > 1:
            self.build((None,) + first.shape)
        elif isinstance(first, Model) and first._single_input and len(self._layers) > 1:
            self.build(first._input_shapes[0])

    def _set_unbuilt(self):
        self.built = False
        self._flat_for = None
        self._param_flats = self._grad_flats = []
        self._steps, self._nodes = [], []
        self.inputs = self.outputs = None
        self.output_names = [self._layers[-1].name] if self._layers else []

    @property
    def layers(self):
        """The layers, without the InputLayer (as Keras's ``model.layers``)."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    @layers.setter
    def layers(self, value):
        # Model._init_graph assigns the graph's layers; for a Sequential they are _layers.
        pass

    # -- building -----------------------------------------------------------------------
    def build(self, input_shape=None):
        """Create every layer's weights for inputs of shape ``input_shape``, e.g. (None, 28, 28)."""
        if not self._layers:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has no layers. "
                "Call `model.add(layer)`."
            )
        if isinstance(input_shape, list):
            raise ValueError(f"Sequential model '{self.name}' has one input; received "
                             f"input_shape={input_shape!r}.")
        if input_shape is None or not isinstance(input_shape, (tuple, list)) or len(input_shape) < 2:
            raise ValueError(
                f"Sequential model '{self.name}'.build expects input_shape=(None, ...), such as "
                f"(None, 784); received input_shape={input_shape!r}."
            )
        shape = tuple(input_shape[1:])
        first = self._layers[0]
        if isinstance(first, InputLayer):
            if tuple(first.shape) != shape:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input "
                    f"shape {(None,) + first.shape}. You cannot build it with input_shape "
                    f"{tuple(input_shape)}"
                )
        else:
            self._layers.insert(0, InputLayer(shape=shape, dtype=first.dtype))
        # Each layer is called once, on the previous layer's output; a rebuild after add()
        # or pop() reuses the calls already made, so every layer keeps one node.
        inp = self._layers[0]
        tensor = getattr(inp, "_output_tensor", None) or make_input_tensor(inp)
        out = tensor
        calls = getattr(self, "_calls", {})
        new_calls = {}
        for layer in self._layers[1:]:
            prev = calls.get(id(layer))
            if prev is not None and prev[0] is out:
                out = prev[1]
            else:
                made = layer(out)
                new_calls[id(layer)] = (out, made)
                out = made
                continue
            new_calls[id(layer)] = prev
        if isinstance(out, list):
            raise ValueError(f"The last layer of Sequential model '{self.name}' has several "
                             "outputs; a Sequential model has one.")
        self._calls = new_calls
        ins, outs, multi_in, multi_out, nodes, _ = _collect_graph(tensor, out)
        utils.unique_name("functional")  # Keras builds an inner functional model each time
        self.dtype = out.dtype
        self._init_graph(ins, outs, multi_in, multi_out, nodes, self.layers)

    def _ensure_built_for(self, x, what):
        if self.built:
            return
        if not self._layers:
            raise ValueError(
                f"Sequential model '{self.name}' has no layers: add some with model.add(...) "
                f"before calling {what}."
            )
        shape = getattr(x, "shape", None)
        if shape is None:
            import numpy as np
            shape = np.shape(x)
        if len(shape) < 2:
            raise ValueError(
                f"Sequential model '{self.name}' has no Input, so {what} would build it from "
                f"the data's shape, but x has shape {tuple(shape)}: pass an array of shape "
                "(N, ...), or start the model with minnn.Input(shape)."
            )
        self.build((None,) + tuple(shape[1:]))

    def _standardize_x(self, x, what="x"):
        self._ensure_built_for(x, "fit/predict/evaluate")
        return super()._standardize_x(x, what)

    def forward(self, x, training=False):
        self._ensure_built_for(x, "forward")
        return super().forward(x, training=training)

    # -- saving -------------------------------------------------------------------------
    def get_config(self):
        """{'name', 'layers': [{'class_name', 'config'}, ...]}, the InputLayer included."""
        from . import saving
        return saving.sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import saving
        return saving.sequential_from_config(config, custom_objects)

