"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts.

Sizes are parameter count × bytes per parameter, with 1 KB = 1024 B, as Keras.
A graph that is not a simple chain gets a fourth column, 'Connected to'.
"""
from .layers import InputLayer


def readable_size(n_bytes):
    """4012 -> '3.92 KB', 0 -> '0.00 B' (Keras's readable_memory_size)."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _shape_text(shape):
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _is_chain(model):
    """True when every layer reads the previous one's output: no 'Connected to' needed."""
    if not model.built:
        return True
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    prev = model.inputs[0]
    for node in model._nodes:
        if isinstance(node.layer, InputLayer):
            continue
        if len(node.inputs) != 1 or node.inputs[0] is not prev or len(node.outputs) != 1:
            return False
        prev = node.outputs[0]
    return prev is model.outputs[0]


def _rows(model, expand_nested, depth, show_connections):
    rows = []
    for node in model._nodes:
        layer = node.layer
        if isinstance(layer, InputLayer) and type(model).__name__ == "Sequential":
            continue  # Keras's Sequential summary has no InputLayer row
        kind = type(layer).__name__ if type(layer).__name__ == "Sequential" else (
            "Functional" if hasattr(layer, "_steps") else type(layer).__name__)
        shapes = [t.shape for t in node.outputs]
        shape = _shape_text(shapes[0] if len(shapes) == 1 else shapes)
        connected = ", ".join(f"{t.layer.name}[{t.node.call_index}][{t.index}]" for t in node.inputs)
        params = layer.count_params() if node.call_index == 0 else 0
        if isinstance(layer, InputLayer):
            connected = "-"
        name = "  " * depth + ("└ " if depth else "") + f"{layer.name} ({kind})"
        row = [name, shape, f"{params:,}"]
        if show_connections:
            row.append(connected)
        rows.append(row)
        if expand_nested and hasattr(layer, "_steps") and node.call_index == 0:
            rows.extend(_rows(layer, True, depth + 1, show_connections))
    return rows


def summary_text(model, expand_nested=False):
    """The summary as one string (what ``model.summary()`` prints)."""
    show_connections = not _is_chain(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    widths = [31, 22, 13]
    if show_connections:
        headers.append("Connected to")
        widths = [31, 22, 11, 25]
    if not model.built:  # a Sequential model without Input, before build/fit: as Keras
        show_connections, headers, widths = False, headers[:3], widths[:3]
        rows = [[f"{l.name} ({type(l).__name__})", "?", "0 (unbuilt)"] for l in model.layers]
    else:
        rows = _rows(model, expand_nested, 0, show_connections)
    widths = [max([w, len(h)] + [len(r[i]) for r in rows]) for i, (w, h) in enumerate(zip(widths, headers))]
    right = {2}  # Param # is right-aligned

    def line(left, fill, mid, end):
        return left + mid.join(fill * (w + 2) for w in widths) + end

    def cells(values, sep):
        parts = [f" {v:>{w}} " if i in right else f" {v:<{w}} "
                 for i, (v, w) in enumerate(zip(values, widths))]
        return sep + sep.join(parts) + sep

    out = [f'Model: "{model.name}"', line("┏", "━", "┳", "┓"), cells(headers, "┃"),
           line("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        out.append(cells(row, "│"))
        out.append(line("├", "─", "┼", "┤") if i < len(rows) - 1 else line("└", "─", "┴", "┘"))
    total = model.count_params()
    itemsize = model.weights[0].value.itemsize if model.weights else 4
    size = readable_size(total * itemsize)
    out += [f" Total params: {total:,} ({size})",
            f" Trainable params: {total:,} ({size})",
            f" Non-trainable params: 0 ({readable_size(0)})"]
    return "\n".join(out)


def print_summary(model, expand_nested=False, print_fn=None):
    text = summary_text(model, expand_nested=expand_nested)
    if print_fn is None:
        print(text)
    else:
        print_fn(text)
