"""The exercises' one command: implement minnn's core pieces, break them, and be graded.

    python lessons/exercises/grade.py list          every exercise and planted bug, with your status
    python lessons/exercises/grade.py start 4.2     copy the stub into lessons/exercises/mine/
    python lessons/exercises/grade.py check 4.2     grade your file (exit 0 pass, 1 fail, 2 not started)
    python lessons/exercises/grade.py solve 4.2     write minnn's own solution into your file
    python lessons/exercises/grade.py break bias-mean   plant one bug in a scratch copy, run its tests
    python lessons/exercises/grade.py break --all   every planted bug; exits 0 only if all are caught

The reference solution is minnn itself (``minnn/reference.py``): each stub is
made from the reference's own signature and docstring, and ``solve`` copies
the reference's source. Your files live in ``lessons/exercises/mine/``, which
git ignores (set MINNN_EXERCISES_DIR to put them elsewhere).
"""
import argparse
import importlib.util
import inspect
import json
import os
import pathlib
import sys
import textwrap
import traceback

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))   # grade this checkout's minnn, wherever the command runs
sys.path.insert(0, str(HERE))

import bugs  # noqa: E402
import checks  # noqa: E402
from minnn import reference  # noqa: E402

# id -> (reference function, title, where the lesson explains it, reference helpers it calls)
EXERCISES = {
    "4.1": ("relu_backward", "ReLU backward",
            "lessons/04_backprop_by_hand.py, the backward pass, stage by stage", []),
    "4.2": ("dense_backward", "Dense backward (dx, dW, db)",
            "lessons/04_backprop_by_hand.py, why the transpose and why the bias sums", []),
    "4.3": ("mse_backward", "the MSE loss's gradient",
            "lessons/04_backprop_by_hand.py, the loss's gradient", []),
    "4.4": ("numerical_gradient", "a central-difference numerical gradient",
            "lessons/04_backprop_by_hand.py, gradient checking", []),
    "5.1": ("adam_step", "the Adam update in Keras's form",
            "lessons/05_adam.py, Adam in three lines, bias correction and where ε goes", []),
    "6.1": ("fit_epoch", "one epoch of fit",
            "lessons/06_what_fit_does.py, steps per epoch, shuffling and the logged loss",
            ["epoch_batches"]),
}

UNSEEN_SEEDS = (101, 202, 303)  # fresh inputs, beyond the ones a learner can print and study


def mine_dir():
    return pathlib.Path(os.environ.get("MINNN_EXERCISES_DIR", HERE / "mine"))


def learner_file(ex_id):
    return mine_dir() / f"ex{ex_id.replace('.', '_')}_{EXERCISES[ex_id][0]}.py"


def _status_path():
    return mine_dir() / ".status.json"


