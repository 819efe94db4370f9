"""Mini-batches: a few thousand rows at a time, each run through the Lloyd
kernels of the in-memory engine.

``Batch`` holds one batch in the fit's units (conditioned, in the data's
dtype) and runs a Lloyd pass over it into buffers it keeps, so a step
allocates nothing the size of the data.  ``SampledBatches`` draws the
batches of an in-memory (or memory-mapped) X: one random permutation of the
rows per pass over the data, cut into batches of ``batch_size`` rows (the
``n_samples % batch_size`` rows left over sit the pass out; the next pass
draws a new permutation), each batch's rows gathered into one reused
buffer.  Rows are read only when they are drawn; X is neither copied nor
checked here (the estimator checked it once).
"""
import mmap
import time

import numpy as np

from .. import _kernels
from .._algorithms.seeding import csr_arrays
from .._validation import is_sparse


class ThreadChoice:
    """The thread count for the passes over batches, chosen by their speed.

    A pass over a few thousand rows takes a fraction of a millisecond; on
    cores shared with other work, a thread that waits at the pass's barrier
    for one that has lost its core can cost far more than the pass (measured
    on a loaded 2-core machine: 3.6 ms a pass of 4096 x 32 rows on 2 threads,
    0.7 ms on 1).  So the passes of a fit are timed: each candidate count (1
    and ``n_threads``) runs PROBE passes in turn, the one with the lower
    median time runs the next REPROBE passes, and the probe starts again.
    The kernels give the same bits for any thread count, so the choice
    changes the time of a fit, never its result.
    """

    PROBE = 3
    REPROBE = 256

    def __init__(self, n_threads):
        self.n_threads = n_threads
        self.candidates = (1, n_threads) if n_threads > 1 else (1,)
        self.best = n_threads
        self._times = {c: [] for c in self.candidates}
        self._count = 0

    def _probing(self):
        return (len(self.candidates) > 1
                and self._count % self.REPROBE < self.PROBE * len(self.candidates))

    def pick(self):
        """The thread count for the next pass."""
        if self._probing():
            return self.candidates[self._count % len(self.candidates)]
        return self.best

    def record(self, threads, seconds):
        """Report the time of the pass ``pick`` chose ``threads`` for."""
        if self._probing():
            self._times[threads].append(seconds)
            if (self._count + 1) % self.REPROBE == self.PROBE * len(self.candidates):
                self.best = min(self.candidates,
                                key=lambda c: (float(np.median(self._times[c])), -c))
                for times in self._times.values():
                    times.clear()
        self._count += 1


def threads_for(n_threads):
    """A ThreadChoice for ``n_threads`` (or the one given)."""
    return n_threads if isinstance(n_threads, ThreadChoice) else ThreadChoice(n_threads)


