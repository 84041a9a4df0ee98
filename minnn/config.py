"""Global numeric settings: the default float type, as in ``keras.config``.

minnn computes in float32 by default, like Keras. Gradient checks switch to
float64, either globally with ``set_floatx('float64')`` or per layer with
``Dense(..., dtype='float64')``.
"""
import numpy as np

_FLOATX = "float32"
_ALLOWED = ("float32", "float64")


def floatx():
    """Return the default float type as a string, 'float32' or 'float64'."""
    return _FLOATX


def set_floatx(value):
    """Set the default float type used by layers built from now on."""
    global _FLOATX
    if not isinstance(value, str) or value not in _ALLOWED:
        raise ValueError(
            f"Unknown floatx type: received value={value!r}, expected one of {list(_ALLOWED)}."
        )
    _FLOATX = value


def standardize_dtype(dtype):
    """Turn None / a string / a numpy dtype into 'float32' or 'float64'."""
    if dtype is None:
        return _FLOATX
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _ALLOWED:
        raise ValueError(
            f"Invalid dtype: received dtype={dtype!r}, expected one of {list(_ALLOWED)}."
        )
    return name


def epsilon():
    """The fuzz factor Keras uses in losses such as binary crossentropy."""
    return 1e-7
