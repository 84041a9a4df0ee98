"""Optimisers: the only code in minnn that changes weights.

``optimizer.apply(grads, weights)`` takes Keras's argument order: the
gradients first, then the weights they belong to (Weight objects or arrays),
and updates the weights in place. A Model hands it one flat buffer holding all
its weights (and one holding all the gradients), so an Adam step is a dozen
vectorised NumPy calls however many layers there are. The plain one-line
versions of each update are in minnn/reference.py (``sgd_step``, ``adam_step``).
"""
import math
import numbers
import os
import queue
import threading

import numpy as np

from .layers import Weight


def _checked_params(grads, weights):
    """The arrays behind ``weights``, after checking they pair up with ``grads``."""
    if len(grads) != len(weights):
        raise ValueError(f"apply() received {len(grads)} gradients but {len(weights)} weights.")
    params = []
    for g, w in zip(grads, weights):
        if isinstance(g, Weight):
            raise TypeError(
                "optimizer.apply takes (grads, weights), in Keras's order; received Weight "
                "objects as the first argument. Call optimizer.apply(grads, weights) "
                "(minnn 0.1's order, apply(params, grads), was the other way round)."
            )
        p = w.value if isinstance(w, Weight) else w
        if p.shape != g.shape:
            raise ValueError(
                f"A gradient of shape {g.shape} does not match its weight of shape {p.shape}."
            )
        params.append(p)
    return params


