"""Reading data files and writing results for the command line.

Data: ``.npy`` (memory-mapped, never read into memory as a whole), ``.npz``
holding exactly one array, and numeric ``.csv`` / ``.tsv`` text whose first
line is taken as a header when any of its fields is not a number.

Every problem with a file is a ``DataFileError`` whose message names the file
and says what is wrong; the command line prints it as one line.
"""
import os
import zipfile

import numpy as np

from ._atomic_write import temporary_beside

DATA_SUFFIXES = (".npy", ".npz", ".csv", ".tsv")
OUTPUT_SUFFIXES = (".npy", ".csv", ".tsv")
DELIMITERS = {".csv": ",", ".tsv": "\t"}


class DataFileError(ValueError):
    """A data or output file the user named cannot be used as it is."""


def _suffix(path):
    return os.path.splitext(os.fspath(path))[1].lower()


def _check_readable(path):
    if not os.path.exists(path):
        raise DataFileError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataFileError(f"{path}: is a directory, not a data file")


def load_data(path, *, name="data"):
    """The 2-D array in ``path``: a read-only memory map for ``.npy``.

    A 1-D array is read as one feature per row.  Only numeric dtypes are
    accepted; NaN and infinity are left for the estimators to reject (they
    check every row they read).
    """
    path = os.fspath(path)
    _check_readable(path)
    suffix = _suffix(path)
    if suffix == ".npy":
        arr = _load_npy(path)
    elif suffix == ".npz":
        arr = _load_npz(path)
    elif suffix in DELIMITERS:
        arr = _load_text(path, DELIMITERS[suffix])
    else:
        raise DataFileError(
            f"{path}: unsupported {name} file type {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(DATA_SUFFIXES)}")
    if arr.dtype.kind not in "biuf":
        raise DataFileError(
            f"{path}: holds {arr.dtype} values, not numbers; kmgmm reads numeric "
            "arrays only")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise DataFileError(
            f"{path}: holds an array of shape {arr.shape}; kmgmm needs a 2-D "
            "array of shape (n_samples, n_features)")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataFileError(f"{path}: holds no data (shape {arr.shape})")
    return arr


def _load_npy(path):
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DataFileError(f"{path}: cannot be read as a numeric .npy array ({exc})") \
            from None
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: is not a readable .npy file ({exc})") from None


def _load_npz(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if len(names) != 1:
                listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
                raise DataFileError(
                    f"{path}: holds {len(names)} arrays ({listed or 'none'}); kmgmm "
                    "reads an .npz with exactly one array (or use .npy)")
            return npz[names[0]]
    except DataFileError:
        raise
    except ValueError as exc:
        raise DataFileError(f"{path}: cannot be read as a numeric .npz array ({exc})") \
            from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{path}: is not a readable .npz file ({exc})") from None


def _is_number(field):
    try:
        float(field)
    except ValueError:
        return False
    return True


def _first_line(path):
    """The first line that is not blank or a '#' comment, or None."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                return stripped
    return None


def has_header(path, delimiter):
    """True when the first line has a field that is not a number."""
    line = _first_line(path)
    if line is None:
        return False
    fields = [f.strip().strip('"').strip() for f in line.split(delimiter)]
    return not all(_is_number(f) for f in fields)


def _load_text(path, delimiter):
    skip = 0
    try:
        if _first_line(path) is None:
            raise DataFileError(f"{path}: holds no data")
        skip = 1 if has_header(path, delimiter) else 0
        return np.loadtxt(path, delimiter=delimiter, skiprows=skip, ndmin=2,
                          dtype=np.float64, quotechar='"', encoding="utf-8")
    except DataFileError:
        raise
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: is not UTF-8 text ({exc})") from None
    except ValueError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "unreadable values"
        if skip:  # loadtxt counts rows after the skipped header
            detail += " (counting rows after the header)"
        raise DataFileError(f"{path}: is not numeric {_suffix(path)[1:]} data: {detail}") \
            from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from None


def check_output_path(path, *, what="output"):
    """Fail early, before a long fit, if ``path`` cannot be written."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DataFileError(f"{path}: cannot write the {what}: directory "
                            f"{directory} does not exist")
    if os.path.isdir(path):
        raise DataFileError(f"{path}: cannot write the {what}: it is a directory")
    if not os.access(directory, os.W_OK):
        raise DataFileError(f"{path}: cannot write the {what}: directory {directory} "
                            "is not writable")
    return path


def check_output_suffix(path):
    suffix = _suffix(path)
    if suffix not in OUTPUT_SUFFIXES:
        raise DataFileError(
            f"{path}: unsupported output file type {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(OUTPUT_SUFFIXES)}")
    return suffix


class ArrayWriter:
    """Write an array of known shape chunk by chunk, then rename into place.

    ``.npy`` output is a memory map on disk, so an output larger than memory
    is fine; ``.csv`` / ``.tsv`` output is text.  Nothing appears under the
    final name unless ``commit`` is reached.
    """

    def __init__(self, path, shape, dtype):
        self.path = check_output_path(path)
        self.suffix = check_output_suffix(path)
        self.tmp = temporary_beside(self.path)
        self.dtype = np.dtype(dtype)
        self.shape = shape
        if self.suffix == ".npy":
            self._out = np.lib.format.open_memmap(self.tmp, mode="w+", dtype=self.dtype,
                                                  shape=shape)
            self._fh = None
        else:
            self._out = None
            self._fh = open(self.tmp, "w", encoding="utf-8")
        self._fmt = "%d" if self.dtype.kind in "iu" else "%.9g"

    def write(self, start, block):
        if self._out is not None:
            self._out[start:start + len(block)] = block
        else:
            np.savetxt(self._fh, block.reshape(len(block), -1), fmt=self._fmt,
                       delimiter=DELIMITERS[self.suffix])

    def commit(self):
        if self._out is not None:
            self._out.flush()
            del self._out
            self._out = None
        else:
            self._fh.close()
        os.replace(self.tmp, self.path)

    def discard(self):
        if self._fh is not None:
            self._fh.close()
        self._out = None
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()
        return False


def write_array(path, arr):
    """Write a whole array (labels) to ``.npy`` / ``.csv`` / ``.tsv``."""
    with ArrayWriter(path, arr.shape, arr.dtype) as writer:
        writer.write(0, arr)
        writer.commit()
