"""Random state and small helpers.

minnn never touches NumPy's global random state. It keeps one
``np.random.Generator`` of its own, which initialisers and ``fit``'s shuffling
draw from unless they are handed a generator explicitly.
``set_random_seed(s)`` replaces that generator, so the same script after the
same seed builds the same weights and sees the same batches, bit for bit.
"""
import inspect
import numbers

import numpy as np

_rng = np.random.default_rng()


def set_random_seed(seed):
    """Make every later draw of minnn's own generator reproducible."""
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"Invalid seed: received seed={seed!r}, expected a non-negative integer."
        )
    _rng = np.random.default_rng(int(seed))


def get_rng():
    """Return minnn's current generator (the one ``set_random_seed`` made)."""
    return _rng


def resolve_rng(seed):
    """None -> minnn's generator; an int -> a fresh generator; a Generator -> itself."""
    if seed is None:
        return _rng
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"Invalid seed: received seed={seed!r}, expected None, a non-negative integer "
        "or a numpy.random.Generator."
    )


def as_real_array(data, what):
    """``np.asarray(data)``, or a TypeError that names what was received when that is not
    an array of real numbers (strings, objects, complex numbers, ragged lists)."""
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{what} could not be read as a numeric array ({e}); received {type(data).__name__}."
        ) from None
    if arr.dtype.kind not in "biuf":
        example = f" (for example {arr.flat[0]!r})" if arr.size else ""
        raise TypeError(
            f"{what} must hold real numbers: received an array of dtype {arr.dtype}{example}."
        )
    return arr


def to_snake_case(name):
    """'Dense' -> 'dense', 'ReLU' -> 're_lu', 'InputLayer' -> 'input_layer' (as Keras)."""
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0 and (not name[i - 1].isupper() or
                                        (i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


_name_counts = {}


def unique_name(base):
    """Keras-style automatic names: 'dense', then 'dense_1', 'dense_2', ..."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def to_categorical(x, num_classes=None):
    """One-hot rows from integer class labels, as ``keras.utils.to_categorical``.

    [2, 0] -> [[0, 0, 1], [1, 0, 0]]. Labels go through ``np.array(x, dtype='int64')``
    as in Keras, so floats are truncated (2.7 -> 2); a trailing axis of size 1 is
    dropped; the result has shape ``x.shape + (num_classes,)`` and dtype float64
    (Keras's, for NumPy input). num_classes defaults to max(x) + 1. A label that is
    negative or not below num_classes is refused with its value and position (Keras
    would wrap a negative label to the last class).
    """
    arr = as_real_array(x, "to_categorical")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(np.atleast_1d(arr)))[0]
        raise ValueError(f"to_categorical received a non-finite label at index {tuple(bad)}.")
    y = np.array(arr, dtype="int64")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y[..., 0]
    if num_classes is None:
        if y.size == 0:
            raise ValueError("to_categorical received no labels and no num_classes.")
        num_classes = int(y.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) \
            or num_classes <= 0:
        raise ValueError(
            f"Invalid num_classes: received num_classes={num_classes!r}, expected a positive integer."
        )
    flat = y.reshape(-1)
    bad = np.flatnonzero((flat < 0) | (flat >= num_classes))
    if bad.size:
        where = np.unravel_index(bad[0], y.shape) if y.ndim else ()
        raise ValueError(
            f"to_categorical received the label {flat[bad[0]]} at index {tuple(int(i) for i in where)}; "
            f"expected labels in [0, {num_classes})."
        )
    out = np.zeros(flat.shape + (int(num_classes),), dtype=np.float64)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(y.shape + (int(num_classes),))


_JSON_SCALARS = (str, int, float, bool, type(None))


def _json_plain(value):
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_plain(v) for k, v in value.items())
    return False


def init_arguments(cls, args, kwargs):
    """The arguments ``cls(*args, **kwargs)`` was called with, defaults filled in, as a
    dict, when every value can be written to JSON; otherwise None.

    This is Keras's "auto config": a custom layer or activation whose constructor
    takes only plain values (numbers, strings, lists of them) saves and loads
    without a get_config() of its own. ``name`` is left out (the object has it).
    """
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if any(p.kind is p.POSITIONAL_ONLY for p in params[1:]):
        return None  # cls(**config) could not pass them back
    bound.apply_defaults()
    out = dict(bound.arguments)
    out.pop(params[0].name)
    for p in params[1:]:
        if p.kind is p.VAR_POSITIONAL and out.pop(p.name, ()):
            return None
        if p.kind is p.VAR_KEYWORD:
            out.update(out.pop(p.name, {}))
    out.pop("name", None)
    return out if _json_plain(out) else None


def copy_all(pairs):
    """``dst[...] = src`` for every (dst, src) pair, all of them even if Ctrl-C arrives
    meanwhile: the KeyboardInterrupt is held back until the last copy is done, then
    raised, so that a model is never left with some weights replaced and others not."""
    pairs = list(pairs)
    interrupted, done = False, 0
    while done < len(pairs):
        try:
            while done < len(pairs):
                dst, src = pairs[done]
                dst[...] = src  # idempotent: a copy cut short is simply done again
                done += 1
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
