"""Saving and loading: weights in ``.npz``, whole models in one ``.minnn`` file.

Two file kinds, both NumPy ``.npz`` archives (a zip of ``.npy`` arrays), read
with ``allow_pickle=False`` so that loading a file can never run code:

- ``model.save_weights('ae.weights.npz')``: one array per weight, keyed by the
  path of layer names to it, e.g. ``encoder/dense/kernel``;
- ``model.save('ae.minnn')``: the same weights, plus the architecture as a JSON
  config, the loss, and the optimiser (class, config, ``iterations`` and its
  state arrays, Adam's m and v). ``minnn.models.load_model('ae.minnn')``
  rebuilds a model that predicts bit for bit as the saved one and goes on
  training exactly as it would have.

The JSON travels inside the archive as a uint8 array under ``__minnn__``.

Every write is atomic (``atomic.py``): the archive is written to a temporary
file in the same folder, flushed to disk, then renamed over the target, so a
crash mid-write leaves either the old file or the new one, never half a file.

Every load treats the file as hostile (``archive.py``): names and shapes are
read from the headers and checked against the model before any data is read,
then the values are checked, and only then assigned, so a failed load leaves
the model as it was. Every failure due to the file is a ``LoadError``.
"""
import contextlib
import json
import os
import warnings

import numpy as np

from . import archive, budget, graph, layers, losses, optimizers, utils
from . import metrics as metrics_module
from .archive import LoadError
from .atomic import IsAFolderError, NotAFileError, PathError, atomic_write  # noqa: F401
from .atomic import check_path as _check_path

FORMAT_VERSION = 1
_HEADER = archive.HEADER
_OPT_PREFIX = "optimizer/"


# A loader raises only LoadErrors (arguments aside): these two are also the errors above.
class MissingFileError(PathError, LoadError):
    """load_model / load_weights of a path where there is no file."""


class FolderGivenError(IsAFolderError, LoadError):
    """load_model / load_weights of a folder."""


# ---------------------------------------------------------------------------
# Writing (atomic.py makes every write all-or-nothing)
# ---------------------------------------------------------------------------
def _write_archive(path, header, arrays):
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)

    def write(f):
        np.savez(f, **{_HEADER: blob}, **arrays)

    atomic_write(path, write)


# ---------------------------------------------------------------------------
# Reading archives, with every failure turned into a clear LoadError
# ---------------------------------------------------------------------------
def _open_archive(path, what):
    """An open ``archive.Archive`` whose header is a minnn header of this version.

    Only the zip directory and the members' .npy headers have been read: the
    caller compares names and shapes with the model before reading any data.
    """
    path = _check_path(path, what)
    if not os.path.exists(path):
        raise MissingFileError(f"{what}: no such file {path!r}.")
    if os.path.isdir(path):
        raise FolderGivenError(f"{what}: {path!r} is a folder; expected a file saved by minnn.")
    ar = archive.Archive(path, what)
    try:
        header = ar.header
        if header.get("version") != FORMAT_VERSION:
            raise ar.fail(f"has format version {header.get('version')!r}; this minnn reads "
                          f"version {FORMAT_VERSION}.")
        if header["format"] not in ("minnn.weights", "minnn.model"):
            raise ar.fail(f"holds {header['format']!r}; expected minnn weights or a minnn model.")
        listed = header.get("keys" if header["format"] == "minnn.weights" else "weights")
        if listed is not None and (not isinstance(listed, list)
                                   or not all(isinstance(k, str) for k in listed)):
            raise ar.fail("has a damaged minnn header (its list of weights is not a list of names).")
        n_opt = header.get("optimizer_arrays", 0)
        if isinstance(n_opt, bool) or not isinstance(n_opt, int) or not 0 <= n_opt <= len(ar.members):
            raise ar.fail(f"has a damaged minnn header (optimizer_arrays={n_opt!r}, but the file "
                          f"holds {len(ar.members)} arrays).")
        expected = set(listed if listed is not None else
                       [k for k in ar.members if not k.startswith(_OPT_PREFIX)])
        expected |= {f"{_OPT_PREFIX}{i}" for i in range(n_opt)}
        unknown = sorted(k for k in ar.members if k not in expected)
        if unknown:
            raise ar.fail(f"is damaged or was altered: it holds arrays its header does not list: "
                          f"{unknown[:10]}.")
        missing = [k for k in expected if k not in ar.members]
        if any(k.startswith(_OPT_PREFIX) for k in missing):
            raise ar.fail("is missing optimizer state arrays.")
        return ar
    except BaseException:
        ar.close()
        raise


