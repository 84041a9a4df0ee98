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
    layer.__dict__.setdefault("_inbound_nodes", []).append(node)  # for layer.output
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


def keras_order(inputs, outputs):
    """The layers of the graph in Keras's listing order, and each node's depth.

    This is the order of ``model.layers`` and so of ``model.weights`` and
    ``get_weights()``; it is not the order the forward pass runs in (that is
    ``topological_nodes``). Keras (``ops/function.py``, ``map_graph``) finds it in
    three steps:

    1. traversal index: walk depth-first back from each output, in the order of
       ``outputs``, into each node's inputs in the order they were passed to the
       call; a layer is numbered the first time one of its nodes is reached;
    2. depth: 0 at the outputs, and a parent's depth is one more than its deepest
       child's (the longest path to any output). A layer's depth is that of its
       deepest node, so a shared layer is listed once, at its deepest use;
    3. sort by depth, deepest first; ties go to the smaller traversal index.

    An Input that no output uses is listed too, at depth 0, before the others.
    Returns (layers, {id(node): depth}, [nodes in the graph]).
    """
    index = {}          # id(layer) -> traversal index
    post_order = []     # nodes, each after its parents
    finished = set()

    def walk(node):
        if id(node) in finished:
            return
        index.setdefault(id(node.layer), len(index))
        for t in node.inputs:
            walk(t.node)
        finished.add(id(node))
        post_order.append(node)

    for out in outputs:
        walk(out.node)

    node_depth, layer_depth, layer_of = {}, {}, {}
    for node in reversed(post_order):
        # A node of a shared layer is lifted to the deepest use of its layer seen so far.
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layer_of[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        for t in node.inputs:
            node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))

    nodes = list(post_order)
    for t in inputs:
        if id(t.layer) not in layer_depth:  # an Input that no output uses
            layer_depth[id(t.layer)] = 0
            layer_of[id(t.layer)] = t.layer
            index[id(t.layer)] = -1
            node_depth[id(t.node)] = 0
            nodes.append(t.node)

    ordered = sorted(layer_of, key=lambda k: (-layer_depth[k], index[k]))
    return [layer_of[k] for k in ordered], node_depth, nodes
