"""Parquet and Feather data files for the command line, read through pyarrow
(the optional extra ``kmgmm[arrow]``).

Only the columns asked for are read; each must be numeric (integers, floats
or booleans) and hold no missing values, or a ``DataFileError`` names it.
"""
from __future__ import annotations

import numpy as np

ARROW_SUFFIXES = (".parquet", ".pq", ".feather", ".arrow")


class ArrowMissing(ImportError):
    """pyarrow is not installed."""


def _pyarrow(path, kind):
    try:
        import pyarrow
    except ImportError:
        raise ArrowMissing(
            f"{path}: reading {kind} files needs pyarrow; install it with "
            "pip install 'kmgmm[arrow]' (or pip install pyarrow)") from None
    return pyarrow


def arrow_kind(path):
    lower = str(path).lower()
    if lower.endswith((".parquet", ".pq")):
        return "Parquet"
    if lower.endswith((".feather", ".arrow")):
        return "Feather"
    return None


def arrow_column_names(path):
    """The column names of a Parquet or Feather file, from its schema only."""
    kind = arrow_kind(path)
    pa = _pyarrow(path, kind)
    if kind == "Parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    import pyarrow.ipc

    with pa.memory_map(str(path)) as source:
        return list(pyarrow.ipc.open_file(source).schema.names)


def read_arrow(path, columns, error):
    """(array, names) of the named ``columns`` (all when None) of a Parquet
    or Feather file; ``error(message)`` builds the exception to raise."""
    kind = arrow_kind(path)
    pa = _pyarrow(path, kind)
    try:
        if kind == "Parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=columns)
        else:
            from pyarrow import feather

            table = feather.read_table(path, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise error(f"{path}: is not a readable {kind} file ({exc})") from None
    if table.num_columns == 0 or table.num_rows == 0:
        raise error(f"{path}: holds no data ({table.num_rows} rows, "
                    f"{table.num_columns} columns)")
    names = list(table.column_names)
    for column_name, column in zip(names, table.columns):
        t = column.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t)
                or pa.types.is_boolean(t)):
            raise error(f"{path}: column {column_name!r} holds {t} values, not "
                        "numbers; leave it out with --columns")
        if column.null_count:
            raise error(f"{path}: column {column_name!r} has {column.null_count} "
                        "missing values; fill or drop them first")
    all_float32 = all(pa.types.is_float32(c.type) for c in table.columns)
    dtype = np.float32 if all_float32 else np.float64
    out = np.empty((table.num_rows, table.num_columns), dtype=dtype)
    for j, column in enumerate(table.columns):
        out[:, j] = column.to_numpy()
    return out, names
