"""The functional graph: symbolic tensors, nodes, and their topological order.

``Input(shape=(2,))`` returns a ``SymbolicTensor``: a placeholder of shape
(None, 2) that holds no data. Calling a layer on it records a ``Node``, which
links the layer to the tensors it read and the tensor it produced. A ``Model``
walks these links back from its outputs to its inputs and keeps the nodes in
topological order, once, so that training walks a precomputed list.
"""


class SymbolicTensor:
    """A placeholder for the (N, ...) arrays that will flow along one edge of the graph."""

    def __init__(self, shape, dtype, node, index=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.node = node      # the Node that produces this tensor
        self.index = index    # which output of that node it is

    @property
    def layer(self):
        return self.node.layer

    @property
    def name(self):
        return f"{self.node.layer.name}/{self.index}"

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape} dtype={self.dtype} from layer '{self.layer.name}'>"


class Node:
    """One call of a layer: ``outputs = layer(inputs)``.

    ``call_index`` is how many times the layer had been called before, so a layer
    used twice has nodes 0 and 1 (the ``[1][0]`` in Keras's 'Connected to').
    """

    def __init__(self, layer, inputs, call_index):
        self.layer = layer
        self.inputs = list(inputs)
        self.outputs = []
        self.call_index = call_index


def record_call(layer, inputs):
    """Build ``layer`` if needed, check the input shapes, and record a node.

    inputs: a SymbolicTensor, or a list of them for a layer with several inputs.
    Returns the output SymbolicTensor (or a list, for a model with several outputs).
    """
    as_list = isinstance(inputs, (list, tuple))
    tensors = list(inputs) if as_list else [inputs]
    for t in tensors:
        if not isinstance(t, SymbolicTensor):
            what = f"a numpy.ndarray of shape {t.shape}" if hasattr(t, "shape") else repr(t)
            raise TypeError(
                f"Layer '{layer.name}' was called on {what}, but calling a layer builds the "
                "graph and expects a symbolic tensor from minnn.Input(...) or from another "
                "layer. To compute on arrays, use layer.forward(x) or model.predict(x)."
            )
    shapes = [t.shape for t in tensors]
    shape_arg = shapes if as_list else shapes[0]
    if not layer.built:
        layer.build(shape_arg)
        layer.built = True
    else:
        layer.check_input_shape(shape_arg)
    out_shape = layer.compute_output_shape(shape_arg)
    node = Node(layer, tensors, call_index=layer._call_count)
    layer._call_count += 1
    out_shapes = out_shape if isinstance(out_shape, list) else [out_shape]
    dtype = layer.dtype
    node.outputs = [SymbolicTensor(s, dtype, node, i) for i, s in enumerate(out_shapes)]
    return node.outputs if isinstance(out_shape, list) else node.outputs[0]


def topological_nodes(inputs, outputs):
    """The nodes between ``inputs`` and ``outputs``, each after the nodes it reads from.

    A depth-first walk back from the outputs, emitting a node after all its
    parents (post-order). Raises ValueError if an output cannot be reached from
    the given inputs.
    """
    input_ids = {id(t) for t in inputs}
    order, seen = [], set()

    def visit(tensor, path):
        node = tensor.node
        if id(node) in seen:
            return
        if not node.inputs:  # an Input: must be one of the model's inputs
            if id(tensor) not in input_ids:
                raise ValueError(
                    f"Graph disconnected: cannot find parent for tensor {tensor!r} "
                    f"on the way to output {path!r}. Pass the Input it comes from in "
                    "Model(inputs=...)."
                )
        for parent in node.inputs:
            visit(parent, path)
        seen.add(id(node))
        order.append(node)

    for out in outputs:
        visit(out, out)
    for t in inputs:  # an input that no output depends on is still part of the model
        if id(t.node) not in seen:
            seen.add(id(t.node))
            order.insert(0, t.node)
    return order