def _weight_members(ar):
    """{key: Member} of the weights, in the order the header lists them."""
    header = ar.header
    listed = header.get("keys" if header["format"] == "minnn.weights" else "weights") or []
    members = {k: ar.members[k] for k in listed if k in ar.members}
    members |= {k: m for k, m in ar.members.items() if not k.startswith(_OPT_PREFIX)}
    return members


def _checked(what, path, fn, *args):
    """Run a loader; any failure other than a LoadError (or Ctrl-C) becomes a LoadError.

    The checks in this file name every fault they know of; this is the net under
    them, so that a loader's caller has one exception type to catch.
    """
    try:
        return fn(*args)
    except LoadError:
        raise
    except RecursionError:
        raise LoadError(f"{what}: {path!r} is nested too deeply to load.") from None
    except MemoryError:
        raise LoadError(f"{what}: {path!r} needs more memory than is available.") from None
    except Exception as e:
        raise LoadError(f"{what}: {path!r} cannot be loaded ({type(e).__name__}: {e}).") from None


# ---------------------------------------------------------------------------
# Weights, keyed by the path of layer names
# ---------------------------------------------------------------------------
def weight_keys(model):
    """[(key, Weight)] in ``model.weights`` order; a key is e.g. 'encoder/dense/kernel'.

    A weight reachable along several paths (a shared layer) is listed once, under
    the first path, as ``model.weights`` lists it once.
    """
    from .models import Model

    out, seen = [], set()

    def walk(m, prefix):
        for layer in m.layers:
            if isinstance(layer, Model):
                walk(layer, prefix + layer.name + "/")
            else:
                for w in layer.weights:
                    if id(w) not in seen:
                        seen.add(id(w))
                        out.append((prefix + w.name, w))

    walk(model, "")
    keys = [k for k, _ in out]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(
            f"Cannot save model '{model.name}': different weights share the names {dup}. "
            "Give the layers unique names."
        )
    return out


def _weight_arrays(model):
    return {k: w.value for k, w in weight_keys(model)}


def _check_weights(model, arrays, path, what, by_name=True):
    """Match the file's arrays to the model's weights; return [(Weight, array)] or raise
    a LoadError that lists every difference. Nothing is assigned here.

    ``arrays`` maps keys to anything with a ``shape`` and a ``dtype``: the file's
    members, known from their .npy headers alone, so that a file that does not
    fit is refused before any of its data is read."""
    pairs = weight_keys(model)
    if by_name:
        missing = [k for k, _ in pairs if k not in arrays]
        extra = sorted(k for k in arrays if k not in dict(pairs))
        matched = [(k, w, arrays[k]) for k, w in pairs if k in arrays]
    else:
        file_keys = list(arrays)
        missing = [k for k, _ in pairs[len(file_keys):]]
        extra = file_keys[len(pairs):]
        matched = [(k, w, arrays[fk]) for (k, w), fk in zip(pairs, file_keys)]
    problems = []
    if missing:
        problems.append(f"missing from the file: {missing}")
    if extra:
        problems.append(f"in the file but not in the model: {extra}")
    for k, w, arr in matched:
        if arr.shape != w.shape:
            problems.append(f"'{k}' has shape {arr.shape} in the file, but the model's weight has shape {w.shape}")
        elif arr.dtype.kind != "f":
            problems.append(f"'{k}' has dtype {arr.dtype} in the file; expected floats")
    if problems:
        hint = ""
        if by_name and (missing or extra) and len(arrays) == len(pairs) and all(
                a.shape == w.shape for a, (_, w) in zip(arrays.values(), pairs)):
            hint = (" The file's weights match this model's one for one in order and shape, "
                    "but under other layer names (a model rebuilt in the same session gets new "
                    "automatic names such as dense_6). To load them by position, call "
                    "load_weights(path, by_name=False).")
        raise LoadError(
            f"{what}: {path!r} does not match model '{model.name}' "
            f"(file: {len(arrays)} weights, model: {len(pairs)} weights):\n  - "
            + "\n  - ".join(problems) + "\nThe model's weights were not changed." + hint
        )
    return [(w, arr) for _, w, arr in matched]


