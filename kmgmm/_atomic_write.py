"""Write a file under a temporary name beside its target, then rename it.

An interrupted or failed write never leaves a partial file under the final
name, and the file gets the usual permissions (0666 less the umask).
"""
import contextlib
import os
import secrets


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


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path; on success it replaces ``path``, else it is removed."""
    tmp = temporary_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
