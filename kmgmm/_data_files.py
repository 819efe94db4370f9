"""Reading data files and writing results for the command line.

Data: ``.npy`` (memory-mapped, never read into memory as a whole), ``.npz``
holding exactly one array, numeric ``.csv`` / ``.tsv`` text (also compressed:
``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, and the same for ``.tsv``), CSV on
standard input (``-``), and Parquet / Feather through pyarrow
(``_data_arrow``).  Text is read as ``pandas.read_csv(path, comment="#")``
reads it: a UTF-8 byte-order mark is ignored, blank lines and ``#`` comments
are skipped, and the first line is a header by the rule in ``has_header``
(column names, or pandas' numeric column labels ``0,1,...,d-1`` over
floating-point data).  ``read_table`` also returns the column names (a
header's, or a Parquet/Feather file's) and picks columns by name or index.

Outputs are written by ``ArrayWriter`` with ordinary file writes, beside
their target and renamed into place (``kmgmm._atomic_write``).

Every problem with a file is a ``DataFileError`` whose message names the file
and says what is wrong; the command line prints it as one line.
"""
import bz2
import gzip
import io
import itertools
import lzma
import os
import sys
import zipfile

import numpy as np

from ._atomic_write import AtomicFile, OutputPathError, check_target
from ._data_arrow import ArrowMissing, arrow_column_names, arrow_kind, read_arrow

DATA_SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".csv.gz", ".csv.bz2", ".csv.xz",
                 ".parquet", ".feather")
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
STDIN = "-"
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


def _text_format(path):
    """(delimiter, opener) of a text data path (compressed or not), or None."""
    if path == STDIN:
        return ",", None
    stem, last = os.path.splitext(path.lower())
    opener = open
    if last in COMPRESSED:
        opener = COMPRESSED[last]
        last = os.path.splitext(stem)[1]
    if last in DELIMITERS:
        return DELIMITERS[last], opener
    return None


def load_data(path, *, name="data"):
    """The 2-D array in ``path`` (``read_table`` without the names)."""
    return read_table(path, name=name)[0]


def read_table(path, *, name="data", columns=None, delimiter=None, dtype=None):
    """(array, names) of the data in ``path``: a read-only memory map for
    ``.npy``; ``names`` are the column names (a text header's, or a Parquet
    or Feather file's), None when the file has none.

    ``columns``: the columns to keep, as a list of names or 0-based indices
    (strings of digits count as indices unless a column has that name).
    ``delimiter`` overrides the text delimiter; ``dtype`` (float32 or
    float64) converts the values.  A 1-D array is read as one feature per
    row.  Only numeric dtypes are accepted; NaN and infinity are left for the
    estimators to reject (they check every row they read).
    """
    path = os.fspath(path)
    if path != STDIN:
        _check_readable(path)
    text = _text_format(path)
    names = None
    if text is not None:
        arr, names = _load_text(path, delimiter or text[0], text[1], columns)
    elif arrow_kind(path):
        try:
            if columns is not None:
                available = arrow_column_names(path)
                columns = [available[i] for i in
                           _column_indices(path, columns, available, len(available))]
            arr, names = read_arrow(path, columns, DataFileError)
        except ArrowMissing as exc:
            raise DataFileError(str(exc)) from None
    elif _suffix(path) in (".npy", ".npz"):
        arr = _load_npy(path) if _suffix(path) == ".npy" else _load_npz(path)
    else:
        suffix = _suffix(path)
        raise DataFileError(
            f"{path}: unsupported {name} file type {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(DATA_SUFFIXES)} (or - for CSV on standard input)")
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
    if columns is not None and text is None and not arrow_kind(path):
        arr = arr[:, _column_indices(path, columns, None, arr.shape[1])]
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr, names