def _read_values(ar, pairs, model):
    """Read each matched member, cast it to its weight's dtype, and check it is finite
    there (1e39 is a finite float64 but inf in float32). Returns [(Weight, array)]."""
    out, bad = [], []
    for w, member in pairs:
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, by name
            arr = ar.read(member).astype(w.dtype, copy=False)
        if not np.isfinite(arr).all():
            bad.append(member.key)
        out.append((w, arr))
    if bad:
        raise LoadError(
            f"{ar.what}: {ar.path!r} holds NaN or inf values in {bad} (after conversion to the "
            f"model's dtype, {model.dtype}). The model's weights were not changed.")
    return out


def _assign(pairs):
    # Into the existing arrays (the model's flat buffer stays shared), all or nothing
    # even on Ctrl-C.
    utils.copy_all((w.value, arr) for w, arr in pairs)


def save_weights(model, path):
    """Write every weight of ``model`` to the .npz file ``path`` (atomically)."""
    arrays = _weight_arrays(model)
    header = {"format": "minnn.weights", "version": FORMAT_VERSION, "model": model.name,
              "keys": list(arrays)}
    _write_archive(path, header, arrays)


def load_weights(model, path, by_name=None):
    """Read weights saved by ``save_weights`` (or ``save``) into ``model``.

    by_name=True matches keys such as 'encoder/dense/kernel' to the model's layer
    names; by_name=False matches the file's weights to the model's by position.
    The default, None, matches by name when every name matches, and otherwise by
    position when the file holds exactly as many weights, of the same shapes in
    the same order: so the same architecture rebuilt in a new session, whose
    automatic names (dense_6, ...) differ, loads as it does in Keras.
    Everything is checked first; on any mismatch the model is left unchanged.
    Every failure due to the file is a LoadError.
    """
    if by_name is not None and not isinstance(by_name, bool):
        raise TypeError(f"by_name must be None, True or False, received by_name={by_name!r}.")
    what = "load_weights"
    path = _check_path(path, what)
    _assign(_checked(what, path, _load_weights, model, path, by_name))


def _load_weights(model, path, by_name):
    what = "load_weights"
    with _open_archive(path, what) as ar:
        weights = _weight_members(ar)
        if by_name is None:
            pairs = weight_keys(model)
            by_name = set(weights) == {k for k, _ in pairs} or not (
                len(weights) == len(pairs)
                and all(a.shape == w.shape for a, (_, w) in zip(weights.values(), pairs)))
        return _read_values(ar, _check_weights(model, weights, path, what, by_name), model)


# ---------------------------------------------------------------------------
# Architecture: a Model as JSON (layers, their configs, and how they connect)
# ---------------------------------------------------------------------------
def _layer_class_name(layer):
    from .models import Model
    from .sequential import Sequential
    if isinstance(layer, Sequential):
        return "Sequential"
    return "Functional" if isinstance(layer, Model) else type(layer).__name__


