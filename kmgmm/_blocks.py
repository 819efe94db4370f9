"""Rows of X as a fit sees them, made a block at a time: for data that must
not be copied whole (a memory-mapped file larger than memory) or written to.

A fit needs C-contiguous float32/float64 rows, conditioned (``_conditioning``)
when the data sits far from the origin.  For an array in memory that is X
itself, a converted copy of it, or X transformed in place.  ``BlockRows``
gives the same rows without either: each block of rows is read from the
source, converted and transformed into a buffer of a few MiB, and handed to
a kernel; the kernels' per-row state (labels, bounds) is sliced alongside.
Every value is the one the copy would hold (the same float64 arithmetic, row
by row); only the order in which a pass adds up its blocks' statistics
differs, by rounding.  The blocks depend on the data's shape alone, so the
result does not depend on the number of threads.
"""
import mmap
import numbers

import numpy as np

from ._conditioning import Conditioning

# Values per block (at least MIN_ROWS rows): its float64 work array is 32 MiB,
# as in ``_assign``.  Each block is one call of a threaded kernel, and every
# call starts and joins the threads once: on cores shared with other work
# that costs milliseconds (measured under load, 2 threads: a Lloyd pass over
# 200 000 x 128 took 1.6 s in blocks of 8192 rows, 0.3 s in blocks of 65536,
# 0.2 s in one call).
BLOCK_VALUES = 1 << 22
MIN_ROWS = 4096


def is_memory_mapped(X):
    """Whether the array X reads its values from a memory map (``np.memmap``,
    ``np.load(..., mmap_mode=...)``, or a view of one)."""
    while isinstance(X, np.ndarray):
        if isinstance(X, np.memmap):
            return True
        X = X.base
    return isinstance(X, mmap.mmap)


def rows_per_block(n_features):
    return max(MIN_ROWS, BLOCK_VALUES // max(n_features, 1))


class BlockRows:
    """The rows of ``source`` converted to ``dtype`` and transformed by
    ``cond``, never all at once.

    Indexing (``rows[a:b]``, ``rows[i]``, ``rows[index_array]``) returns a new
    array of the transformed rows; ``blocks()`` walks all of them, a block
    at a time, in one reused buffer.  ``source`` is left untouched.
    """

    ndim = 2

    def __init__(self, source, cond, dtype):
        self.source = source
        self.cond = cond
        self.dtype = np.dtype(dtype)
        self.shape = source.shape
        self.block_rows = rows_per_block(source.shape[1])

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, cols = key
            return self[rows][:, cols]
        if isinstance(key, numbers.Integral):
            return self._transform(self.source[key][None, :])[0]
        if not isinstance(key, slice):
            key = np.asarray(key)
        return self._transform(self.source[key])

    def _transform(self, block, out=None, work=None):
        """``block`` converted and transformed, into ``out`` when given."""
        if out is None:
            out = np.empty(block.shape, dtype=self.dtype)
        if self.cond.identity:
            np.copyto(out, block, casting="unsafe")     # the rounding of astype
            return out
        return self.cond.transform_block(block, self.dtype, out=out, work=work)

    def blocks(self):
        """(row slice, transformed rows) for every block, in row order; the
        array is reused by the next block."""
        n, d = self.shape
        rows = min(self.block_rows, n)
        out = np.empty((rows, d), dtype=self.dtype)
        work = None
        if not self.cond.identity:
            work = out if self.dtype == np.float64 else np.empty((rows, d))
        for start in range(0, n, rows):
            m = min(rows, n - start)
            sl = slice(start, start + m)
            yield sl, self._transform(self.source[sl], out[:m],
                                      None if work is None else work[:m])


def row_blocks(X):
    """(row slice, C-contiguous rows) covering X: X itself in one piece, or
    the blocks of a ``BlockRows``."""
    if isinstance(X, BlockRows):
        return X.blocks()
    return iter([(slice(0, X.shape[0]), X)])


def fit_rows(X, dtype, cond=None):
    """X for a fit in ``dtype`` under ``cond``: X itself when it already is
    that, else a ``BlockRows`` of it (X a source array or another one)."""
    cond = Conditioning() if cond is None else cond
    if isinstance(X, BlockRows):
        if not X.cond.identity:
            raise ValueError("fit_rows: the rows are conditioned already")
        X = X.source
    if (cond.identity and X.dtype == dtype and X.flags.c_contiguous
            and isinstance(X, np.ndarray)):
        return X
    return BlockRows(X, cond, dtype)
