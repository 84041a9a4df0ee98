"""Reading a minnn archive as hostile input: every size is checked before it is used.

A ``.minnn`` or ``.weights.npz`` file is a zip of ``.npy`` members, as ``np.savez``
writes it. People download and share such files, so a file may be crafted to
exhaust memory or time, or simply be damaged. ``Archive`` therefore:

1. opens only a regular file (a FIFO would block forever, ``/dev/zero`` never ends);
2. reads the zip directory, and refuses duplicate or foreign member names,
   encryption, and compression other than NumPy's own (stored by ``np.savez``,
   deflated by ``np.savez_compressed``);
3. checks every size the file states against another: a member's zip size against
   its ``.npy`` header (dtype and shape), a deflated member against deflate's
   largest possible ratio (1032:1), and all members together against the file's
   length (so members cannot overlap to multiply one stream);
4. reads a member's data only when asked, into an array of exactly the declared
   size, and then checks that the member ends there and that its CRC matches.

So nothing is inflated before the caller has compared the names and shapes with
the model, and the data read is never larger than what the file's headers
declare, which is at most 1032 times the file's size (and exactly its size for
the files minnn writes). Every failure is a ``LoadError`` naming the file.
"""
import json
import os
import stat
import zipfile
import zlib

import numpy as np

HEADER = "__minnn__"
MAX_HEADER_BYTES = 16 << 20   # the JSON header; a model of a thousand layers needs ~1 MB
MAX_NPY_HEADER = 10000        # NumPy's own limit for a .npy header's text
DEFLATE_MAX_RATIO = 1032      # deflate cannot expand its input more than this
CHUNK = 1 << 20
MAX_MEMBERS = 65535           # what a zip holds without ZIP64; a model of 30,000 layers fits


class LoadError(ValueError):
    """A file that cannot be loaded into this model: wrong kind, damaged, or not matching."""


