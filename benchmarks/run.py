"""minnn's benchmark suite: minnn against its floor and its peers, side by side.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks      # or: python benchmarks/run.py
    python -m benchmarks --rounds 3 --cases tutorial,mnist                   # a subset
    pip install -e ".[bench]"                                                # threadpoolctl (+ torch, sklearn if wanted)

Every case times each system once per round, the systems interleaved in the
same process, and reports medians over the rounds, so a noisy neighbour slows
every system alike. It prints a table of medians and ratios against the
issue's targets, and writes the same as JSON (default benchmarks/results/latest.json).

Cases:
  tutorial  the tutorial fit: 200 epochs, batch 128, 2000x2 two-Gaussians data,
            the nested encoder/decoder autoencoder, Adam, MSE, verbose=0;
            vs the hand-fused NumPy loop (benchmarks/fused.py) and a PyTorch loop.
  mnist     one epoch of the 784-128-64-32-64-128-784 autoencoder (222,384 params)
            on 5000 images, batch 128; vs the epoch's own 17 matrix products per
            batch alone (6 forward, 6 for the kernels' gradients, 5 for dx) at the
            model's shapes, the fused loop and PyTorch, all timed in this run.
  classifier  one epoch of Keras's hello-world digit classifier (Flatten, Dense 128 relu,
            Dropout 0.2, Dense 10 softmax; Adam, sparse_categorical_crossentropy, batch 32)
            on 5000 28x28 images, written with `import minnn as keras`; vs a plain PyTorch
            loop (the same layers, CrossEntropyLoss on logits).
  pca       minnn.PCA(32) on 5000x784 vs a bare eigh of the covariance (and
            scikit-learn's default PCA if installed).
  predict   predict on 60,000x784 float32 rows: time, and peak memory (tracemalloc).
  fitmem    peak memory during fit on 20,000x784 rows: one shuffled copy per epoch.

The BLAS note: some machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), which
selects an old, ~5x slower matmul kernel. Unset both for this command only (as
above); the table header shows the kernel threadpoolctl reports.
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # `python benchmarks/run.py` from anywhere
    sys.path.insert(0, str(HERE.parent))

import minnn  # noqa: E402
from minnn import Dense, Input, Model  # noqa: E402
from minnn.datasets import two_gaussians  # noqa: E402

from benchmarks import torch_loop  # noqa: E402
from benchmarks.fused import FusedMLP  # noqa: E402

ALL_CASES = ("tutorial", "mnist", "classifier", "pca", "predict", "fitmem")


# --------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------
def machine_info():
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                                  "num_threads")}
                        for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = "unknown (pip install threadpoolctl to see the BLAS kernel)"
    if torch_loop.available():
        import torch
        info["torch"] = torch.__version__
    try:
        import sklearn
        info["sklearn"] = sklearn.__version__
    except ImportError:
        pass
    return info


def matmul_gflops(n=1000, reps=5):
    """float32 matmul throughput: 2·n³ FLOP per n×n product, median of ``reps``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm up the BLAS threads
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / statistics.median(times) / 1e9


# --------------------------------------------------------------------------------------
# Models and data
# --------------------------------------------------------------------------------------
def tutorial_model():
    """The tutorial's autoencoder, a nested encoder/decoder, compiled as the tutorial compiles it."""
    ae = two_gaussians.tutorial_autoencoder()
    ae.compile(optimizer='adam', loss='mse')
    return ae


def mnist_model():
    """784 → 128 relu → 64 relu → 32 → 64 relu → 128 relu → 784: 222,384 params."""
    inputs = Input(shape=(784,))
    x = inputs
    for units, act in ((128, 'relu'), (64, 'relu'), (32, None), (64, 'relu'),
                       (128, 'relu'), (784, None)):
        x = Dense(units, activation=act)(x)
    model = Model(inputs, x)
    model.compile(optimizer='adam', loss='mse')
    return model


def dense_chain(model):
    """The Dense layers of a chain model in call order (recursing into nested models)."""
    out = []
    for layer, *_ in model._steps:
        if isinstance(layer, Model):
            out.extend(dense_chain(layer))
        elif isinstance(layer, Dense):
            out.append(layer)
    return out


def chain_weights(model):
    layers = dense_chain(model)
    return ([tuple(l.get_weights()) for l in layers],
            [l.activation.name == "relu" for l in layers])


