"""Keras-style progress output for fit, evaluate and predict.

verbose=1: a bar per epoch, ``16/16 ━━━━━━━━━━━━━━━━━━━━ 0s 1ms/step - loss: 0.2058``,
redrawn in place on a terminal and printed once per epoch in a log file.
verbose=2: one plain line per epoch, ``16/16 - 0s - 755us/step - loss: 0.2058``.
verbose=0: nothing.
"""
import sys
import time


def format_value(v):
    """As Keras: 4 decimals, or scientific notation for |v| <= 1e-3."""
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def format_time_per_step(seconds):
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def resolve_verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"Invalid verbose: received verbose={verbose!r}, expected 'auto', 0, 1 or 2.")
    return verbose


class Progbar:
    """Progress of one epoch of ``target`` steps."""

    def __init__(self, target, verbose=1, stream=None):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self._last_draw = 0.0

    def _line(self, step, values, bar):
        elapsed = time.perf_counter() - self.start
        per_step = format_time_per_step(elapsed / max(step, 1))
        metrics = "".join(f" - {k}: {format_value(v)}" for k, v in values.items())
        width = len(str(self.target))
        if bar:
            filled = int(20 * step / self.target)
            return (f"{step:>{width}}/{self.target} " + "━" * filled + " " * (20 - filled)
                    + f" {round(elapsed)}s {per_step}{metrics}")
        return f"{step}/{self.target} - {round(elapsed)}s - {per_step}{metrics}"

    def update(self, step, values):
        """Redraw after ``step`` steps; values maps a name to its running mean."""
        if self.verbose != 1 or not self.dynamic:
            return
        now = time.perf_counter()
        if step < self.target and now - self._last_draw < 0.05:
            return  # drawing costs more than a training step: redraw at most 20×/s
        self._last_draw = now
        self.stream.write("\r" + self._line(step, values, bar=True))
        self.stream.flush()

    def finish(self, values):
        if self.verbose == 0:
            return
        if self.verbose == 1:
            prefix = "\r" if self.dynamic else ""
            self.stream.write(prefix + self._line(self.target, values, bar=True) + "\n")
        else:
            self.stream.write(self._line(self.target, values, bar=False) + "\n")
        self.stream.flush()