def column_names(path, delimiter=None):
    """The column names of a data file without reading its data: a text
    header's, or a Parquet/Feather schema's; None for files without names
    and for standard input (which can be read only once)."""
    path = os.fspath(path)
    if path == STDIN:
        return None
    _check_readable(path)
    text = _text_format(path)
    if text is not None:
        delimiter = delimiter or text[0]
        try:
            with _open_text(path, text[1]) as fh:
                lines, _ = _data_lines(fh, 2)
        except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError):
            return None     # read_table says what is wrong with the file
        if lines and _is_header(lines[0], lines[1] if len(lines) > 1 else None,
                                delimiter):
            return _fields(lines[0], delimiter)
        return None
    if arrow_kind(path):
        try:
            return arrow_column_names(path)
        except ArrowMissing as exc:
            raise DataFileError(str(exc)) from None
        except Exception:   # noqa: BLE001 - read_table reports a damaged file
            return None
    return None


def _column_indices(path, columns, names, n_columns):
    """0-based indices of ``columns`` (names or index strings) among
    ``n_columns`` columns called ``names`` (None: unnamed)."""
    indices = []
    for column in columns:
        column = str(column).strip()
        if names is not None and column in names:
            indices.append(names.index(column))
        elif column.isdigit():
            index = int(column)
            if index >= n_columns:
                raise DataFileError(
                    f"{path}: --columns {column} is out of range: the file has "
                    f"{n_columns} columns, numbered from 0")
            indices.append(index)
        else:
            known = (f"its columns are {', '.join(names[:20])}" if names is not None
                     else "it has no column names: give 0-based indices")
            raise DataFileError(f"{path}: no column named {column!r}; {known}")
    if len(set(indices)) != len(indices):
        raise DataFileError(f"{path}: --columns names a column twice")
    return indices


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
    return "_" not in field  # float() takes 1_000; the text reader does not


def _is_integer_text(field):
    digits = field[1:] if field[:1] in "+-" else field
    return digits.isdigit()


def _fields(line, delimiter):
    return [f.strip().strip('"').strip() for f in line.split(delimiter)]


def _is_data_line(line):
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _data_lines(fh, n):
    """Up to ``n`` lines of ``fh`` that are not blank or a '#' comment, and
    every line read to find them (to hand on to the text reader)."""
    read = []
    while sum(map(_is_data_line, read)) < n:
        line = fh.readline()
        if not line:
            break
        read.append(line)
    return [line.strip() for line in read if _is_data_line(line)], read


def _is_header(first, second, delimiter):
    """The header rule (see ``has_header``)."""
    fields = _fields(first, delimiter)
    if not all(_is_number(f) for f in fields):
        return True
    if second is None or fields != [str(i) for i in range(len(fields))]:
        return False
    # 0,1,...,d-1: pandas' default column labels, when the data below them is
    # written as floating-point numbers.
    return any(not _is_integer_text(f) for f in _fields(second, delimiter))


def has_header(path, delimiter):
    """True when the first line of a text data file is a header, not data.

    Lines before it that are blank or start with ``#`` are skipped, and a
    UTF-8 byte-order mark is ignored.  The first line is a header when

    * one of its fields is not a number (column names), or
    * it reads exactly ``0,1,...,d-1`` in integers -- the column labels
      ``pandas.DataFrame(X).to_csv(index=False)`` writes -- and the line after
      it has a value that is not an integer (``1.5``, ``2.0``, ``1e-3``,
      ``nan``): floating-point data under integer labels.

    So integer data whose first row is ``0,1,...,d-1`` is read as data; write
    a header of names to be unambiguous.
    """
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        lines, _ = _data_lines(fh, 2)
    if not lines:
        return False
    return _is_header(lines[0], lines[1] if len(lines) > 1 else None, delimiter)


def _open_text(path, opener):
    if path == STDIN:
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig")
    return opener(path, "rt", encoding="utf-8-sig")