def sequential_config(model):
    """A Sequential model as JSON data: its name and every layer's config, the InputLayer
    first (as Keras writes it). Nested models are written with ``model_config``."""
    from .models import Model
    layer_cfgs = []
    for layer in model._layers:
        cfg = model_config(layer) if isinstance(layer, Model) else layer.get_config()
        layer_cfgs.append({"class_name": _layer_class_name(layer), "config": cfg})
    cfg = {"class_name": "Sequential", "name": model.name, "layers": layer_cfgs}
    json.dumps(cfg)
    return cfg


def sequential_from_config(config, custom_objects=None, made=None):
    """Rebuild a Sequential model from ``sequential_config``'s output (fresh weights)."""
    from .sequential import Sequential
    made = {} if made is None else made
    stack = [_make_layer(entry, custom_objects, made) for entry in config["layers"]]
    return Sequential(stack, name=config["name"])


def model_config(model):
    """The graph of ``model`` as plain JSON data.

    layers: every top-level layer once, {'class_name', 'config'}; a nested model's
        config is itself a model config.
    nodes: every call in topological order, {'layer': name, 'inputs': [[node, tensor], ...],
        'as_list': bool}, where [node, tensor] points at output `tensor` of an earlier node.
    inputs / outputs: [node, tensor] pairs, plus whether the model was built with lists.
    """
    from .models import Model
    from .sequential import Sequential

    if isinstance(model, Sequential):
        return sequential_config(model)
    node_pos = {id(n): i for i, n in enumerate(model._nodes)}
    layer_cfgs = []
    for layer in model.layers:
        if isinstance(layer, Model):
            cfg = model_config(layer)
        else:
            cfg = layer.get_config()
        layer_cfgs.append({"class_name": _layer_class_name(layer), "config": cfg})
    nodes = []
    for node in model._nodes:
        nodes.append({
            "layer": node.layer.name,
            "inputs": [[node_pos[id(t.node)], t.index] for t in node.inputs],
            "as_list": len(node.inputs) > 1 or isinstance(node.layer._input_shape, list),
        })

    def refs(tensors):
        return [[node_pos[id(t.node)], t.index] for t in tensors]

    cfg = {"name": model.name, "layers": layer_cfgs, "nodes": nodes,
           "inputs": refs(model.inputs), "outputs": refs(model.outputs),
           "inputs_as_list": model._multi_in, "outputs_as_list": model._multi_out}
    json.dumps(cfg)  # fail here, before any file is touched, if something is not JSON
    return cfg


def _input_tensor(layer, made):
    """The symbolic tensor of an InputLayer (what Input() returns), made once per layer:
    a nested model and the model around it share their Input, as in the tutorial's ae."""
    key = ("tensor", layer.name)
    if key not in made:
        node = graph.Node(layer, [], call_index=0)
        layer._call_count = 1
        node.outputs = [graph.SymbolicTensor((None,) + layer.shape, layer.dtype, node)]
        made[key] = node.outputs[0]
    return made[key]


def _make_layer(entry, custom_objects, made):
    class_name, cfg = entry["class_name"], entry["config"]
    name = cfg["name"]
    if name in made:  # a layer shared with a model rebuilt earlier: the same object
        return made[name]
    if class_name in ("Functional", "Sequential"):
        layer = model_from_config(cfg, custom_objects, made)
    else:
        cls = (custom_objects or {}).get(class_name) or layers.LAYER_CLASSES.get(class_name)
        if cls is None:
            raise LoadError(
                f"Unknown layer class {class_name!r} (layer {name!r}). Known: "
                f"{sorted(layers.LAYER_CLASSES)}; pass custom_objects={{'{class_name}': cls}} "
                "for your own layers."
            )
        layer = cls.from_config(cfg)
    made[name] = layer
    return layer


