"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts.

The text is the one Keras prints (``keras/src/utils/summary_utils.py``, drawn by the
``rich`` library), rebuilt here in plain Python:

- rows: one per layer of ``model.layers`` in Keras's order, so a layer used twice
  is one row; a Functional model lists its InputLayers, a Sequential one does not;
- a fourth column, "Connected to", whenever the graph is not a plain chain: some
  depth has two nodes, a node reads several tensors, or a layer is called twice.
  It lists ``name[node][tensor]`` for every input of every call of the layer;
- the width: ``line_length``, or else 88 (108 with "Connected to") capped at the
  terminal's width minus 4, as ``shutil.get_terminal_size`` reports it (80 when
  the output is piped, so 76);
- sizes are count × bytes per number, with 1 KB = 1024 B; once the optimiser is
  built (by fit, evaluate or train_on_batch) its variables are counted too.
"""
import re
import shutil

from . import graph
from .layers import InputLayer

_BYTES_PER_SCALAR = 4  # Keras's `iterations` and `learning_rate` variables


def readable_size(n_bytes):
    """4012 -> '3.92 KB', 0 -> '0.00 B' (Keras's readable_memory_size)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


# ---------------------------------------------------------------------------
# What goes in the table
# ---------------------------------------------------------------------------
def _shape_text(shape):
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _is_sequential(model):
    # Keras never gives a Sequential model "Connected to"; its rows are its `layers`,
    # which leave the InputLayer out.
    from .sequential import Sequential
    return isinstance(model, Sequential) or not getattr(model, "_nodes", None)


def _nodes_by_layer(model):
    """{id(layer): [its nodes in this model, in call order]}."""
    out = {}
    for node in getattr(model, "_nodes", []):
        out.setdefault(id(node.layer), []).append(node)
    for nodes in out.values():
        nodes.sort(key=lambda n: n.call_index)
    return out


def shows_connections(model):
    """Keras's rule for the 4-column layout (see the module docstring)."""
    if _is_sequential(model):
        return False
    depth = graph.keras_order(model.inputs, model.outputs)[1]
    per_depth = {}
    for node in model._nodes:
        per_depth.setdefault(depth.get(id(node), 0), []).append(node)
    if any(len(nodes) > 1 or len(nodes[0].inputs) > 1 for nodes in per_depth.values()):
        return True
    return any(len(nodes) > 1 for nodes in _nodes_by_layer(model).values())


def _class_name(layer):
    from .models import Model
    return "Functional" if type(layer) is Model else type(layer).__name__


def _layer_shape(layer, nodes):
    if nodes:
        shapes = [t.shape for t in nodes[-1].outputs]  # Keras shows the last call's
        return _shape_text(shapes[0] if len(shapes) == 1 else shapes)
    if isinstance(layer, InputLayer):
        return _shape_text((None,) + tuple(layer.shape))
    if hasattr(layer, "_output_shapes"):  # a nested model
        shapes = layer._output_shapes
        return _shape_text(shapes[0] if len(shapes) == 1 else list(shapes))
    return "?"


def _rows(model, layers, nodes_of, connections, level, expand_nested, show_trainable):
    rows = []
    prefix = "   " * level + "└ " if level else ""
    for layer in layers:
        nodes = nodes_of.get(id(layer), [])
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{prefix}{layer.name} ({_class_name(layer)})", _layer_shape(layer, nodes), params]
        if connections:
            # The calls of a nested model's inner layers are not nodes of the model being
            # summarised: Keras shows '-' for them.
            cells = [f"{t.layer.name}[{t.node.call_index}][{t.index}]"
                     for node in nodes for t in node.inputs] if level == 0 else []
            row.append(", ".join(cells) or "-")
        if show_trainable:  # every minnn weight is trainable
            row.append("Y" if layer.weights else "-")
        rows.append(row)
        inner = getattr(layer, "layers", None)
        if expand_nested and inner:
            rows += _rows(layer, inner, _nodes_by_layer(layer), connections, level + 1, True,
                          show_trainable)
    return rows


def _optimizer_count(model, n_trainable):
    """The optimiser's variables, as Keras counts them: iterations, learning_rate and the
    slots (Adam's m and v, SGD's momentum, RMSprop's velocity...); None if not built."""
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "compiled", False):
        return None
    if not (getattr(model, "_optimizer_built", False) or opt.iterations > 0):
        return None
    state = opt.get_state()
    if state:
        slots = sum(a.size for a in state)
    else:  # built but not stepped yet: the slots Keras has already made
        name = type(opt).__name__
        per_weight = {
            "Adam": 2,
            "SGD": 1 if getattr(opt, "momentum", 0) else 0,
            "RMSprop": 1 + bool(getattr(opt, "momentum", 0)) + bool(getattr(opt, "centered", False)),
        }.get(name, 0)
        slots = per_weight * n_trainable
    return slots, 2


# ---------------------------------------------------------------------------
# Drawing the table as rich does
# ---------------------------------------------------------------------------
def terminal_columns():
    """The terminal's width, as Keras reads it: $COLUMNS, the tty, or 80 when piped."""
    return shutil.get_terminal_size().columns


def column_widths(line_length, positions):
    """Inner widths of the columns (the characters between the borders, padding excluded).

    Keras cuts ``line_length`` at ``positions``; rich then adds one space of padding on
    each side of every column and takes the overflow, together with the borders, off
    the columns evenly from the left (rich's ratio_reduce).
    """
    widths, current = [], 0
    for pos in positions:
        w = int(pos * line_length) - current
        if w < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(w)
        current += w
    padded = [w + 2 for w in widths]
    room = line_length - (len(widths) + 1)
    excess = sum(padded) - room
    if excess > 0:
        left, cols = excess, len(padded)
        for i in range(len(padded)):
            cut = min(padded[i], round(left / cols))
            padded[i] -= cut
            left -= cut
            cols -= 1
    return [w - 2 for w in padded]