def _load_status():
    try:
        return json.loads(_status_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_status(key, value):
    status = _load_status()
    status[key] = value
    mine_dir().mkdir(parents=True, exist_ok=True)
    _status_path().write_text(json.dumps(status, indent=1), encoding="utf-8")


def _unknown(what, given, valid):
    print(f"Unknown {what} {given!r}. Valid ones: {', '.join(valid)}.", file=sys.stderr)
    return 2


# ---------------------------------------------------------------------------
# Stubs and solutions, both made from minnn.reference
# ---------------------------------------------------------------------------
def stub_source(ex_id):
    """The exercise file: the reference's exact signature and docstring, and no body."""
    name, title, lesson, _ = EXERCISES[ex_id]
    fn = getattr(reference, name)
    doc = textwrap.indent(inspect.getdoc(fn), "    ")
    return (
        f'"""Exercise {ex_id}: {title}.\n\nThe lesson: {lesson}.\n'
        f"Grade it with:  python lessons/exercises/grade.py check {ex_id}\n\"\"\"\n"
        "import math\n\nimport numpy as np\n\n\n"
        f"def {name}{inspect.signature(fn)}:\n"
        f'    """{doc.strip()}' + ('\n    """\n' if "\n" in doc.strip() else '"""\n') +
        f'    raise NotImplementedError("Exercise {ex_id}: write {name} here")\n'
    )


def solution_source(ex_id):
    """minnn's own implementation, copied from minnn/reference.py (never a second copy)."""
    name, title, _, helpers = EXERCISES[ex_id]
    parts = [inspect.getsource(getattr(reference, h)) for h in helpers]
    parts.append(inspect.getsource(getattr(reference, name)))
    return (f'"""Exercise {ex_id}: {title}: minnn\'s own solution, from minnn/reference.py."""\n'
            "import math\n\nimport numpy as np\n\n\n" + "\n\n".join(parts))


def load_learner_function(ex_id):
    """Import the learner's file and return (function, None), or (None, message)."""
    name = EXERCISES[ex_id][0]
    path = learner_file(ex_id)
    spec = importlib.util.spec_from_file_location(f"learner_ex{ex_id.replace('.', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        line = (e.text or "").rstrip("\n")
        caret = " " * max(0, (e.offset or 1) - 1) + "^"
        return None, f"{path}, line {e.lineno}: SyntaxError: {e.msg}\n    {line}\n    {caret}"
    except Exception:
        tb = traceback.format_exc(limit=-1).strip().splitlines()
        return None, f"{path} does not import:\n    " + "\n    ".join(tb[-3:])
    fn = getattr(module, name, None)
    if not callable(fn):
        return None, f"{path} defines no function {name}(): keep the stub's name and signature."
    return fn, None


# ---------------------------------------------------------------------------
# The verbs
# ---------------------------------------------------------------------------
def cmd_list(_args):
    status = _load_status()
    print("Exercises (start with: grade.py start ID)")
    for ex_id, (name, title, lesson, _) in EXERCISES.items():
        state = status.get(ex_id) or ("started" if learner_file(ex_id).exists() else "not started")
        print(f"{ex_id}  {title:<45} {name + '()':<22} {state}")
    print("\nPlanted bugs (try one with: grade.py break NAME)")
    for b in bugs.BUGS:
        state = status.get("bug:" + b.name, "not tried")
        print(f"{b.name:<24} {state:<10} {b.what}")
    return 0


def cmd_start(args):
    if args.id not in EXERCISES:
        return _unknown("exercise", args.id, EXERCISES)
    path = learner_file(args.id)
    if path.exists():
        print(f"{path} already exists: edit it, then run: python lessons/exercises/grade.py "
              f"check {args.id}. (Delete it to start again from the stub.)")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(stub_source(args.id), encoding="utf-8")
    _save_status(args.id, "started")
    name, title, lesson, _ = EXERCISES[args.id]
    print(f"Exercise {args.id}: {title}.\nEdit {path}: write {name}().\n"
          f"The lesson that explains it: {lesson}.\n"
          f"Then run: python lessons/exercises/grade.py check {args.id}")
    return 0


def run_checks(fn, name, seeds=(0,)):
    """Every check of exercise function ``name`` on ``fn``, for each seed: a list per seed."""
    return [checks.CHECKS[name](fn, seed=s) for s in seeds]


def cmd_check(args):
    if args.id not in EXERCISES:
        return _unknown("exercise", args.id, EXERCISES)
    path = learner_file(args.id)
    if not path.exists():
        print(f"Exercise {args.id} is not started: run  python lessons/exercises/grade.py "
              f"start {args.id}  first, then edit {path}.", file=sys.stderr)
        return 2
    fn, problem = load_learner_function(args.id)
    if problem:
        print(problem)
        _save_status(args.id, "failed")
        return 1
    name = EXERCISES[args.id][0]
    print(f"Exercise {args.id}: {EXERCISES[args.id][1]}  ({path})")
    shown = checks.CHECKS[name](fn, seed=0)
    for c in shown:
        print(c.line())
    ok = all(c.passed for c in shown)
    if ok:  # the same checks again, on inputs the learner has not seen
        unseen = run_checks(fn, name, UNSEEN_SEEDS)
        bad = [c for results in unseen for c in results if not c.passed]
        print(f"  {'PASS' if not bad else 'FAIL'}  the same checks on {len(UNSEEN_SEEDS)} sets "
              "of unseen inputs" + ("" if not bad else ":"))
        for c in bad[:3]:
            print("  " + c.line())
        ok = not bad
    passed = sum(c.passed for c in shown)
    print(f"{passed} of {len(shown)} checks passed" + (": well done." if ok else "."))
    _save_status(args.id, "passed" if ok else "failed")
    return 0 if ok else 1


def cmd_solve(args):
    if args.id not in EXERCISES:
        return _unknown("exercise", args.id, EXERCISES)
    path = learner_file(args.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        backup = path.with_suffix(".py.mine")
        path.replace(backup)
        print(f"Your version is kept as {backup}.")
    path.write_text(solution_source(args.id), encoding="utf-8")
    _save_status(args.id, "solved")
    print(f"Wrote minnn's own {EXERCISES[args.id][0]}() into {path}.\n"
          f"Check it with: python lessons/exercises/grade.py check {args.id}")
    return 0


def cmd_break(args):
    if args.all:
        chosen = bugs.BUGS
    elif args.bug in bugs.BY_NAME:
        chosen = [bugs.BY_NAME[args.bug]]
    else:
        return _unknown("planted bug", args.bug, bugs.BY_NAME)
    try:
        for b in chosen:
            bugs.check_applies(b)
    except bugs.BugDoesNotApply as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Planting {len(chosen)} bug(s), each in a scratch copy of minnn (your checkout is "
          "never touched), and running the tests that should catch it...\n")
    outcomes = bugs.plant_all(chosen)
    for o in outcomes:
        print(bugs.describe(o) + "\n")
        _save_status("bug:" + o.bug.name, "caught" if o.caught else "missed")
    caught = sum(o.caught for o in outcomes)
    print(f"caught {caught} of {len(outcomes)} planted bugs")
    return 0 if caught == len(outcomes) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="grade.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)
    sub.add_parser("list", help="every exercise and planted bug, with your status")
    for verb, text in (("start", "copy an exercise's stub into your own file"),
                       ("check", "grade your file"),
                       ("solve", "write minnn's own solution into your file")):
        p = sub.add_parser(verb, help=text)
        p.add_argument("id", help=f"an exercise id: {', '.join(EXERCISES)}")
    p = sub.add_parser("break", help="plant a bug in a scratch copy and run the tests that catch it")
    p.add_argument("bug", nargs="?", help="a bug's name (see list)")
    p.add_argument("--all", action="store_true", help="every planted bug")
    args = parser.parse_args(argv)
    if args.verb == "break" and not args.all and not args.bug:
        parser.error("break needs a bug's name or --all")
    return {"list": cmd_list, "start": cmd_start, "check": cmd_check, "solve": cmd_solve,
            "break": cmd_break}[args.verb](args)


if __name__ == "__main__":
    sys.exit(main())
