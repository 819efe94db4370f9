"""Write a file under a temporary name beside its target, then rename it.

Every file kmgmm writes (model files, the command line's outputs) goes
through ``AtomicFile``, which keeps these rules:

* Nothing appears under the final name until the whole file is written and
  flushed to disk; a failed write (a full disk, an interrupted run) removes
  the temporary file and leaves any earlier file under that name untouched.
* The target must be a regular file or not exist yet.  A directory, a
  character or block device, a FIFO or a socket is refused: renaming over it
  would replace, say, ``/dev/null`` with a regular file.
* A symbolic link is refused, not followed: the rename would replace the link
  with a regular file, and writing through a link planted in a shared
  directory would overwrite whatever it points at.  Give the link's target.
* An existing file with more than one hard link is refused: the rename would
  silently detach it from its other names, and writing it in place could
  leave it half written.  Remove it first or write to another name.
* An existing file keeps its permission bits (and its owner and group, where
  the process may set them); a new file gets 0666 less the umask.

Problems with the target are ``OutputPathError`` (a ``ValueError``); a failed
write is the ``OSError`` it raised, naming the file.
"""
import contextlib
import os
import secrets
import stat

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


class OutputPathError(ValueError):
    """An output path kmgmm refuses to write (a device, a link, ...)."""


def check_target(path, *, what="output"):
    """The ``os.lstat`` of an existing regular file at ``path``, None if absent.

    Raises OutputPathError for anything kmgmm must not replace: a symbolic
    link, a directory, a device, a FIFO, a socket, or a file with other hard
    links.
    """
    path = os.fspath(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OutputPathError(f"{path}: cannot write the {what}: a parent of it is "
                              "not a directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputPathError(
            f"{path}: cannot write the {what}: it is a symbolic link (to "
            f"{os.readlink(path)!r}); kmgmm does not write through links, give the "
            "target's own path or remove the link")
    for test, kind in _KINDS:
        if test(st.st_mode):
            raise OutputPathError(f"{path}: cannot write the {what}: it is {kind}, "
                                  "not a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise OutputPathError(f"{path}: cannot write the {what}: it is not a regular "
                              "file")
    if st.st_nlink > 1:
        raise OutputPathError(
            f"{path}: cannot write the {what}: the file has {st.st_nlink} hard links "
            "and replacing it would break them; remove it first or choose another "
            "name")
    return st


def temporary_beside(path):
    """Create an empty file next to ``path`` and return its name."""
    directory, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _copy_owner_and_mode(existing, tmp):
    """Give ``tmp`` the owner (where permitted) and permission bits of ``existing``.

    Done before anything is written to ``tmp``, so a private file's data is
    never readable under looser permissions.
    """
    if hasattr(os, "chown") and hasattr(os, "geteuid") and \
            (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):
            os.chown(tmp, existing.st_uid, existing.st_gid)
    os.chmod(tmp, stat.S_IMODE(existing.st_mode))


def _write_error(exc, path, what):
    """The OSError ``exc`` with a message naming ``path`` and the ``what``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return OSError(exc.errno, f"cannot write the {what} {path}: {reason}")


class AtomicFile:
    """A binary (or text) file written beside ``path`` and renamed over it.

    ``fh`` is the open temporary file; ``commit()`` flushes it to disk and
    renames it to ``path``; ``discard()`` (or leaving the ``with`` block
    without committing) removes it.  Write errors are OSErrors naming
    ``path``.
    """

    def __init__(self, path, *, what="output", text=False):
        self.path = os.fspath(path)
        self.what = what
        self.fh = None
        self.committed = False
        existing = check_target(self.path, what=what)
        try:
            self.tmp = temporary_beside(self.path)
        except OSError as exc:
            raise _write_error(exc, self.path, what) from None
        with self._or_discard():
            if text:
                self.fh = open(self.tmp, "w", encoding="utf-8", newline="")
            else:
                self.fh = open(self.tmp, "wb")
            if existing is not None:
                _copy_owner_and_mode(existing, self.tmp)

    @contextlib.contextmanager
    def _or_discard(self):
        """Run the block; on any failure remove the temporary file (an OSError
        becomes one naming ``path``)."""
        try:
            yield
        except OSError as exc:
            self.discard()
            raise _write_error(exc, self.path, self.what) from None
        except BaseException:
            self.discard()
            raise

    def finish(self):
        """Flush the temporary file to disk and close it (before ``commit``).

        Finishing every output first, then committing them, means a full disk
        is found before any output is renamed into place.
        """
        if self.fh.closed:
            return
        with self._or_discard():
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()

    def commit(self):
        """Finish the temporary file and rename it to ``path``."""
        self.finish()
        with self._or_discard():
            check_target(self.path, what=self.what)  # still safe to replace
            os.replace(self.tmp, self.path)
        self.committed = True

    def discard(self):
        """Close and remove the temporary file (no-op after ``commit``)."""
        if self.committed:
            return
        if self.fh is not None:
            with contextlib.suppress(OSError, ValueError):
                self.fh.close()
        with contextlib.suppress(OSError):
            os.unlink(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.discard()
        return False