def _load_text(path, delimiter, opener, columns=None):
    """(array, header names or None) of a text data file."""
    header = False
    where = "standard input" if path == STDIN else path
    try:
        with _open_text(path, opener) as fh:
            lines, read = _data_lines(fh, 2)
            if not lines:
                raise DataFileError(f"{where}: holds no data")
            header = _is_header(lines[0], lines[1] if len(lines) > 1 else None,
                                delimiter)
            names = _fields(lines[0], delimiter) if header else None
            usecols = None
            if columns is not None:
                usecols = _column_indices(where, columns, names,
                                          len(_fields(lines[0], delimiter)))
                if names is not None:
                    names = [names[i] for i in usecols]
            if header:  # hand the text reader what follows the header line
                first = next(i for i, line in enumerate(read) if _is_data_line(line))
                read = read[first + 1:]
            arr = np.loadtxt(itertools.chain(read, fh), delimiter=delimiter, ndmin=2,
                             dtype=np.float64, quotechar='"', comments="#",
                             usecols=usecols)
            return arr, names
    except DataFileError:
        raise
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{where}: is not UTF-8 text ({exc})") from None
    except ValueError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "unreadable values"
        if header:  # the text reader counts rows after the header
            detail += " (counting rows after the header)"
        kind = "CSV" if path == STDIN else f"{_suffix(path)[1:]}-compressed text" \
            if _suffix(path) in COMPRESSED else _suffix(path)[1:]
        raise DataFileError(f"{where}: is not numeric {kind} data: {detail}") \
            from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise DataFileError(f"{where}: cannot be read ({exc})") from None


def check_output_path(path, *, what="output"):
    """Fail early, before a long fit, if ``path`` cannot be written.

    Besides a missing or read-only directory, refuses what ``AtomicFile``
    refuses: a directory, device, FIFO, socket, symbolic link or a file with
    other hard links at ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DataFileError(f"{path}: cannot write the {what}: directory "
                            f"{directory} does not exist")
    try:
        check_target(path, what=what)
    except OutputPathError as exc:
        raise DataFileError(str(exc)) from None
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
    """Write an array of known shape block by block, in order, then rename it
    into place.

    ``.npy`` output is the ``.npy`` header (the shape is known in advance)
    followed by each block, written with ordinary file writes -- never
    through a memory map, whose stores fault (SIGBUS) instead of raising when
    the disk fills up -- so an output larger than memory is fine.  ``.csv`` /
    ``.tsv`` output is text.  The file is written beside ``path`` and renamed
    by ``commit`` (see ``AtomicFile``): nothing appears under the final name
    before, and a failed write raises OSError naming the file and removes
    the temporary file.
    """

    def __init__(self, path, shape, dtype, *, what="output"):
        self.path = check_output_path(path, what=what)
        self.suffix = check_output_suffix(path)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in shape)
        self.rows = 0
        try:
            self._file = AtomicFile(self.path, what=what, text=self.suffix != ".npy")
        except OutputPathError as exc:
            raise DataFileError(str(exc)) from None
        if self.suffix == ".npy":
            header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                      "fortran_order": False, "shape": self.shape}
            self._guard(np.lib.format.write_array_header_1_0, self._file.fh, header)
        self._fmt = "%d" if self.dtype.kind in "iu" else "%.9g"

    def _guard(self, write, *args):
        try:
            write(*args)
        except OSError as exc:
            self._file.discard()
            reason = exc.strerror or str(exc)
            raise OSError(exc.errno, f"cannot write the {self._file.what} "
                                     f"{self.path}: {reason}") from None

    def write(self, start, block):
        """Write rows ``start`` to ``start + len(block)``; blocks come in order."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if start != self.rows or block.shape[1:] != self.shape[1:] or \
                self.rows + len(block) > self.shape[0]:
            raise ValueError(f"ArrayWriter: block of shape {block.shape} at row {start} "
                             f"does not continue the {self.shape} array at row "
                             f"{self.rows}")
        if self.suffix == ".npy":
            self._guard(self._file.fh.write, block.data.cast("B"))
        else:
            self._guard(np.savetxt, self._file.fh, block.reshape(len(block), -1),
                        self._fmt, DELIMITERS[self.suffix])
        self.rows += len(block)

    def finish(self):
        """Check every row was written and flush the file to disk."""
        if self.rows != self.shape[0]:
            raise ValueError(f"ArrayWriter: {self.rows} of {self.shape[0]} rows written")
        self._file.finish()

    def commit(self):
        """Finish and rename the file into place."""
        self.finish()
        self._file.commit()

    def discard(self):
        self._file.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.discard()
        return False