def mnist_images(n=5000):
    """n MNIST images as (n, 784) float32 in [0, 1]; synthetic digits-shaped noise if no loader.

    Speed does not depend on the pixel values, so the fallback keeps the shape
    and the uint8 → float32 scaling, not the content.
    """
    try:
        from minnn.datasets import mnist
        try:
            data = mnist.load_data(download=False)  # a benchmark never downloads
        except TypeError:
            data = mnist.load_data()
        if isinstance(data[0], (tuple, list)):  # ((x_train, y_train), (x_test, y_test))
            images = np.concatenate([np.asarray(part[0]) for part in data])
        else:                                   # (x, y)
            images = np.asarray(data[0])
        source = f"minnn.datasets.mnist, {min(n, len(images))} images"
    except Exception as e:  # no loader yet, or no data on this machine
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        why = "no minnn.datasets.mnist" if isinstance(e, ImportError) else f"{type(e).__name__}: {e}"
        source = f"synthetic uint8 ({why[:80]})"
    images = images.reshape(len(images), -1)[:n]
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0), source
    return images.astype(np.float32), source


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


COOL_DOWN = 0.3  # seconds between two timed runs (not timed)


def interleave(systems, rounds, log):
    """Run every system once per round, in turn; return {name: [seconds per round]}.

    The order rotates from round to round, and each run waits COOL_DOWN first: after
    a run, a library's worker threads (OpenBLAS's, PyTorch's OpenMP pool, the OpenBLAS
    that scipy bundles) keep spinning for a while, and on a 2-core machine they would
    slow whichever system runs next.
    """
    names = list(systems)
    times = {name: [] for name in systems}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(COOL_DOWN)
            times[name].append(timed(systems[name]))
        log(f"  round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    return times


def median(xs):
    return statistics.median(xs)


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
def case_tutorial(rounds, log, epochs=200):
    data, _ = two_gaussians.load_data(seed=0)
    minnn.utils.set_random_seed(0)
    start = chain_weights(tutorial_model())
    results = {}

    def run_minnn():
        minnn.utils.set_random_seed(0)
        ae = tutorial_model()
        ae.fit(data, data, epochs=epochs, batch_size=128, verbose=0)
        results["minnn"] = ae.history.history["loss"]

    def run_fused():
        f = FusedMLP(*start, batch_size=128)
        minnn.utils.set_random_seed(0)
        tutorial_model()  # draw the same initial weights, so the shuffles match minnn's
        results["fused"] = f.fit(data, data, epochs, 128, minnn.utils.get_rng())

    systems = {"minnn": run_minnn, "fused NumPy": run_fused}
    if torch_loop.available():
        def run_torch():
            results["torch"] = torch_loop.TorchMLP(*start).fit(data, None, epochs, 128)
        systems["PyTorch"] = run_torch
    times = interleave(systems, rounds, log)
    med = {k: median(v) for k, v in times.items()}
    out = {"seconds": med, "all_seconds": times, "steps": epochs * 16,
           "final_loss": {k: v[-1] for k, v in results.items()},
           "minnn_equals_fused_bit_for_bit": results["minnn"] == results["fused"],
           "ratio_to_fused": med["minnn"] / med["fused NumPy"]}
    checks = [("within 1.3x of the fused loop", out["ratio_to_fused"] <= 1.3,
               f"{out['ratio_to_fused']:.2f}x")]
    if "PyTorch" in med:
        out["speedup_vs_torch"] = med["PyTorch"] / med["minnn"]
        checks.append(("at least 5x faster than PyTorch", out["speedup_vs_torch"] >= 5,
                       f"{out['speedup_vs_torch']:.1f}x"))
    out["checks"] = checks
    return out


def case_mnist(rounds, log):
    x, source = mnist_images(5000)
    minnn.utils.set_random_seed(0)
    model = mnist_model()
    params = model.count_params()
    start = chain_weights(model)
    fused = FusedMLP(*start, batch_size=128)
    frng = np.random.default_rng(1)
    model.fit(x, x, epochs=1, batch_size=128, verbose=0)  # warm up: Adam's buffers, BLAS
    fused.fit(x, x, 1, 128, frng)
    systems = {"minnn": lambda: model.fit(x, x, epochs=1, batch_size=128, verbose=0),
               "fused NumPy": lambda: fused.fit(x, x, 1, 128, frng)}
    if torch_loop.available():
        tm = torch_loop.TorchMLP(*start)
        tm.fit(x, None, 1, 128)
        systems["PyTorch"] = lambda: tm.fit(x, None, 1, 128)
    gflops = []
    systems["matmul 1000^3"] = lambda: gflops.append(matmul_gflops())
    shapes_flop, run_matmuls = epoch_matmuls(start[0], len(x), 128)
    systems["the epoch's matmuls alone"] = run_matmuls
    times = interleave(systems, rounds, log)
    del times["matmul 1000^3"]
    med = {k: median(v) for k, v in times.items()}
    flop = 6 * params * len(x)
    peak = median(gflops)
    out = {"data": source, "params": params, "seconds": med, "all_seconds": times,
           "gflop_per_epoch": flop / 1e9, "matmul_gflops": peak,
           "minnn_gflops": flop / med["minnn"] / 1e9,
           "fraction_of_matmul": flop / med["minnn"] / 1e9 / peak,
           "matmul_gflops_at_model_shapes": shapes_flop / med["the epoch's matmuls alone"] / 1e9,
           "ratio_to_fused": med["minnn"] / med["fused NumPy"],
           "ratio_to_matmuls": med["minnn"] / med["the epoch's matmuls alone"]}
    # The floor every BLAS-based framework pays: the epoch's own 17 products per batch,
    # at the model's shapes, timed in this run. (A fraction of the 1000^3 matmul peak
    # is shown too, but no NumPy code reaches half of it at widths 32 to 784.)
    checks = [("within 1.5x of the epoch's own matmuls", out["ratio_to_matmuls"] <= 1.5,
               f"{out['ratio_to_matmuls']:.2f}x")]
    if "PyTorch" in med:
        out["speedup_vs_torch"] = med["PyTorch"] / med["minnn"]
        checks.append(("at least 1.5x faster than PyTorch", out["speedup_vs_torch"] >= 1.5,
                       f"{out['speedup_vs_torch']:.2f}x"))
    out["checks"] = checks
    return out


def mnist_digits(n=5000):
    """n MNIST images (n, 28, 28) float32 in [0, 1] and their labels, from the bundled data."""
    from minnn.datasets import mnist
    (xa, ya), (xb, yb) = mnist.load_data(download=False)  # a benchmark never downloads
    x, y = np.concatenate([xa, xb])[:n], np.concatenate([ya, yb])[:n]
    return x.astype(np.float32) / np.float32(255.0), y


def classifier_model(metrics=None):
    """Keras's hello world, as written with `import minnn as keras`."""
    keras = minnn
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.2),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=metrics)
    return model