def model_from_config(config, custom_objects=None, made=None):
    """Rebuild a Model from ``model_config``'s output (fresh weights, drawn as at creation)."""
    from .models import Model

    made = {} if made is None else made
    if config.get("class_name") == "Sequential":
        return sequential_from_config(config, custom_objects, made)
    by_name = {}
    for entry in config["layers"]:
        layer = _make_layer(entry, custom_objects, made)
        by_name[layer.name] = layer
    produced = []  # produced[i] = output tensors of node i
    for node in config["nodes"]:
        layer = by_name[node["layer"]]
        if isinstance(layer, layers.InputLayer):
            produced.append([_input_tensor(layer, made)])
            continue
        ins = [produced[i][j] for i, j in node["inputs"]]
        out = layer(ins if node["as_list"] else ins[0])
        produced.append(out if isinstance(out, list) else [out])
    ins = [produced[i][j] for i, j in config["inputs"]]
    outs = [produced[i][j] for i, j in config["outputs"]]
    return Model(ins if config["inputs_as_list"] else ins[0],
                 outs if config["outputs_as_list"] else outs[0], name=config["name"])


# ---------------------------------------------------------------------------
# Whole models: architecture + weights + loss + optimiser state
# ---------------------------------------------------------------------------
def _compile_config(model):
    if not model.compiled:
        return None
    loss_cfgs = []
    for fn in model._loss_fns:
        try:
            loss_cfgs.append(losses.serialize(fn))
        except ValueError:
            loss_cfgs.append({"class_name": type(fn).__name__, "custom": True,
                              "config": _jsonable(fn.get_config())})
    opt = model.optimizer
    opt_cfg = {"class_name": type(opt).__name__, "config": _jsonable(opt.get_config()),
               "iterations": int(opt.iterations)}
    cfg = {"loss": loss_cfgs, "optimizer": opt_cfg}
    if getattr(model, "_loss_weights", None) is not None:
        cfg["loss_weights"] = list(model._loss_weights)
    if getattr(model, "_metric_specs", None) is not None:
        cfg["metrics"] = [[_metric_config(m) for m in spec] for spec in model._metric_specs]
    return cfg


def _metric_config(identifier):
    """A compiled metric as JSON: its string, or its class and config (Keras's own are
    rebuilt on load; a custom one needs custom_objects then)."""
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, metrics_module.Metric):
        return {"class_name": type(identifier).__name__, "config": _jsonable(identifier.get_config())}
    if isinstance(identifier, type):
        return {"class_name": identifier.__name__, "config": {}}
    return {"class_name": getattr(identifier, "__name__", type(identifier).__name__), "function": True}


def _metric_from_config(cfg, custom_objects):
    """The identifier compile() takes, or None for a custom one that custom_objects lacks."""
    if isinstance(cfg, str):
        return cfg
    name = cfg.get("class_name") if isinstance(cfg, dict) else None
    obj = (custom_objects or {}).get(name) or getattr(metrics_module, name or "", None)
    if obj is None or not callable(obj) or (name or "").startswith("_"):
        return None  # a name from the file picks only a public metric, never e.g. `np`
    if cfg.get("function"):
        return obj
    if isinstance(obj, type) and issubclass(obj, metrics_module.Metric):
        config = {k: v for k, v in (cfg.get("config") or {}).items() if k != "dtype"}
        try:
            return obj(**config)
        except TypeError:
            return obj()
    return obj


def _jsonable(cfg):
    try:
        json.dumps(cfg)
        return cfg
    except TypeError:
        return {}


def _state_by_weight_order(model, state):
    """The optimiser's state as whole-model arrays of P numbers each, in weight order.

    An optimiser keeps one array per run of neighbouring weights (see
    ``storage.runs``); where the runs fall depends on what else the process built,
    so the file stores each kind of state (Adam's m, its v) as one array over all
    the weights, and loading cuts it into the loading model's runs.
    """
    if not state:
        return []
    model._ensure_flat()
    runs = model._param_flats
    if len(state) % len(runs) or any(
            a.shape != p.shape for i, a in enumerate(state) for p in [runs[i % len(runs)]]):
        return list(state)  # not per run (a custom optimiser's): stored as it is
    k = len(runs)
    return [np.concatenate(state[i:i + k]) for i in range(0, len(state), k)]


