"""Where the time of one training step goes: each layer's forward and backward,
the loss, zeroing the gradients, the optimiser, and what is left (minnn's own
Python: walking the graph, the fit loop).

    python -m benchmarks.profile_step                # the tutorial model and the MNIST one
    python -m benchmarks.profile_step --steps 500

It times the real code path (``model.train_step`` inside ``fit``) by wrapping
each leaf layer's forward and backward, the loss and the optimiser in a timer.

The MNIST model is profiled over its first ten epochs only, the steady state of
a step. Later, Adam's first moment m of the weights of dead ReLU units (whose
gradient is 0) shrinks by 0.9 per step into float32's subnormal range (below
1.2e-38), which many x86 CPUs compute in slow microcode (an epoch about 1.5x as
long from about epoch 15 on, measured on Intel). NumPy cannot switch that off,
so minnn's Adam sets such entries to 0 every FLUSH_EVERY = 100 steps (see
minnn/optimizers.py; the history stays the same bit for bit, tested).
"""
import argparse
import collections
import time

import minnn
from benchmarks.run import mnist_images, mnist_model, tutorial_model
from minnn.datasets import two_gaussians
from minnn.models import Model

clock = time.perf_counter


def leaf_layers(model):
    out = []
    for layer, *_ in model._steps:
        out.extend(leaf_layers(layer) if isinstance(layer, Model) else [layer])
    return out


def _timed(table, key, fn):
    def wrapper(*args, **kwargs):
        t = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            table[key] += clock() - t
    return wrapper


def profile(model, x, batch_size, steps):
    """Seconds per step for each part, and the step and fit-loop totals."""
    model.fit(x, x, epochs=1, batch_size=batch_size, verbose=0)  # warm up
    n_batches = -(-len(x) // batch_size)
    epochs = max(1, steps // n_batches)
    # Untouched: the whole fit, per step.
    t = clock()
    model.fit(x, x, epochs=epochs, batch_size=batch_size, verbose=0)
    fit_per_step = (clock() - t) / (epochs * n_batches)

    table = collections.OrderedDict()
    layers = leaf_layers(model)
    for i, layer in enumerate(layers):
        label = f"{i}: {type(layer).__name__} {layer.name}"
        if getattr(layer, "units", None):
            label += f" ({layer.kernel.shape[0]}->{layer.units}, {layer.activation.name})"
        table[("forward", label)] = 0.0
    for i, layer in reversed(list(enumerate(layers))):
        label = f"{i}: {type(layer).__name__} {layer.name}"
        if getattr(layer, "units", None):
            label += f" ({layer.kernel.shape[0]}->{layer.units}, {layer.activation.name})"
        table[("backward", label)] = 0.0
    for part in ("loss forward", "loss backward", "zero the gradients", "Adam step"):
        table[("other", part)] = 0.0
    for i, layer in enumerate(layers):
        label = [k[1] for k in table if k[1].startswith(f"{i}: ")][0]
        layer.forward = _timed(table, ("forward", label), layer.forward)
        layer.backward = _timed(table, ("backward", label), layer.backward)
    loss = model._loss_fns[0]
    loss.forward = _timed(table, ("other", "loss forward"), loss.forward)
    loss.backward = _timed(table, ("other", "loss backward"), loss.backward)
    opt = model.optimizer
    opt.apply = _timed(table, ("other", "Adam step"), opt.apply)
    # Zeroing the gradients is one call on an ndarray, which cannot be wrapped: time it alone.
    reps = 200
    t = clock()
    for _ in range(reps):
        model.zero_grad()
    t_fill = (clock() - t) / reps

    t = clock()
    model.fit(x, x, epochs=epochs, batch_size=batch_size, verbose=0)
    wrapped_per_step = (clock() - t) / (epochs * n_batches)
    for layer in layers:
        del layer.forward, layer.backward
    del loss.forward, loss.backward, opt.apply
    n_steps = epochs * n_batches
    parts = {k: v / n_steps for k, v in table.items()}
    parts[("other", "zero the gradients")] = t_fill
    return {"fit_per_step": fit_per_step, "wrapped_per_step": wrapped_per_step, "parts": parts}


def report(name, res):
    total = res["wrapped_per_step"]  # the parts below were timed in this run
    lines = [f"{name}: one training step inside fit = {total * 1e6:.0f} us with the timers "
             f"({res['fit_per_step'] * 1e6:.0f} us without)"]
    parts = res["parts"]
    groups = collections.OrderedDict()
    for (group, label), s in parts.items():
        groups.setdefault(group, []).append((label, s))
    accounted = 0.0
    for group, items in groups.items():
        sub = sum(s for _, s in items)
        accounted += sub
        lines.append(f"  {group:10s} {sub * 1e6:8.1f} us  {100 * sub / total:5.1f} %")
        for label, s in items:
            lines.append(f"      {label:44s} {s * 1e6:8.1f} us")
    # The timers cost a little themselves: charge the rest against the untimed run.
    rest = max(0.0, total - accounted)
    label = "the rest: graph walk, fit loop, shuffle, timers"
    lines.append(f"  {label:56s} {rest * 1e6:6.1f} us  {100 * rest / total:5.1f} %")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    args = parser.parse_args(argv)
    minnn.utils.set_random_seed(0)
    data, _ = two_gaussians.load_data(seed=0)
    print(report("tutorial autoencoder (1003 params, batch 128)",
                 profile(tutorial_model(), data, 128, args.steps)))
    print()
    x, source = mnist_images(5000)
    print(report(f"MNIST autoencoder (222,384 params, batch 128, {source} data)",
                 profile(mnist_model(), x, 128, min(args.steps, 160))))


if __name__ == "__main__":
    main()