def _check_positive(name, value, upper=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value <= 0 or (upper is not None and value >= upper):
        bound = f"in (0, {upper})" if upper is not None else "a positive number"
        raise ValueError(f"Invalid {name}: received {name}={value!r}, expected {bound}.")
    return float(value)


class Optimizer:
    """Base class: ``apply(grads, weights)`` updates every weight in place."""

    def __init__(self, learning_rate):
        self.learning_rate = _check_positive("learning_rate", learning_rate)
        self.iterations = 0  # optimiser steps taken (batches, not epochs)

    def apply(self, grads, weights):
        """One step, as Keras's ``optimizer.apply(grads, trainable_variables)``.

        grads: a list of arrays; weights: a list of the same length, of Weight
        objects (``model.trainable_weights``) or arrays, updated in place.

        minnn 0.1 took ``apply(params, grads)``, the other way round. Weight objects
        passed first get a clear error; two lists of plain arrays cannot be told
        apart, so for them the old order cannot be caught: update such calls.
        """
        self._update(_checked_params(grads, weights), grads)
        self.iterations += 1  # once per step, after every variable is updated

    def apply_gradients(self, grads_and_vars):
        """Keras's other spelling: ``apply_gradients(zip(grads, weights))``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [w for _, w in pairs])

    def _ensure_state(self, params, held, what):
        """Build the state (``self._build``) at the first step, for these parameters and no
        others. ``held``: the state arrays made so far (None before the first step)."""
        if held is not None and len(held) == len(params) and all(
                h.shape == p.shape and h.dtype == p.dtype for h, p in zip(held, params)):
            return
        if self.iterations and held is not None:
            raise ValueError(
                f"This {type(self).__name__} instance already holds {what} for parameters of "
                f"shapes {[h.shape for h in held]}, but was given {[p.shape for p in params]}. "
                "Use a new optimizer for a different model."
            )
        self._build(params)

    def _update(self, params, grads):
        raise NotImplementedError

    def get_config(self):
        return {"learning_rate": self.learning_rate}

    # Optimiser state, for saving: a list of arrays (plus iterations).
    def get_state(self):
        return []

    def set_state(self, arrays):
        if arrays:
            raise ValueError(f"{type(self).__name__} keeps no state, received {len(arrays)} arrays.")


class SGD(Optimizer):
    """Stochastic gradient descent, with Keras's optional momentum.

    momentum = 0:   θ ← θ − lr · g
    momentum > 0:   v ← momentum · v − lr · g;   θ ← θ + v
    nesterov=True:  v as above;                   θ ← θ + momentum · v − lr · g

    The velocity v starts at 0 and is the optimiser's only state.
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not math.isfinite(momentum) or not 0.0 <= momentum <= 1.0:
            raise ValueError(
                f"Invalid momentum: received momentum={momentum!r}, expected a number in [0, 1]."
            )
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False, received nesterov={nesterov!r}.")
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self._v = self._tmp = None

    def _build(self, params):
        v, tmp = [np.zeros_like(p) for p in params], [np.empty_like(p) for p in params]
        self._v, self._tmp = v, tmp  # one statement: a Ctrl-C leaves all of the state or none

    def _update(self, params, grads):
        if self.momentum == 0:
            for p, g in zip(params, grads):
                p -= self.learning_rate * g  # in place: a wrongly shaped g raises, never broadcasts p
            return
        self._ensure_state(params, self._v, "velocities")
        for p, g, v, tmp in zip(params, grads, self._v, self._tmp):
            np.multiply(g, self.learning_rate, out=tmp)
            v *= self.momentum
            v -= tmp                          # v ← momentum·v − lr·g
            if self.nesterov:
                tmp *= -1
                tmp += self.momentum * v
                p += tmp                      # θ ← θ + momentum·v − lr·g
            else:
                p += v                        # θ ← θ + v

    def get_config(self):
        return {"learning_rate": self.learning_rate, "momentum": self.momentum,
                "nesterov": self.nesterov}

    def _state_arrays(self):
        # The live velocities (not copies), for StepGuard's snapshot.
        return [] if self._v is None else list(self._v)

    def get_state(self):
        return [] if self._v is None else [v.copy() for v in self._v]

    def set_state(self, arrays):
        if not arrays:
            self._v = self._tmp = None
            return
        if self.momentum == 0:
            raise ValueError(f"SGD without momentum keeps no state, received {len(arrays)} arrays.")
        self._build(arrays)
        for dst, src in zip(self._v, arrays):
            dst[...] = src


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) in Keras's "epsilon hat" form.

    With t = iterations + 1, for every parameter θ with gradient g::

        m ← m + (g − m)(1 − β1)
        v ← v + (g² − v)(1 − β2)
        α_t = lr · sqrt(1 − β2^t) / (1 − β1^t)
        θ ← θ − α_t · m / (sqrt(v) + ε)

    The bias corrections are folded into α_t, so ε is added to the *uncorrected*
    sqrt(v). PyTorch's Adam (Algorithm 1 of the paper, default eps=1e-8) adds ε
    to sqrt(v / (1 − β2^t)) instead. The two agree with
    eps_torch = eps_keras / sqrt(1 − β2^t), which changes with t (3.2e-6 at t=1),
    so with the same ε they drift apart where gradients are tiny.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(learning_rate)
        self.beta_1 = _check_positive("beta_1", beta_1, upper=1.0)
        self.beta_2 = _check_positive("beta_2", beta_2, upper=1.0)
        self.epsilon = _check_positive("epsilon", epsilon)
        self._m = self._v = self._tmp = self._tmp2 = None

    def _build(self, params):
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        # Scratch buffers, so a step allocates nothing.
        tmp = [np.empty_like(p) for p in params]
        tmp2 = [np.empty_like(p) for p in params]
        self._m, self._v, self._tmp, self._tmp2 = m, v, tmp, tmp2  # all or none, even on Ctrl-C

    def _update(self, params, grads):
        self._ensure_state(params, self._m, "moments")
        t = self.iterations + 1
        alpha = self.learning_rate * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        groups = list(zip(params, grads, self._m, self._v, self._tmp, self._tmp2))
        with _helper_takes_half(self._adam, groups, alpha) as mine:  # speed: two cores
            self._adam(mine, alpha)
        if t % FLUSH_EVERY == 0:
            _flush_subnormals(self._m + self._v)

    def _adam(self, groups, alpha):
        for p, g, m, v, tmp, tmp2 in _blocks(groups):  # blocks: cache-sized, for speed
            np.subtract(g, m, out=tmp)
            tmp *= 1.0 - self.beta_1
            m += tmp                          # m ← m + (g − m)(1 − β1)
            np.square(g, out=tmp)
            tmp -= v
            tmp *= 1.0 - self.beta_2
            v += tmp                          # v ← v + (g² − v)(1 − β2)
            np.sqrt(v, out=tmp)
            tmp += self.epsilon
            np.multiply(m, alpha, out=tmp2)
            tmp2 /= tmp
            p -= tmp2                         # θ ← θ − α_t m / (sqrt(v) + ε)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _state_arrays(self):
        # The live m and v arrays (not copies), for StepGuard's snapshot.
        return [] if self._m is None else self._m + self._v

    def get_state(self):
        if self._m is None:
            return []
        return [a.copy() for a in self._m] + [a.copy() for a in self._v]

    def set_state(self, arrays):
        if not arrays:
            self._m = self._v = None
            return
        k = len(arrays) // 2
        if len(arrays) % 2:
            raise ValueError(f"Adam state must hold m and v arrays in pairs, received {len(arrays)}.")
        if any((v < 0).any() for v in arrays[k:]):
            raise ValueError("Adam's second moments v are means of squares, but some are negative.")
        self._build(arrays[:k])
        for dst, src in zip(self._m + self._v, arrays):
            dst[...] = src


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) in Keras's exact form. For every parameter θ with gradient g::

        v ← ρ·v + (1 − ρ)·g²                  (v starts at 0; no bias correction)
        Δ = lr · g / sqrt(v + ε)              (ε inside the sqrt; PyTorch: sqrt(v) + ε)
        θ ← θ − Δ                             (momentum = 0)
        m ← momentum·m + Δ;  θ ← θ − m        (momentum > 0)

    centered=True keeps the mean gradient a ← ρ·a + (1 − ρ)·g too, and uses v − a²
    (an estimate of the variance) in place of v. The first step moves each coordinate
    by lr·g / sqrt(0.1·g² + ε) ≈ 3.16·lr·sign(g) when |g| ≫ 1e-3.
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False):
        super().__init__(learning_rate)
        self.rho = _check_positive("rho", rho, upper=1.0)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not math.isfinite(momentum) or not 0.0 <= momentum < 1.0:
            raise ValueError(
                f"Invalid momentum: received momentum={momentum!r}, expected a number in [0, 1)."
            )
        self.momentum = float(momentum)
        self.epsilon = _check_positive("epsilon", epsilon)
        if not isinstance(centered, bool):
            raise TypeError(f"centered must be True or False, received centered={centered!r}.")
        self.centered = centered
        self._v = self._m = self._a = self._tmp = self._tmp2 = None

    def _slots(self):
        # Keras's order of slot variables: velocity, then momentum, then average_gradient.
        return [s for s in (self._v, self._m, self._a) if s is not None]

    def _build(self, params):
        v = [np.zeros_like(p) for p in params]
        m = [np.zeros_like(p) for p in params] if self.momentum > 0 else None
        a = [np.zeros_like(p) for p in params] if self.centered else None
        tmp = [np.empty_like(p) for p in params]
        tmp2 = [np.empty_like(p) for p in params]
        self._v, self._m, self._a, self._tmp, self._tmp2 = v, m, a, tmp, tmp2  # all or none, even on Ctrl-C

    def _update(self, params, grads):
        self._ensure_state(params, self._v, "velocities")
        rho, lr = self.rho, self.learning_rate
        for i, (p, g) in enumerate(zip(params, grads)):
            v, tmp, step = self._v[i], self._tmp[i], self._tmp2[i]
            np.square(g, out=tmp)
            tmp *= 1.0 - rho
            v *= rho
            v += tmp                          # v ← ρ·v + (1 − ρ)·g²
            if self.centered:
                a = self._a[i]
                a *= rho
                a += (1.0 - rho) * g          # a ← ρ·a + (1 − ρ)·g
                np.square(a, out=tmp)
                np.subtract(v, tmp, out=tmp)
                tmp += self.epsilon           # v − a² + ε
            else:
                np.add(v, self.epsilon, out=tmp)
            np.sqrt(tmp, out=tmp)
            np.multiply(g, lr, out=step)
            step /= tmp                       # Δ = lr·g / sqrt(v + ε), in Keras's order
            if self.momentum > 0:
                m = self._m[i]
                m *= self.momentum
                m += step                     # m ← momentum·m + Δ
                p -= m
            else:
                p -= step

    def get_config(self):
        return {"learning_rate": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}

    def _state_arrays(self):
        # The live slot arrays (not copies), for StepGuard's snapshot.
        return [a for slot in self._slots() for a in slot]

    def get_state(self):
        return [a.copy() for a in self._state_arrays()]

    def set_state(self, arrays):
        if not arrays:
            self._v = self._m = self._a = self._tmp = self._tmp2 = None
            return
        k = 1 + (self.momentum > 0) + self.centered
        if len(arrays) % k:
            raise ValueError(
                f"RMSprop state holds {k} array(s) per parameter (velocity"
                f"{', momentum' if self.momentum > 0 else ''}"
                f"{', average gradient' if self.centered else ''}), received {len(arrays)}."
            )
        n = len(arrays) // k
        self._build(arrays[:n])
        for dst, src in zip(self._state_arrays(), arrays):
            dst[...] = src