def save_model(model, path):
    """Write architecture, weights, loss and optimiser state to the one file ``path``."""
    config = model_config(model)
    compile_cfg = _compile_config(model)
    arrays = _weight_arrays(model)
    state = _state_by_weight_order(model, model.optimizer.get_state()) if model.compiled else []
    for i, a in enumerate(state):
        arrays[f"{_OPT_PREFIX}{i}"] = a
    header = {"format": "minnn.model", "version": FORMAT_VERSION, "config": config,
              "compile": compile_cfg, "weights": [k for k in arrays if not k.startswith(_OPT_PREFIX)],
              "optimizer_arrays": len(state)}
    _write_archive(path, header, arrays)


def _loss_from_config(cfg, custom_objects, path):
    if not cfg.get("custom"):
        return losses.deserialize(cfg)
    obj = (custom_objects or {}).get(cfg["class_name"])
    if obj is None:
        raise LoadError(
            f"load_model: {path!r} was compiled with the custom loss {cfg['class_name']!r}, "
            "which minnn cannot rebuild on its own. Pass "
            f"custom_objects={{'{cfg['class_name']}': {cfg['class_name']}}}, or load with "
            "compile=False and call compile() yourself."
        )
    return obj if isinstance(obj, losses.Loss) else obj()


def _optimizer_from_config(cfg, custom_objects, path):
    known = {"SGD": optimizers.SGD, "Adam": optimizers.Adam, "RMSprop": optimizers.RMSprop}
    cls = (custom_objects or {}).get(cfg["class_name"]) or known.get(cfg["class_name"])
    if cls is None:
        raise LoadError(
            f"load_model: {path!r} uses the optimizer {cfg['class_name']!r}, which minnn does "
            f"not know. Pass custom_objects={{'{cfg['class_name']}': cls}} or compile=False."
        )
    iterations = cfg["iterations"]
    if isinstance(iterations, bool) or not isinstance(iterations, int) \
            or not 0 <= iterations <= MAX_ITERATIONS:
        raise LoadError(f"load_model: {path!r} holds an optimizer with iterations={iterations!r}; "
                        f"expected an integer in [0, {MAX_ITERATIONS}].")
    opt = cls(**cfg["config"])
    opt.iterations = iterations
    return opt


MAX_ITERATIONS = 2**63 - 1  # Keras keeps iterations in an int64


def load_model(path, custom_objects=None, compile=True):
    """Rebuild the model saved by ``model.save(path)``: same graph, weights, loss and
    optimiser state. ``compile=False`` skips the loss and optimiser.

    The file is checked before anything large is built or read (see archive.py);
    every failure due to the file is a LoadError that names it."""
    what = "load_model"
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict of name -> class, received {custom_objects!r}.")
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be True or False, received compile={compile!r}.")
    path = _check_path(path, what)
    return _checked(what, path, _load_model, path, custom_objects, compile)


def _load_model(path, custom_objects, compile):
    what = "load_model"
    with _open_archive(path, what) as ar:
        header = ar.header
        if header["format"] != "minnn.model":
            hint = (" It holds weights only: rebuild the model in code and call "
                    "model.load_weights(path)." if header["format"] == "minnn.weights" else "")
            raise LoadError(
                f"{what}: {path!r} holds {header['format']!r}; expected a model saved with "
                f"model.save(path).{hint}"
            )
        weights = _weight_members(ar)
        # A model that loads has exactly as many weight values as the file holds:
        # building may allocate no more than that.
        n_values = sum(m.size for m in weights.values() if m.dtype.kind == "f")
        try:
            with contextlib.ExitStack() as undo:  # no `try:` line inside: see atomic.py
                _keep_rng(undo)
                budget.limit(undo, n_values)
                model = model_from_config(header["config"], custom_objects)
        except LoadError as e:
            raise LoadError(f"{what}: {path!r}: {e}") from None
        except Exception as e:
            raise LoadError(f"{what}: {path!r} holds an architecture minnn cannot rebuild "
                            f"({type(e).__name__}: {e}).") from None
        _assign(_read_values(ar, _check_weights(model, weights, path, what), model))
        cc = header.get("compile")
        if compile and cc is not None:
            try:
                _compile_from_config(model, cc, ar, custom_objects, path)
            except LoadError:
                raise
            except Exception as e:
                raise LoadError(f"{what}: {path!r} holds a loss or optimizer minnn cannot restore "
                                f"({type(e).__name__}: {e}). Load with compile=False to skip them."
                                ) from None
    return model


