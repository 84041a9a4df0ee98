"""Replacing a file atomically, whatever interrupts the write.

``atomic_write(path, write)`` never writes into ``path`` itself. It writes a
temporary file in the same folder, flushes it to disk, and renames it over
``path`` (``os.replace``, atomic on one file system). So at every moment
``path`` holds either its earlier content or the complete new one:

- an error, a full disk or Ctrl-C anywhere in a save removes the temporary file
  (a second Ctrl-C during that clean-up is held back until it is done) and leaves
  no open descriptor;
- a save killed outright (``kill -9``, a power cut) cannot clean up; its temporary
  file carries the dead process's id, and the next save to the same path, on the
  same machine, removes it;
- a symlink is followed: the file it points to is replaced, atomically, and the
  link stays a link. A read-only file, a device, a FIFO or a socket is refused
  before anything is written;
- the temporary name stays short (under 255 bytes) however long the file's name.

The tests raise KeyboardInterrupt before each line of minnn a save runs (with
``sys.settrace``). Two rules keep every such line safe, here and in saving.py
and training.py: what must be undone is undone by a finaliser or by a C-level
call registered with ``contextlib.ExitStack`` (no Python line of a clean-up can
then be skipped), and no ``try:`` line stands inside a region that must be
cleaned up, because an interrupt raised by the tracer at a ``try:`` line is not
caught by the handlers around it (observed on CPython 3.11).
"""
import errno
import hashlib
import os
import re
import secrets
import stat


class PathError(FileNotFoundError, ValueError):
    """A path that names no file to load (or no folder to save into). Both an OSError,
    as Python's own open() raises, and a ValueError, as Keras's load_model raises."""


class IsAFolderError(IsADirectoryError, ValueError):
    """A path that names a folder where a file is expected."""


class NotAFileError(OSError, ValueError):
    """A path that names a device, a FIFO or a socket where a regular file is expected."""


def check_path(path, what):
    """``path`` as a str, or a TypeError / ValueError naming what was received."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{what} expects a file path (str or pathlib.Path), received "
            f"{path!r} of type {type(path).__name__}."
        )
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError(f"{what} received an empty path ''; expected a file name such as 'model.minnn'.")
    return path


def atomic_write(path, write, what="save"):
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``.

    Whatever fails (an error, a full disk, Ctrl-C), the temporary file is removed
    and ``path`` keeps its earlier content, if any. See the module's docstring.
    """
    path = check_path(path, what)
    target = os.path.realpath(path)  # through any symlinks: the file they point to
    folder, name = os.path.split(target)
    mode = _check_target(path, target, folder, what)
    _remove_stale(folder, name)
    tmp = os.path.join(folder, _temp_prefix(name) + f"{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:  # "x": a new file, never someone else's
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)  # the replaced file's permissions carry over
        os.replace(tmp, target)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_folder(folder)


def _check_target(path, target, folder, what):
    """Refuse what must not be replaced; return the mode to give the new file (None: the
    default mode, for a new file)."""
    if not os.path.isdir(folder):
        raise PathError(f"Cannot {what} to {path!r}: the folder {folder!r} does not exist.")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        raise IsAFolderError(f"Cannot {what} to {path!r}: it is a folder; expected a file name.")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "a device")
        raise NotAFileError(
            errno.EINVAL, f"Cannot {what} to {path!r}: it is {kind}, not a regular file; minnn "
            "saves only to regular files.", path)
    # Root may write anywhere, so the mode bits decide: a file nobody may write is not
    # replaced, as `cp` would not overwrite it either.
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(
            errno.EACCES, f"Cannot {what} to {path!r}: the file is read-only. Make it writable "
            "(chmod u+w) or save under another name; it was not changed.", path)
    return st.st_mode & 0o7777


def _temp_prefix(name):
    """'.name.' for the temporary files of ``name``, shortened (with a hash, so that two
    long names do not share it) to leave room in the 255 bytes a file name may have."""
    raw = os.fsencode(name)
    if len(raw) > 200:
        raw = raw[:180] + b"~" + hashlib.sha256(raw).hexdigest()[:12].encode()
    return "." + os.fsdecode(raw) + "."


_TEMP_TAIL = re.compile(r"(\d+)-[0-9a-f]{8}\.tmp")


def _remove_stale(folder, name):
    """Remove temporary files left by saves to this same file that were killed: their
    process id (in the name) is not running any more. Only on POSIX, where that can be
    asked without side effects; a file that cannot be removed is left alone."""
    if os.name != "posix":
        return
    prefix = _temp_prefix(name)
    try:
        entries = [e.name for e in os.scandir(folder) if e.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        match = _TEMP_TAIL.fullmatch(entry[len(prefix):])
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass


def _alive(pid):
    if pid == os.getpid():
        return True  # a save in another thread of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or we cannot tell: keep its file
    return True


def _discard(tmp):
    """Remove ``tmp`` if it exists. A Ctrl-C meanwhile is held back until it is gone."""
    interrupted = False
    while True:
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass  # never created, or already renamed into place
            except OSError:
                pass  # cannot remove it: nothing more can be done here
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt


def _fsync_folder(folder):
    """Make the rename itself durable (POSIX); not possible on every platform."""
    try:
        handle = _Folder(folder)
    except OSError:
        return
    try:
        os.fsync(handle.fd)
    except OSError:
        pass
    finally:
        handle.close()


class _Folder:
    """An open folder whose descriptor is closed even if a Ctrl-C lands between the open
    and the ``close()``: the object's finaliser closes it then."""

    fd = -1  # until the open succeeds

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY)

    def close(self):
        if self.fd >= 0:
            # One statement: a Ctrl-C cannot fall between closing the descriptor and
            # marking it closed (which would close it twice, maybe someone else's).
            self.fd = os.close(self.fd) or -1

    __del__ = close
