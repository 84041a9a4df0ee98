"""Saving when something interrupts it, and onto odd targets: Ctrl-C at every line of a
save, kill -9 mid-save, symlinks, read-only files, FIFOs and devices, long names. The
target always holds its earlier content or the complete new one, and nothing else is
left in the folder. Each test notes what save did before issue 15."""
import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minnn
from minnn import Dense, Input, Model, saving

from interrupts import executed_lines, interrupt_at, open_descriptors, short

X = np.random.default_rng(4).normal(size=(8, 2)).astype("float32")
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX files and signals")


def small():
    minnn.utils.set_random_seed(0)
    x = Input((2,))
    m = Model(x, Dense(2, name="out")(Dense(3, activation="relu", name="hid")(x)), name="small")
    m.compile("adam", "mse")
    return m


def weights_in(path, kind):
    if kind == "save":
        loaded = minnn.models.load_model(path)
        return loaded.get_weights() + loaded.optimizer.get_state()
    m = small()
    m.load_weights(path)
    return m.get_weights()


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for u, v in zip(a, b))


# -- Ctrl-C at every line -------------------------------------------------------------------
@posix_only
@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_ctrl_c_at_every_line_of_a_save_keeps_the_old_or_the_new_file(tmp_path, kind):
    # Before: a Ctrl-C between mkstemp and the try block left a 0-byte temporary file and
    # an open descriptor (80 of 400 real-signal runs).
    m = small()
    path = tmp_path / ("m.minnn" if kind == "save" else "m.weights.npz")
    getattr(m, kind)(path)
    old_bytes = path.read_bytes()
    old = weights_in(path, kind)
    m.fit(X, X, epochs=1, batch_size=4, verbose=0)  # something new to save
    new = m.get_weights() + (m.optimizer.get_state() if kind == "save" else [])
    save = lambda: getattr(m, kind)(path)  # noqa: E731

    lines = executed_lines(save)
    assert len(lines) > 30, lines  # the trace sees minnn's save, atomic write included
    assert any("atomic_write" in open(f).read().splitlines()[n - 1] or "os.replace" in
               open(f).read().splitlines()[n - 1] for f, n in lines)  # the write itself is traced
    fired, outcomes = 0, set()
    for where in lines:
        path.write_bytes(old_bytes)
        fds = open_descriptors()
        if not interrupt_at(save, where):
            continue
        fired += 1
        assert sorted(os.listdir(tmp_path)) == [path.name], (short(where), os.listdir(tmp_path))
        assert open_descriptors() == fds, f"descriptor leaked after Ctrl-C at {short(where)}"
        got = weights_in(path, kind)
        if same(got, old):
            outcomes.add("old")
        else:
            assert same(got, new), f"neither the old nor the new file after Ctrl-C at {short(where)}"
            outcomes.add("new")
    assert fired == len(lines)
    assert outcomes == {"old", "new"}  # some lines run after the rename


@posix_only
def test_the_harness_catches_a_save_that_leaks_its_temporary_file(tmp_path, monkeypatch):
    # Negative control: the same injection finds the leak of a writer that cleans up
    # only on Exception (a Ctrl-C is a BaseException).
    def leaky(path, write, what="save"):
        tmp = str(path) + ".tmp"
        try:
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except Exception:
            os.unlink(tmp)
            raise

    monkeypatch.setattr(saving, "atomic_write", leaky)
    m = small()
    path = tmp_path / "m.minnn"
    leaked = []
    for where in executed_lines(lambda: m.save(path)):
        if interrupt_at(lambda: m.save(path), where) and len(os.listdir(tmp_path)) > 1:
            leaked.append(where)
        for p in tmp_path.iterdir():
            if p.name != "m.minnn":
                p.unlink()
    assert leaked


