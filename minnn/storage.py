"""Where weights live: side by side in a few shared buffers, allocated once.

An optimiser step is fastest as a handful of NumPy calls over one long array,
not a dozen calls for every weight. So each new Weight takes its value, and its
gradient, from the next free stretch of two shared buffers (one for values, one
for gradients, at the same offsets). The weights of a model built layer after
layer therefore sit next to each other, and ``runs`` hands the optimiser each
stretch of neighbours as one 1-D view: usually a single run for a whole model,
nested models included.

Nothing here ever moves a weight. The array a weight is created with is the one
it keeps, so a reference a learner holds (``k = layer.kernel.value``) stays the
live array through fit, train_on_batch, set_weights and load_weights, in every
model that shares the layer.
"""
import numpy as np

# Elements per buffer: 4 MiB of float32. The operating system hands out the pages
# of a large buffer only when they are first written, so an unused tail costs nothing.
CHUNK = 1 << 20

_current = {}  # dtype -> (values buffer, gradients buffer, index of the next free element)


def allocate(shape, dtype):
    """Two zero-filled arrays of ``shape`` (a value and its gradient), placed right
    after the previous allocation of the same dtype whenever the buffer has room."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    values, grads, at = _current.get(dtype, (None, None, 0))
    if values is None or at + n > values.size:
        size = max(CHUNK, n)
        values, grads, at = np.zeros(size, dtype), np.zeros(size, dtype), 0
    _current[dtype] = (values, grads, at + n)
    return values[at:at + n].reshape(shape), grads[at:at + n].reshape(shape)


def _place(a):
    """(buffer, offset) of an array that is a contiguous stretch of a 1-D buffer, else None."""
    base = a.base
    if base is None or not isinstance(base, np.ndarray) or base.ndim != 1 \
            or base.dtype != a.dtype or not a.flags.c_contiguous:
        return None
    offset = (a.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // a.itemsize
    return base, offset


def runs(weights):
    """The weights, in their order, grouped into maximal runs of neighbours in memory.

    Returns a list of (values, grads) pairs of 1-D views, one pair per run: writing
    into ``values`` writes into the weights themselves. A weight that does not sit
    in a shared buffer (one deep-copied, say) is a run of its own.
    """
    out = []      # [values, grads, values place, grads place, length] per run
    for w in weights:
        for a in (w.value, w.grad):
            if not a.flags.c_contiguous:
                raise TypeError(f"Weight {w.name}: its array is not contiguous in memory; "
                                "assign new values with weight.value[...] = array.")
        pv, pg, n = _place(w.value), _place(w.grad), w.value.size
        if out and pv and pg and out[-1][2] and out[-1][3]:
            (bv, ov), (bg, og) = out[-1][2], out[-1][3]
            end = out[-1][4]
            if pv[0] is bv and pg[0] is bg and pv[1] == ov + end and pg[1] == og + end:
                out[-1][4] = end + n
                continue
        out.append([None, None, pv, pg, n])
        if not (pv and pg):  # not in a shared buffer: the weight's own arrays, flattened
            out[-1][:2] = w.value.reshape(-1), w.grad.reshape(-1)
    result = []
    for values, grads, pv, pg, n in out:
        if values is None:
            values, grads = pv[0][pv[1]:pv[1] + n], pg[0][pg[1]:pg[1] + n]
        result.append((values, grads))
    return result