_WORD = re.compile(r"\s*\S+\s*")


def wrap_cell(text, width):
    """Lines of ``text`` in a cell ``width`` wide: word-wrapped, and a word that is too
    long on its own cut with '…' (rich's wrap with overflow='ellipsis')."""
    breaks, offset = [], 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width or (offset and start):
            if start:
                breaks.append(start)
            offset = len(word)
    lines = []
    for lo, hi in zip([0] + breaks, breaks + [len(text)]):
        line = text[lo:hi]
        if len(line) > width:  # trailing spaces past the edge go first
            line = line[:len(line) - min(len(line) - width, len(line) - len(line.rstrip()))]
        if len(line) > width:
            line = line[:width - 1] + "…"
        lines.append(line)
    return lines


def _justify(line, width, how):
    if how == "left":
        return line.ljust(width)
    line = line.rstrip()
    if how == "right":
        return line.rjust(width)
    left = (width - len(line)) // 2  # rich's centre: the odd space goes right
    return (" " * left + line).ljust(width)


def _draw_row(values, widths, align, sep, header):
    cells = []
    for v, w, how in zip(values, widths, align):
        cells.append([_justify(line, w, how) for line in wrap_cell(v, w)])
    height = max(len(c) for c in cells)
    for i, (c, w) in enumerate(zip(cells, widths)):
        blank = [" " * w] * (height - len(c))
        cells[i] = blank + c if header else c + blank  # headers sit at the bottom
    return [sep + sep.join(f" {c[k]} " for c in cells) + sep for k in range(height)]


def _rule(widths, left, fill, mid, end):
    return left + mid.join(fill * (w + 2) for w in widths) + end


def _layer_range(layers, layer_range):
    """Keras's layer_range: [first, last] names (or regexes), both included."""
    if layer_range is None:
        return layers
    if (not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2
            or not all(isinstance(n, str) for n in layer_range)):
        raise ValueError(
            "layer_range must be a list or tuple of 2 strings (the first and last layer "
            f"names, or regexes); received layer_range={layer_range!r}."
        )
    lo = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
    hi = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
    if not lo or not hi:
        raise ValueError(
            f"Passed layer_names do not match the layer names in the model. Received: "
            f"{layer_range!r}; the layers are {[l.name for l in layers]}."
        )
    if min(lo) > max(hi):
        return layers[min(hi):max(lo) + 1]
    return layers[min(lo):max(hi) + 1]


def summary_text(model, line_length=None, positions=None, expand_nested=False,
                 show_trainable=False, layer_range=None):
    """The summary as one string, without the final newline."""
    connections = shows_connections(model)
    if connections:
        default, headers = 108, ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        positions = positions or [0.3, 0.56, 0.74, 1.0]
    else:
        default, headers = 88, ["Layer (type)", "Output Shape", "Param #"]
        positions = positions or [0.45, 0.80, 1.0]
    if show_trainable:
        default += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        headers = headers + ["Trainable"]
    columns = terminal_columns()
    line_length = line_length or min(default, columns - 4)
    widths = column_widths(line_length, positions)
    align = ["left", "left", "right", "left"][:len(positions) - show_trainable] + (
        ["center"] if show_trainable else [])

    layers = _layer_range(list(model.layers), layer_range)
    rows = _rows(model, layers, _nodes_by_layer(model), connections, 0, expand_nested,
                 show_trainable)
    out = [f'Model: "{model.name}"', _rule(widths, "┏", "━", "┳", "┓")]
    out += _draw_row(headers, widths, align, "┃", header=True)
    out.append(_rule(widths, "┡", "━", "╇", "┩"))
    for i, row in enumerate(rows):
        out += _draw_row(row, widths, align, "│", header=False)
        last = i == len(rows) - 1
        out.append(_rule(widths, *("└", "─", "┴", "┘") if last else ("├", "─", "┼", "┤")))
    out = [line[:columns] for line in out]  # rich crops what is wider than the terminal

    weights = model.trainable_weights
    n = sum(w.value.size for w in weights)
    itemsize = weights[0].value.itemsize if weights else 4
    fixed = getattr(model, "non_trainable_weights", [])
    n_fixed = sum(w.value.size for w in fixed)
    fixed_bytes = sum(w.value.nbytes for w in fixed)
    opt = _optimizer_count(model, n)
    opt_n = opt_bytes = 0
    if opt is not None:
        opt_n = opt[0] + opt[1]
        opt_bytes = opt[0] * itemsize + opt[1] * _BYTES_PER_SCALAR
    total = n + n_fixed + opt_n
    total_bytes = n * itemsize + fixed_bytes + opt_bytes
    out += [f" Total params: {total:,} ({readable_size(total_bytes)})",
            f" Trainable params: {n:,} ({readable_size(n * itemsize)})",
            f" Non-trainable params: {n_fixed:,} ({readable_size(fixed_bytes)})"]
    if opt is not None:
        out.append(f" Optimizer params: {opt_n:,} ({readable_size(opt_bytes)})")
    return "\n".join(out)


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    """Print the summary, or hand it to ``print_fn`` as one string ending in a newline
    (what Keras hands it)."""
    text = summary_text(model, line_length=line_length, positions=positions,
                        expand_nested=expand_nested, show_trainable=show_trainable,
                        layer_range=layer_range)
    if print_fn is None:
        print(text)
    else:
        print_fn(text + "\n")