# 65,536 float32 numbers are 256 KiB, so the six arrays of one block take 1.5 MiB:
# a core's L2 (512 KiB to 2 MiB on current x86) holds most of them and the L3 all.
# Adam makes a dozen passes over its arrays; over a big model's flat buffer each
# pass would stream from memory, over a block all but the first hit a cache. Each
# element is computed exactly as without blocks.
BLOCK = 1 << 16


def _blocks(groups):
    """Yield each group of equally shaped arrays whole, or in flat blocks of BLOCK elements."""
    for arrays in groups:
        n = arrays[0].size
        if n <= BLOCK or any(a.ndim != 1 for a in arrays):
            yield arrays
            continue
        for lo in range(0, n, BLOCK):
            yield tuple(a[lo:lo + BLOCK] for a in arrays)


# The first moment m of a weight whose gradient stays 0 (a dead ReLU unit's) shrinks
# by β1 per step until, after some 800 steps, it is subnormal (below float32's smallest
# normal number, 1.2e-38), and there it stays, because 0.1·m rounds to 0. Many x86
# CPUs compute with subnormals in slow microcode, and NumPy cannot switch that off.
# So every FLUSH_EVERY steps such entries of m and v are set to 0 (as TensorFlow's CPU
# threads do for every operation). With the default settings that changes no weight:
# the step a subnormal m still causes, at most α·1.2e-38/ε ≈ 1e-34, is lost in the
# rounding when it is subtracted from any weight larger than 2e-27 (every weight but
# an exact 0, in practice), and a subnormal v vanishes next to ε = 1e-7 in sqrt(v) + ε.
FLUSH_EVERY = 100


