"""Running a test under a memory cap and a watchdog, so that a loader that regresses into
allocating what a crafted file asks for, or into waiting forever, fails instead of
swapping or hanging the suite.

The cap is RLIMIT_AS (address space), set for this process just above what it uses now
and put back afterwards: an allocation past it raises MemoryError at once. The watchdog
raises ``Hung`` (a BaseException, so that no loader's ``except Exception`` turns it into
a tidy error) when the block runs longer than ``seconds``.
"""
import contextlib
import os
import signal
import sys

import pytest

try:
    import resource
except ImportError:  # not POSIX
    resource = None

CAP_AVAILABLE = resource is not None and sys.platform.startswith("linux")
needs_cap = pytest.mark.skipif(not CAP_AVAILABLE, reason="needs Linux's RLIMIT_AS")


class Hung(BaseException):
    """The watched block ran past its time."""


def address_space_in_use():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def bounded(extra_bytes=256 << 20, seconds=20):
    """At most ``extra_bytes`` more address space, and at most ``seconds``, for the block."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = address_space_in_use() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)

    def on_alarm(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
