"""Running a lesson as a script or as a notebook: its settings and where its figures go.

The lessons in ``lessons/`` are ``# %%`` percent scripts. The same file runs

- as a script, from any folder: ``python lessons/04_backprop_by_hand.py [--quick] [--out DIR]``;
- cell by cell in a notebook kernel (Jupyter with jupytext, VS Code, PyCharm, Spyder), where
  ``sys.argv`` is the kernel's (``ipykernel_launcher.py -f kernel-….json``) and ``__file__``
  does not exist.

Every lesson starts with ``run = minnn.lesson.setup("04", "title")``, which decides:

- **script or notebook**: it is a script when ``sys.argv[0]`` is the lesson's own file
  (its name starts with "04_"). Only then are the command-line arguments parsed; anywhere
  else (a kernel, an IDE console, another lesson running this one) they are not the lesson's,
  so they are ignored and the defaults hold.
- **quick mode** (a short run for the tests): ``--quick`` on the command line, or the
  environment variable ``MINNN_LESSON_QUICK=1`` (the way to ask for it in a kernel).
- **the figure folder**: ``--out DIR``; else ``$MINNN_LESSON_OUT/04`` if that variable is set;
  else ``lessons/figures/04`` next to the lesson (found through minnn's own location when
  there is no ``__file__``); else ``./figures/04`` in the working folder.
- **matplotlib**: a script draws with the file-only Agg backend (no window, no display
  needed) unless ``MPLBACKEND`` says otherwise; a kernel (or a script run inside an IPython
  shell, as Spyder runs files) keeps its own backend, and ``run.save(fig, name)`` shows
  each figure inline as well as saving it.

This lives in the package, not beside the lessons, because a kernel started in another
folder has no ``__file__`` to find a helper file with; minnn is the one thing a lesson can
always import.
"""
import argparse
import os
import pathlib
import runpy
import sys

QUICK_ENV = "MINNN_LESSON_QUICK"
OUT_ENV = "MINNN_LESSON_OUT"

_override = None  # settings for the next setup() call, from run_lesson()


class Lesson:
    """A lesson's settings: ``quick``, ``out`` (a folder), ``seed``, ``notebook``, and any
    extra option (``run.epochs``); ``save(fig, name)`` writes a figure and shows it."""

    def __init__(self, number, quick, out, seed, notebook, extra):
        self.number, self.quick, self.out, self.seed, self.notebook = number, quick, out, seed, notebook
        self.figures = []
        for name, value in extra.items():
            setattr(self, name, value)

    def save(self, fig, name, dpi=100):
        """Save ``fig`` as ``out/name``; in a notebook also show it inline. Returns the path."""
        import matplotlib.pyplot as plt

        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / name
        fig.savefig(path, dpi=dpi)
        self.figures.append(path)
        if self.notebook:
            try:
                from IPython.display import display
            except ImportError:  # a plain Python console: the file is all there is
                pass
            else:
                display(fig)
        plt.close(fig)  # shown once (above), and no pile-up of open figures
        return path

    def __repr__(self):
        mode = "notebook" if self.notebook else "script"
        return f"<Lesson {self.number}: {mode}, quick={self.quick}, out='{self.out}'>"


def lessons_dir():
    """The ``lessons/`` folder of this checkout of minnn, or None (an installed wheel has none)."""
    here = pathlib.Path(__file__).resolve().parent.parent / "lessons"
    return here if here.is_dir() else None


def _is_this_script(number):
    return bool(sys.argv) and pathlib.Path(sys.argv[0]).name.startswith(f"{number}_") \
        and sys.argv[0].endswith(".py")


def setup(number, title, extra=(), argv=None):
    """Read the lesson's settings (see the module docstring) and return a ``Lesson``.

    number: "04"; title: one line for ``--help``; extra: (flag, argparse keywords) pairs
    for options of this lesson only, such as ("--epochs", {"type": int, "default": None}).
    argv: the command-line arguments to parse as a script (default ``sys.argv[1:]``).
    """
    global _override
    override, _override = _override, None
    script = override is None and (argv is not None or _is_this_script(number))
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run, for the tests (or set {QUICK_ENV}=1)")
    parser.add_argument("--out", default=None, help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0, help="seed for the data and for minnn")
    for flag, kwargs in extra:
        parser.add_argument(flag, **kwargs)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] if script else [])
    if override:
        for key, value in override.items():
            setattr(args, key, value)

    quick = bool(args.quick) or os.environ.get(QUICK_ENV, "") not in ("", "0")
    if args.out is not None:
        out = pathlib.Path(args.out)
    elif os.environ.get(OUT_ENV):
        out = pathlib.Path(os.environ[OUT_ENV]) / number
    elif script:
        out = pathlib.Path(sys.argv[0]).resolve().parent / "figures" / number
    else:
        out = (lessons_dir() or pathlib.Path.cwd()) / "figures" / number
    out.mkdir(parents=True, exist_ok=True)

    # Spyder's "run file" sets sys.argv to the file inside an IPython kernel: a script by its
    # arguments, a notebook by its figures.
    in_kernel = (not script and override is None) or (override is None and _in_ipython())
    if script and not in_kernel and "MPLBACKEND" not in os.environ:
        import matplotlib
        matplotlib.use("Agg")  # figures go to files; no screen needed
    extras = {k: v for k, v in vars(args).items() if k not in ("quick", "out", "seed")}
    return Lesson(number, quick, out, args.seed, in_kernel, extras)


def _in_ipython():
    """True inside a running IPython shell or kernel (Jupyter, VS Code, Spyder, PyCharm)."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    return get_ipython is not None and get_ipython() is not None


def _lesson_folders():
    """Where another lesson may be: this checkout's ``lessons/``; the folder of the lesson
    running as a script (a clone's lessons, with minnn installed from elsewhere, as
    ``pip install .`` does); the working folder and its ``lessons/`` (a kernel started there)."""
    folders = [lessons_dir()]
    if sys.argv and sys.argv[0].endswith(".py"):
        folders.append(pathlib.Path(sys.argv[0]).resolve().parent)
    folders += [pathlib.Path.cwd(), pathlib.Path.cwd() / "lessons"]
    return [f for f in folders if f is not None]


def run_lesson(filename, **settings):
    """Run another lesson (a file in ``lessons/``) with the given settings, such as
    quick=True, out=DIR; return its namespace (its models and arrays)."""
    global _override
    folders = _lesson_folders()
    folder = next((f for f in folders if (f / filename).is_file()), None)
    if folder is None:
        raise FileNotFoundError(f"Lesson {filename!r} not found; looked in "
                                f"{', '.join(str(f) for f in folders)}.")
    _override = {"quick": False, "out": None, "seed": 0, **settings}
    try:
        return runpy.run_path(str(folder / filename), run_name="__lesson__")
    finally:
        _override = None