def open_regular(path, what, error=LoadError):
    """Open ``path`` for reading if it is a regular file; otherwise raise ``error``.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a
    writer; the type is then checked on the open descriptor, so the file
    cannot be swapped between the check and the read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        f = open(path, "rb", opener=lambda p, _: os.open(p, flags))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise error(f"{what}: cannot read {path!r}: {e.strerror or e}.") from None
    mode = os.fstat(f.fileno()).st_mode
    if not stat.S_ISREG(mode):
        f.close()
        raise error(
            f"{what}: {path!r} is {_file_kind(mode)}, not a regular file; expected a file "
            "saved by minnn."
        )
    return f


def _file_kind(mode):
    for test, kind in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return kind
    return "a special file"


class Member:
    """One ``.npy`` member, known by its headers only: (shape, dtype) and where its data is."""

    __slots__ = ("key", "info", "shape", "dtype", "fortran", "data_offset")

    def __init__(self, key, info, shape, dtype, fortran, data_offset):
        self.key, self.info, self.shape, self.dtype = key, info, shape, dtype
        self.fortran, self.data_offset = fortran, data_offset

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n


class Archive:
    """An open minnn archive: ``header`` (the JSON dict) and ``members`` ({key: Member}),
    read from headers only. ``read(key)`` then reads one member's data."""

    def __init__(self, path, what):
        self.path, self.what = path, what
        self._file = open_regular(path, what)
        try:
            self._open()
        except BaseException:
            self._file.close()
            raise

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fail(self, message):
        return LoadError(f"{self.what}: {self.path!r} {message}")

    # -- the directory and the headers ------------------------------------------------
    def _open(self):
        f = self._file
        length = os.fstat(f.fileno()).st_size
        start = f.read(8)
        f.seek(0)
        if not zipfile.is_zipfile(f):
            kind = "an empty file" if not start else f"a file starting with {start!r}"
            raise self.fail(
                f"is not a minnn file: received {kind} ({length} bytes), expected a .npz archive "
                "written by model.save_weights() or model.save(). The file may be truncated, "
                "damaged, or of another kind."
            )
        try:
            self._zip = zipfile.ZipFile(f)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, OverflowError,
                UnicodeDecodeError) as e:
            raise self._damaged(e) from None
        if len(infos) > MAX_MEMBERS:
            raise self.fail(f"holds {len(infos)} members; minnn reads files of at most "
                            f"{MAX_MEMBERS} arrays.")
        names = [i.filename for i in infos]
        seen = set()
        for name in names:
            if name in seen:
                raise self.fail(f"is damaged or was altered: it holds the member {name!r} twice.")
            seen.add(name)
        if HEADER + ".npy" not in seen:
            raise self.fail(
                f"is a .npz archive but not one written by minnn: it has no '{HEADER}' entry "
                f"(its keys are {sorted(n[:-4] if n.endswith('.npy') else n for n in names)[:10]})."
            )
        if sum(i.compress_size for i in infos) > length:
            raise self.fail("is damaged or was crafted: its members claim more bytes than the "
                            f"file's {length} (overlapping members).")
        self.members = {}
        for info in infos:
            member = self._member(info)
            self.members[member.key] = member
        self.header = self._read_header(self.members.pop(HEADER))

    def _damaged(self, e):
        return self.fail(f"is damaged and cannot be read ({type(e).__name__}: {e}). "
                         "The file may be truncated or corrupt.")

    def _member(self, info):
        name = info.filename
        if not name.endswith(".npy"):
            raise self.fail(f"is damaged or was altered: it holds the member {name!r}, which is "
                            "not a .npy array.")
        if info.flag_bits & 0x1:
            raise self.fail(f"holds the encrypted member {name!r}; minnn files are not encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.fail(
                f"holds the member {name!r} compressed with method {info.compress_type}; minnn "
                "reads only NumPy's own .npz (stored, or deflated by np.savez_compressed).")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise self._damaged(ValueError(f"member {name!r} is stored but its sizes differ"))
        if info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024:
            raise self.fail(
                f"is damaged or was crafted: its member {name!r} claims to inflate "
                f"{info.compress_size} bytes to {info.file_size}, more than deflate can.")
        try:
            with self._zip.open(info) as fp:
                version = np.lib.format.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, MAX_NPY_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, MAX_NPY_HEADER)
                else:
                    raise ValueError(f".npy format version {version} is not one minnn writes")
                offset = fp.tell()
        except (ValueError, zipfile.BadZipFile, OSError, EOFError, SyntaxError, TypeError,
                RecursionError, MemoryError, OverflowError, zlib.error) as e:
            raise self.fail(f"has a damaged member {name!r} ({type(e).__name__}: {e}).") from None
        if dtype.hasobject:
            raise self.fail(f"is damaged or was altered: it holds the member {name!r} of Python "
                            "objects; minnn never loads pickled data.")
        if any(d < 0 for d in shape):
            raise self.fail(f"has a damaged member {name!r} (shape {tuple(shape)}).")
        member = Member(name[:-4], info, tuple(shape), dtype, fortran, offset)
        declared = offset + member.size * dtype.itemsize
        if declared != info.file_size:
            raise self.fail(
                f"is damaged: its member {name!r} declares shape {member.shape} of {dtype} "
                f"({declared - offset} bytes of data) but holds {info.file_size - offset}.")
        return member

    def _read_header(self, member):
        if member.dtype != np.uint8 or len(member.shape) != 1:
            raise self.fail(f"has a damaged minnn header (an array of {member.dtype} and shape "
                            f"{member.shape}; expected uint8 text).")
        if member.size > MAX_HEADER_BYTES:
            raise self.fail(f"has a minnn header of {member.size} bytes; minnn reads headers of "
                            f"at most {MAX_HEADER_BYTES} bytes.")
        try:
            header = json.loads(self.read(member).tobytes().decode("utf-8"))
        except RecursionError:
            raise self.fail("has a damaged minnn header (its JSON is nested too deeply).") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise self.fail(f"has a damaged minnn header ({e}).") from None
        if not isinstance(header, dict) or "format" not in header:
            raise self.fail("has a damaged minnn header (the header is not a JSON object with "
                            "a 'format' key).")
        return header

    # -- data ---------------------------------------------------------------------------
    def read(self, member):
        """The member's array: exactly the bytes its header declares, CRC checked."""
        if isinstance(member, str):
            member = self.members[member]
        try:
            out = np.empty(member.size, dtype=member.dtype)
        except MemoryError:
            raise self.fail(f"holds {member.key!r} of shape {member.shape}, too large for the "
                            "memory available.") from None
        buf = memoryview(out.view(np.uint8))
        try:
            with self._zip.open(member.info) as fp:
                fp.read(member.data_offset)
                done = 0
                while done < out.nbytes:  # in chunks: no second full-size copy in flight
                    n = fp.readinto(buf[done:done + CHUNK])
                    if not n:
                        raise EOFError(f"member {member.key!r} ends early")
                    done += n
                if fp.read(1):  # also makes zipfile check the CRC at the end of the member
                    raise ValueError(f"member {member.key!r} is longer than declared")
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, OverflowError, zlib.error) as e:
            raise self._damaged(e) from None
        if member.fortran:
            return out.reshape(member.shape[::-1]).T
        return out.reshape(member.shape)
