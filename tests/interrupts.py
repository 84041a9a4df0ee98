"""Ctrl-C at every line: run a call once to record each line of minnn it executes, then
run it again once per recorded line, raising KeyboardInterrupt just before that line
runs (via sys.settrace), as a Ctrl-C arriving there would. Deterministic: the same
lines, the same order, every run."""
import os
import sys

import minnn

MINNN_DIR = os.path.dirname(os.path.abspath(minnn.__file__)) + os.sep


def _in_minnn(frame):
    return frame.f_code.co_filename.startswith(MINNN_DIR)


def executed_lines(fn):
    """[(file, line)] of minnn that ``fn()`` executes, each once, in first-run order."""
    seen, order = set(), []

    def local(frame, event, arg):
        if event == "line":
            key = (frame.f_code.co_filename, frame.f_lineno)
            if key not in seen:
                seen.add(key)
                order.append(key)
        return local

    sys.settrace(lambda frame, event, arg: local if _in_minnn(frame) else None)
    try:
        fn()
    finally:
        sys.settrace(None)
    return order


def interrupt_at(fn, where):
    """Run ``fn()`` and raise KeyboardInterrupt the first time line ``where`` is about to
    run. Returns True if the interrupt fired (and ``fn`` let it out), False if ``fn``
    returned without reaching that line. Anything else ``fn`` raises propagates."""
    fired = []

    def local(frame, event, arg):
        if event == "line" and not fired and (frame.f_code.co_filename, frame.f_lineno) == where:
            fired.append(True)
            raise KeyboardInterrupt(f"injected at {where[0]}:{where[1]}")
        return local

    sys.settrace(lambda frame, event, arg: local if _in_minnn(frame) else None)
    try:
        fn()
    except KeyboardInterrupt:
        if not fired:
            raise
        return True
    finally:
        sys.settrace(None)
    if fired:
        raise AssertionError(f"the KeyboardInterrupt injected at {where} was swallowed")
    return False


def open_descriptors():
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def short(where):
    return f"{os.path.relpath(where[0], os.path.dirname(MINNN_DIR.rstrip(os.sep)))}:{where[1]}"