def case_classifier(rounds, log):
    x, y = mnist_digits(5000)
    minnn.utils.set_random_seed(0)
    model = classifier_model()
    start = [tuple(layer.get_weights()) for layer in model.layers if layer.get_weights()]
    # The same model with metrics=['accuracy']: what the metric adds to an epoch.
    with_acc = classifier_model(metrics=["accuracy"])
    with_acc.set_weights(model.get_weights())
    model.fit(x, y, epochs=1, verbose=0)  # warm up: Adam's buffers, BLAS
    with_acc.fit(x, y, epochs=1, verbose=0)
    systems = {"minnn": lambda: model.fit(x, y, epochs=1, verbose=0),
               "minnn, metrics=['accuracy']": lambda: with_acc.fit(x, y, epochs=1, verbose=0)}
    if torch_loop.available():
        tm = torch_loop.TorchClassifier(start)
        tm.fit(x, y, 1, 32)
        systems["PyTorch"] = lambda: tm.fit(x, y, 1, 32)
    times = interleave(systems, rounds, log)
    med = {k: median(v) for k, v in times.items()}
    steps = -(-len(x) // 32)
    out = {"data": f"bundled MNIST, {len(x)} images of 28x28, batch 32 ({steps} steps)",
           "params": model.count_params(), "seconds": med, "all_seconds": times,
           "accuracy_metric_cost": med["minnn, metrics=['accuracy']"] / med["minnn"] - 1}
    out["checks"] = [("metrics=['accuracy'] adds at most 10% to an epoch",
                      out["accuracy_metric_cost"] <= 0.10,
                      f"{100 * out['accuracy_metric_cost']:+.1f}%")]
    if "PyTorch" in med:
        out["speedup_vs_torch"] = med["PyTorch"] / med["minnn"]
        out["checks"].append(("at least as fast as PyTorch", out["speedup_vs_torch"] >= 1,
                              f"{out['speedup_vs_torch']:.2f}x"))
    return out


def epoch_matmuls(weights, n, batch_size):
    """Only the matrix products of one epoch (forward, dW, and dx except the first
    layer's), at the model's shapes, into preallocated outputs: what BLAS alone needs.
    Returns (their FLOP, a function that runs them)."""
    rng = np.random.default_rng(0)
    Ws = [w for w, _ in weights]
    B = batch_size
    acts = [rng.random((B, Ws[0].shape[0]), dtype=np.float32)]
    acts += [np.empty((B, w.shape[1]), np.float32) for w in Ws]
    grads = [np.empty_like(a) for a in acts]
    for g in grads:
        g[...] = 0.01
    dWs = [np.empty_like(w) for w in Ws]
    steps = -(-n // B)
    flop = 0
    for i, w in enumerate(Ws):
        d, m = w.shape
        flop += 2 * B * d * m * (3 if i > 0 else 2)
    flop *= steps

    def run():
        for _ in range(steps):
            for i, w in enumerate(Ws):
                np.matmul(acts[i], w, out=acts[i + 1])
            for i in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[i].T, grads[i + 1], out=dWs[i])
                if i > 0:
                    np.matmul(grads[i + 1], Ws[i].T, out=grads[i])
    return flop, run


def bare_pca(x, k):
    """The least anyone can do: centre, covariance, eigh, take the top k."""
    xc = x - x.mean(axis=0)
    cov = (xc.T @ xc) / (len(x) - 1)
    vals, vecs = np.linalg.eigh(cov)
    return vecs[:, ::-1][:, :k].T


def case_pca(rounds, log):
    x, source = mnist_images(5000)
    systems = {"minnn.PCA(32)": lambda: minnn.PCA(32).fit(x),
               "bare eigh": lambda: bare_pca(x, 32)}
    try:
        from sklearn.decomposition import PCA as SkPCA
        systems["sklearn PCA(32)"] = lambda: SkPCA(32).fit(x)
    except ImportError:
        pass
    times = interleave(systems, rounds, log)
    med = {k: median(v) for k, v in times.items()}
    ratio = med["minnn.PCA(32)"] / med["bare eigh"]
    out = {"data": source, "seconds": med, "all_seconds": times, "ratio_to_eigh": ratio}
    checks = [("within 1.2x of a bare eigh", ratio <= 1.2, f"{ratio:.2f}x")]
    if "sklearn PCA(32)" in med:
        out["speedup_vs_sklearn"] = med["sklearn PCA(32)"] / med["minnn.PCA(32)"]
        checks.append(("faster than scikit-learn's PCA", out["speedup_vs_sklearn"] > 1,
                       f"{out['speedup_vs_sklearn']:.1f}x"))
    out["checks"] = checks
    return out


def traced_peak(fn):
    """Peak bytes allocated while fn runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def case_predict(rounds, log, n=60000):
    minnn.utils.set_random_seed(0)
    model = mnist_model()
    x = np.random.default_rng(0).random((n, 784), dtype=np.float32)
    out_bytes = n * 784 * 4
    peak = traced_peak(lambda: model.predict(x, verbose=0))
    systems = {"minnn predict (batch 32)": lambda: model.predict(x, verbose=0),
               "minnn predict (batch 1024)": lambda: model.predict(x, batch_size=1024, verbose=0)}
    if torch_loop.available():
        tm = torch_loop.TorchMLP(*chain_weights(model))
        systems["PyTorch (batch 1024)"] = lambda: tm.predict(x, 1024)
    times = interleave(systems, rounds, log)
    med = {k: median(v) for k, v in times.items()}
    total = x.nbytes + peak  # the input, plus everything predict allocates
    out = {"seconds": med, "all_seconds": times, "input_mb": x.nbytes / 2**20,
           "output_mb": out_bytes / 2**20, "peak_new_mb": peak / 2**20,
           "peak_over_output": peak / out_bytes,
           "footprint_over_input_plus_output": total / (x.nbytes + out_bytes)}
    # The target: the peak (the input, plus all predict allocates) stays under twice the
    # input plus the output, i.e. predict allocates less than one more copy of the data.
    out["checks"] = [("peak under 2x input + output", total < 2 * x.nbytes + out_bytes,
                      f"{out['footprint_over_input_plus_output']:.2f}x in+out")]
    return out


def case_fitmem(rounds, log, n=20000):
    minnn.utils.set_random_seed(0)
    model = mnist_model()
    x = np.random.default_rng(0).random((n, 784), dtype=np.float32)
    model.fit(x[:256], x[:256], epochs=1, batch_size=128, verbose=0)  # Adam's buffers exist now
    peak = traced_peak(lambda: model.fit(x, x, epochs=2, batch_size=128, verbose=0))
    out = {"data_mb": x.nbytes / 2**20, "peak_new_mb": peak / 2**20,
           "peak_over_data": peak / x.nbytes}
    out["checks"] = [("fit allocates at most one copy of the data",
                      peak < 1.1 * x.nbytes, f"{out['peak_over_data']:.2f}x data")]
    return out


CASES = {"tutorial": case_tutorial, "mnist": case_mnist, "classifier": case_classifier,
         "pca": case_pca,
         "predict": case_predict, "fitmem": case_fitmem}


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------
def format_report(info, results):
    lines = [f"minnn benchmarks — {info.get('cpu', '?')}, {info['cpus']} cpus, "
             f"python {info['python']}, numpy {info['numpy']}, torch {info.get('torch', 'not installed')}"]
    blas = info["blas"]
    if isinstance(blas, list):
        blas = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']} "
                         f"({b['num_threads']} threads)" for b in blas)
    lines.append(f"BLAS: {blas}")
    lines.append(f"command: {info['command']}   (OPENBLAS_CORETYPE "
                 f"{'= ' + info['OPENBLAS_CORETYPE'] if info['OPENBLAS_CORETYPE'] else 'unset'})")
    if info["OPENBLAS_CORETYPE"]:
        lines.append(f"WARNING: OPENBLAS_CORETYPE={info['OPENBLAS_CORETYPE']} is set; matmul may "
                     "be ~5x slow. Rerun with: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...")
    for case, res in results.items():
        lines.append("")
        lines.append(f"[{case}]")
        if "seconds" in res:
            ref = min(res["seconds"].values())
            for name, s in res["seconds"].items():
                lines.append(f"  {name:28s} {s * 1e3:10.1f} ms   {s / ref:6.2f}x the fastest")
        for key in ("steps", "data", "params", "ratio_to_matmuls", "gflop_per_epoch",
                    "matmul_gflops", "minnn_gflops", "fraction_of_matmul",
                    "matmul_gflops_at_model_shapes",
                    "final_loss", "minnn_equals_fused_bit_for_bit", "input_mb", "output_mb",
                    "peak_new_mb", "data_mb"):
            if key in res:
                v = res[key]
                if isinstance(v, float):
                    v = f"{v:.4g}"
                elif isinstance(v, dict):
                    v = ", ".join(f"{k} {x:.5f}" for k, x in v.items())
                lines.append(f"  {key}: {v}")
        for what, ok, shown in res["checks"]:
            lines.append(f"  target: {what:52s} {shown:>12s}  {'PASS' if ok else 'MISS'}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description="minnn's benchmark suite")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per case (median)")
    parser.add_argument("--cases", default=",".join(ALL_CASES),
                        help=f"comma-separated subset of {','.join(ALL_CASES)}")
    parser.add_argument("--out", default=str(HERE / "results" / "latest.json"),
                        help="where to write the JSON results")
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or args.rounds < 1:
        parser.error(f"unknown cases {unknown} (known: {list(CASES)}) or rounds < 1")

    info = machine_info()
    info["command"] = f"python -m benchmarks {' '.join(sys.argv[1:] if argv is None else argv)}".strip()
    results = {}
    for case in cases:
        print(f"{case} ...", flush=True)
        results[case] = CASES[case](args.rounds, lambda s: print(s, flush=True))
    report = format_report(info, results)
    print()
    print(report)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        json.dump({"command": info["command"], "machine": info, "rounds": args.rounds,
                   "results": results, "table": report},
                  f, indent=2, default=str)
    print(f"\nwritten to {out}")
    return results


if __name__ == "__main__":
    main()