def memory_mapped(X):
    """Whether the dense array X is (a view of) a memory map."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


class Batch:
    """One batch of rows (dense or CSR) with its sample weights.

    ``X`` must be C-contiguous in float32 or float64 (or canonical CSR),
    finite, and in the units of the fit; ``x_sqnorms`` (CSR only) are the
    rows' squared norms, computed here when not given.  ``threads`` is a
    thread count or a ``ThreadChoice`` shared by the batches of a fit.
    """

    def __init__(self, X, sample_weight, threads, *, x_sqnorms=None, buffers=None,
                 weight_scale=1.0):
        self.X = X
        self.sample_weight = sample_weight
        self.threads = threads_for(threads)
        self.n = X.shape[0]
        self.sparse = is_sparse(X)
        self._positive = None
        if buffers is None:
            buffers = {"labels": np.empty(self.n, dtype=np.int32)}
        self._buffers = buffers
        self.labels = buffers["labels"][:self.n]
        if self.sparse:
            self._csr = csr_arrays(X)
            if x_sqnorms is None:
                x_sqnorms = _kernels.sparse.sparse_row_sqnorms(self._csr[0], self._csr[2])
            self._x_sqnorms = x_sqnorms
        # What the batch's weights are worth in the units of the fit's
        # accumulated weights (a power of two: ``check_sample_weight``).
        self.weight_scale = weight_scale
        self.total_weight = float(sample_weight.sum(dtype=np.float64)) * weight_scale

    def _stats(self, n_clusters, n_features):
        sums = self._buffers.get("sums")
        if sums is None or sums.shape != (n_clusters, n_features):
            sums = self._buffers["sums"] = np.empty((n_clusters, n_features))
            self._buffers["weights"] = np.empty(n_clusters)
        return sums, self._buffers["weights"]

    def lloyd_pass(self, centers):
        """Label the batch's rows: (per-cluster weighted sums, weights, inertia).

        The sums and weights are buffers the next pass overwrites.
        """
        sums, weights = self._stats(centers.shape[0], self.X.shape[1])
        n_threads = self.threads.pick()
        start = time.perf_counter()
        if self.sparse:
            inertia = _kernels.sparse.sparse_assign(
                *self._csr, self.sample_weight, self._x_sqnorms, centers, self.labels,
                n_threads=n_threads)
            _kernels.sparse.sparse_cluster_sums(
                *self._csr, self.sample_weight, self.labels, sums=sums, weights=weights,
                n_threads=n_threads)
        else:
            inertia = _kernels.lloyd.lloyd_pass(
                self.X, self.sample_weight, centers, self.labels, sums=sums,
                weights=weights, n_threads=n_threads)
        self.threads.record(n_threads, time.perf_counter() - start)
        if self.weight_scale != 1.0:
            sums *= self.weight_scale
            weights *= self.weight_scale
            inertia *= self.weight_scale
        return sums, weights, inertia

    def _positive_rows(self):
        if self._positive is None:
            self._positive = np.flatnonzero(self.sample_weight > 0)
        return self._positive

    @property
    def n_positive(self):
        """Rows of positive weight."""
        return self._positive_rows().shape[0]

    def positive_rows(self, which):
        """Rows ``which`` (indices among the rows of positive weight), dense float64."""
        rows = self._positive_rows()[np.asarray(which)]
        if self.sparse:
            return self.X[rows].toarray().astype(np.float64)
        return self.X[rows].astype(np.float64)


class SampledBatches:
    """Batches of ``batch_size`` rows of X drawn without replacement within
    each pass over the data (a new permutation per pass), each batch a
    contiguous slice of the permutation.

    ``cond`` (``_conditioning.Conditioning``) is applied to each batch as it
    is gathered; ``x_sqnorms`` of a CSR X are computed once here.  Equal
    weights (the usual case) are not gathered.  The rows of a batch of a
    memory-mapped X are read in file order.
    """

    def __init__(self, X, sample_weight, cond, batch_size, random_state, n_threads):
        self.X = X
        self.sample_weight = sample_weight
        self.cond = cond
        self.n_samples = X.shape[0]
        self.batch_size = min(batch_size, self.n_samples)
        self.random_state = random_state
        self.threads = threads_for(n_threads)
        self.sparse = is_sparse(X)
        self.dtype = X.dtype
        self.n_batches = self.n_samples // self.batch_size
        self._sort = memory_mapped(X)
        self._order = None
        self._next = self.n_batches        # draws a permutation on the first call
        self._buffers = {"labels": np.empty(self.batch_size, dtype=np.int32)}
        first = sample_weight[0]
        self._equal = bool((sample_weight == first).all())
        if self._equal:
            self._w = np.full(self.batch_size, first, dtype=sample_weight.dtype)
        else:
            self._w = np.empty(self.batch_size, dtype=sample_weight.dtype)
        if self.sparse:
            data, _, indptr = csr_arrays(X)
            self._x_sqnorms = _kernels.sparse.sparse_row_sqnorms(data, indptr)
        else:
            self._x = np.empty((self.batch_size, X.shape[1]), dtype=self.dtype)

    def _shuffle(self):
        self._order = self.random_state.permutation(self.n_samples)
        if self._sort:
            used = self.n_batches * self.batch_size
            self._order[:used].reshape(self.n_batches, self.batch_size).sort(axis=1)
        self._next = 0

    def next(self):
        """The next batch (valid until the next call)."""
        if self._next == self.n_batches:
            self._shuffle()
        start = self._next * self.batch_size
        rows = self._order[start:start + self.batch_size]
        self._next += 1
        if not self._equal:
            np.take(self.sample_weight, rows, out=self._w)
        if self.sparse:
            return Batch(self.X[rows], self._w, self.threads,
                         x_sqnorms=self._x_sqnorms[rows], buffers=self._buffers)
        if self.cond.identity:
            np.take(self.X, rows, axis=0, out=self._x)
        else:
            self._x[:] = self.cond.transform_block(self.X[rows], self.dtype)
        return Batch(self._x, self._w, self.threads, buffers=self._buffers)