def _flush_subnormals(arrays):
    for a in arrays:
        a[np.abs(a) < np.finfo(a.dtype).tiny] = 0


# -- Two cores for a big update ------------------------------------------------------------
# NumPy releases the GIL inside each ufunc loop over a large array, so a second Python
# thread doing Adam's arithmetic on the other half of the parameters runs truly at the
# same time. Each element is computed exactly as on one thread; only who computes it
# changes. Handing work over and waiting for it costs some tens of microseconds, so
# updates under PARALLEL_MIN numbers (the tutorial's 1003) stay on the calling thread.
PARALLEL_MIN = 1 << 17


def _cores():
    global _n_cores
    if _n_cores is None:  # asked once: a system call per step would cost more than it tells
        try:
            _n_cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            _n_cores = os.cpu_count() or 1
    return _n_cores


_n_cores = None


class _HelperThread:
    """One daemon thread that runs the jobs it is handed, one at a time."""

    def __init__(self):
        self._jobs, self._results = queue.SimpleQueue(), queue.SimpleQueue()
        threading.Thread(target=self._serve, name="minnn-optimizer", daemon=True).start()

    def _serve(self):
        while True:
            fn, arg, errstate = self._jobs.get()
            try:
                with np.errstate(**errstate):  # the caller's (fit ignores overflow), per thread
                    fn(arg)
                self._results.put(None)
            except BaseException as e:  # handed back to the caller, who raises it
                self._results.put(e)

    def start(self, fn, arg):
        self._jobs.put((fn, arg, np.geterr()))

    def wait(self):
        # Return only once the job is over, even if Ctrl-C arrives meanwhile: the
        # caller may then restore the arrays, and the helper must not write into them after.
        interrupted = False
        while True:
            try:
                error = self._results.get()
                break
            except KeyboardInterrupt:
                interrupted = True
        if error is not None:
            raise error
        if interrupted:
            raise KeyboardInterrupt


_helper = None


def _forget_helper():  # a forked child has no helper thread, only the parent's object
    global _helper
    _helper = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


class _helper_takes_half:
    """``with _helper_takes_half(fn, groups, *args) as mine: fn(mine, *args)``: the caller
    computes fn on ``mine``, which is all of ``groups``, or, when the update is big and two
    cores are there, the first half of every array while the helper thread computes
    fn(second half, *args). Leaving the block waits for the helper's half.

    A class, not a generator: it is entered on every step, and this costs a fraction of
    the microseconds contextlib's machinery would.
    """

    def __init__(self, fn, groups, *args):
        self.fn, self.groups, self.args, self.split = fn, groups, args, False

    def __enter__(self):
        global _helper
        groups = self.groups
        if sum(g[0].size for g in groups) < PARALLEL_MIN or _cores() < 2 \
                or any(a.ndim != 1 for g in groups for a in g):
            return groups
        first = [tuple(a[:a.size // 2] for a in g) for g in groups]
        second = [tuple(a[a.size // 2:] for a in g) for g in groups]
        if _helper is None:
            _helper = _HelperThread()
        fn, args = self.fn, self.args
        self.split = True  # __exit__ waits. Start and return share a line: no Ctrl-C between
        _helper.start(lambda part: fn(part, *args), second); return first  # noqa: E702

    def __exit__(self, exc_type, exc, tb):
        if self.split:
            _helper.wait()
        return False


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier):
    """Turn 'sgd' / 'adam' / 'rmsprop' (any case) or an Optimizer into an Optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Unknown optimizer: received optimizer={identifier!r}, expected one of "
        f"{sorted(_BY_NAME)} or a minnn.optimizers.Optimizer instance."
    )


def serialize(opt):
    return {"class_name": type(opt).__name__, "config": opt.get_config(),
            "iterations": opt.iterations}


def deserialize(cfg):
    cls = {"SGD": SGD, "Adam": Adam, "RMSprop": RMSprop}[cfg["class_name"]]
    opt = cls(**cfg["config"])
    opt.iterations = int(cfg.get("iterations", 0))
    return opt


# A Keras name minnn leaves out gets an error that says so (see minnn/unsupported.py).
from .unsupported import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__)