# -- kill -9 mid-save ------------------------------------------------------------------------
KILLED_SAVE = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from minnn import saving
    def write(f):
        f.write(b"x" * 100000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
    saving.atomic_write({path!r}, write)
""")


@posix_only
def test_temporary_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    # Before: each kill -9 during a save left a hidden full-size temporary file for good.
    m = small()
    path = tmp_path / "m.minnn"
    m.save(path)
    good = path.read_bytes()
    root = os.path.dirname(os.path.dirname(os.path.abspath(minnn.__file__)))
    for _ in range(3):
        p = subprocess.Popen([sys.executable, "-c", KILLED_SAVE.format(root=root, path=str(path))],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "writing"
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        # Each save removed the file of the one killed before it: they never pile up.
        leftovers = [n for n in os.listdir(tmp_path) if n != "m.minnn"]
        assert leftovers == [f".m.minnn.{p.pid}-{leftovers[0][-12:-4]}.tmp"], leftovers
        assert path.read_bytes() == good  # the earlier file survives every kill
    # A save to another file leaves it alone; the next save to this one removes it.
    m.save(tmp_path / "other.minnn")
    assert len(os.listdir(tmp_path)) == 3
    m.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.minnn", "other.minnn"]


@posix_only
def test_temporary_files_of_a_running_save_are_kept(tmp_path):
    # Another process (here: this one's parent, alive) may be saving to the same path.
    path = tmp_path / "m.minnn"
    alive = tmp_path / f".m.minnn.{os.getppid()}-0123abcd.tmp"
    mine = tmp_path / f".m.minnn.{os.getpid()}-0123abcd.tmp"
    unrelated = tmp_path / ".m.minnn.backup"
    for p in (alive, mine, unrelated):
        p.write_bytes(b"partial")
    small().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.minnn", alive.name, mine.name, unrelated.name])


# -- odd targets ---------------------------------------------------------------------------------
@posix_only
def test_a_symlink_is_followed_and_its_target_replaced_atomically(tmp_path):
    # Before: the link itself was replaced by a regular file; the file it pointed to
    # kept the old content.
    real_dir = tmp_path / "store"
    real_dir.mkdir()
    real = real_dir / "model.minnn"
    m = small()
    m.save(real)
    link = tmp_path / "latest.minnn"
    link.symlink_to(real)
    m.fit(X, X, epochs=1, batch_size=4, verbose=0)
    m.save(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert same(weights_in(real, "save"), m.get_weights() + m.optimizer.get_state())
    assert sorted(os.listdir(real_dir)) == ["model.minnn"]
    assert sorted(os.listdir(tmp_path)) == ["latest.minnn", "store"]


@posix_only
def test_a_read_only_file_is_refused_and_kept(tmp_path):
    # Before: a read-only file was silently replaced (the rename needs only the folder's
    # permission).
    m = small()
    path = tmp_path / "m.minnn"
    m.save(path)
    good = path.read_bytes()
    path.chmod(0o444)
    m.fit(X, X, epochs=1, batch_size=4, verbose=0)
    for save in (m.save, m.save_weights):
        with pytest.raises(PermissionError, match="read-only"):
            save(path)
    assert path.read_bytes() == good and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert os.listdir(tmp_path) == ["m.minnn"]


@posix_only
def test_the_mode_of_a_replaced_file_is_kept(tmp_path):
    m = small()
    path = tmp_path / "m.minnn"
    m.save(path)
    path.chmod(0o640)
    m.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@posix_only
def test_fifos_and_devices_are_refused(tmp_path):
    # Before: save replaced a FIFO or a device node with a regular file.
    m = small()
    fifo = tmp_path / "pipe.minnn"
    os.mkfifo(fifo)
    targets = [fifo]
    dev = tmp_path / "null.minnn"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
        targets.append(dev)
    except (PermissionError, OSError):
        pass
    for target in targets:
        for save in (m.save, m.save_weights):
            with pytest.raises(ValueError, match="not a regular file") as info:
                save(target)
            assert isinstance(info.value, OSError)
        mode = target.lstat().st_mode
        assert stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)
    link = tmp_path / "to-pipe.minnn"
    link.symlink_to(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        m.save(link)
    assert sorted(os.listdir(tmp_path)) == sorted(t.name for t in targets + [link])


@pytest.mark.parametrize("length", [200, 251, 255])
def test_long_file_names_save_and_load(tmp_path, length):
    # Before: names of 242 bytes and more failed: the temporary name added 14 bytes.
    m = small()
    name = ("é" * length)[: (length - 6) // 2] + "x" * ((length - 6) % 2) + ".minnn"
    assert len(os.fsencode(name)) == length
    path = tmp_path / name
    m.save(path)
    m.save(path)  # over an existing file, too
    assert os.listdir(tmp_path) == [name]
    assert same(weights_in(path, "save"), m.get_weights() + m.optimizer.get_state())


@posix_only
def test_ctrl_c_at_every_line_of_load_model_leaves_nothing_behind(tmp_path):
    # A Ctrl-C while load_model builds must not leave its allocation limit in force, nor
    # minnn's generator advanced by the thrown-away initial weights, nor a file open.
    from minnn import budget
    m = small()
    m.fit(X, X, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "m.minnn"
    m.save(path)
    load = lambda: minnn.models.load_model(path)  # noqa: E731
    fired = 0
    for where in executed_lines(load):
        minnn.utils.set_random_seed(5)
        rng = minnn.utils.get_rng().bit_generator.state
        fds = open_descriptors()
        if not interrupt_at(load, where):
            continue
        fired += 1
        assert budget._remaining.get() is None, f"limit left in force after Ctrl-C at {short(where)}"
        assert minnn.utils.get_rng().bit_generator.state == rng, f"generator moved: {short(where)}"
        assert open_descriptors() == fds, f"descriptor leaked after Ctrl-C at {short(where)}"
    assert fired > 50
    Dense(1000)(Input((1000,)))  # building goes on unlimited