def _keep_rng(stack):
    """Put minnn's generator back as it was when ``stack`` closes: building layers draws
    initial weights from it, and load_model throws those draws away. The restore is a
    C-level setattr called by the ExitStack, so even a Ctrl-C cannot skip it."""
    bit_generator = utils.get_rng().bit_generator
    stack.callback(setattr, bit_generator, "state", bit_generator.state)


def _compile_from_config(model, cc, ar, custom_objects, path):
    """Compile ``model`` with the saved loss and optimiser, and give the optimiser its state."""
    what = "load_model"
    if not isinstance(cc, dict) or not isinstance(cc.get("loss"), list) or not cc["loss"] \
            or not isinstance(cc.get("optimizer"), dict):
        raise LoadError(f"{what}: {path!r} has a damaged minnn header (its 'compile' entry).")
    loss_fns = [_loss_from_config(c, custom_objects, path) for c in cc["loss"]]
    opt = _optimizer_from_config(cc["optimizer"], custom_objects, path)
    loss = dict(zip(model.output_names, loss_fns)) if len(loss_fns) > 1 else loss_fns[0]
    metrics = None
    if isinstance(cc.get("metrics"), list):
        per_output = [[_metric_from_config(c, custom_objects) for c in spec]
                      for spec in cc["metrics"] if isinstance(spec, list)]
        lost = sum(m is None for spec in per_output for m in spec)
        if lost:
            warnings.warn(f"load_model: {path!r} was compiled with {lost} custom metric(s) that "
                          "custom_objects does not name; the model is compiled without them.",
                          stacklevel=3)
        per_output = [[m for m in spec if m is not None] for spec in per_output]
        if any(per_output):
            metrics = per_output[0] if len(per_output) == 1 else per_output
    model.compile(optimizer=opt, loss=loss, loss_weights=cc.get("loss_weights"), metrics=metrics)
    n = ar.header.get("optimizer_arrays", 0)
    members = [ar.members[f"{_OPT_PREFIX}{i}"] for i in range(n)]
    if members:
        model._ensure_flat()
        runs = [p.size for p in model._param_flats]
        total = sum(runs)
        if any(m.shape != (total,) for m in members):
            raise LoadError(
                f"{what}: {path!r} holds optimizer state of shapes {[m.shape for m in members]}, "
                f"which does not fit the model's {total} parameters."
            )
        bad = [f"{m.key} ({m.dtype})" for m in members if m.dtype.kind != "f"]
        if bad:
            raise LoadError(f"{what}: {path!r} holds optimizer state of a non-float dtype: "
                            f"{bad}; expected real floats.")
        dtype = model._param_flats[0].dtype
        state = []
        for m in members:
            with np.errstate(over="ignore", invalid="ignore"):  # reported below, by name
                arr = ar.read(m).astype(dtype)
            if not np.isfinite(arr).all():
                raise LoadError(f"{what}: {path!r} holds NaN or inf in the optimizer state "
                                f"{m.key!r} (after conversion to {dtype}).")
            state.append(arr)
        # The file holds each kind of state over all the weights; the optimiser keeps one
        # array per run of neighbouring weights (see _state_by_weight_order).
        cuts = np.cumsum(runs)[:-1]
        state = [part for arr in state for part in np.split(arr, cuts)]
        try:
            opt.set_state(state)
        except ValueError as e:
            raise LoadError(f"{what}: {path!r} holds optimizer state that "
                            f"{type(opt).__name__} refuses: {e}") from None
