"""The in-memory engine: X dense (C-contiguous float32/float64) or CSR, in
this process; every pass is one call of a threaded kernel.  Dense X that must
not be copied whole (``_blocks``: a memory-mapped file, read-only data fitted
with ``copy_x=False``, a dtype to convert) is a ``BlockRows``: each pass then
calls the kernel once per block of rows, converted and conditioned into a
buffer, with the per-row state sliced alongside, and adds up the blocks'
statistics in block order.

An engine holds X, its weights and the per-row state of a fit (the labels,
Hamerly's and Elkan's bounds), runs one pass at a time and returns its
sufficient statistics; the algorithms (``kmgmm._algorithms``) do the rest.
The engine for a Dask collection (``_engines.dask``) has the same methods.
"""
import numpy as np

from .. import _kernels
from .._algorithms.mixture_moments import label_moments, random_blocks, soft_moments
from .._assign import nearest_labels
from .._algorithms.seeding import (
    canonical_order, csr_arrays, kmeans_plusplus, random_rows, row_sqnorms,
)
from .._blocks import BlockRows, fit_rows, is_memory_mapped, row_blocks
from .._conditioning import weighted_moments
from .._relocation import choose_rows
from .._validation import is_sparse


def dense_row(X, row):
    """Row ``row`` of a dense array or a CSR matrix, as a float64 vector."""
    if is_sparse(X):
        return X[[row]].toarray().ravel().astype(np.float64)
    return X[row].astype(np.float64)


def sparse_weighted_mean_variance(X, sample_weight):
    """Mean over features of the weighted variance of a CSR X (float64).

    Per feature, ``sum_i w_i (x_i - m)^2`` is the sum over the non-zeros of
    ``w_i ((x_i - m)^2 - m^2)`` plus ``W m^2``: no raw second moment.
    """
    w = sample_weight.astype(np.float64, copy=False)
    total = w.sum()
    mean = np.asarray(X.T @ w, dtype=np.float64).ravel() / total
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    m = mean[X.indices]
    contrib = w[rows] * ((X.data.astype(np.float64) - m) ** 2 - m * m)
    var = np.bincount(X.indices, weights=contrib, minlength=X.shape[1]) + total * mean**2
    return float(np.mean(var / total))


def sparse_distances(X, centers, dtype):
    """Euclidean distances (n_samples, n_clusters) from a CSR X to dense centres."""
    C = np.asarray(centers, dtype=np.float64)
    c_sqnorms = np.einsum("ij,ij->i", C, C)
    data, _, indptr = csr_arrays(X)
    x_sqnorms = _kernels.sparse.sparse_row_sqnorms(data, indptr)
    out = np.empty((X.shape[0], C.shape[0]), dtype=dtype)
    step = 4096
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        d = np.asarray(block @ C.T, dtype=np.float64)
        d *= -2.0
        d += x_sqnorms[start:start + step, None]
        d += c_sqnorms
        np.maximum(d, 0.0, out=d)
        out[start:start + step] = np.sqrt(d)
    return out


def _add(total, part):
    """``total + part`` for the statistics of a pass (a tuple, an array or a
    number), adding arrays in place; ``part`` when ``total`` is None."""
    if total is None:
        return part
    if isinstance(total, tuple):
        return tuple(_add(t, p) for t, p in zip(total, part))
    if isinstance(total, np.ndarray):
        total += part
        return total
    return total + part


class MemoryEngine:
    """X (dense, CSR or a ``BlockRows``) and its sample weights in this process."""

    keeps_labels = True      # the labels of the last pass stay valid here
    inits = ("k-means++", "random")   # the seedings offered

    def __init__(self, X, sample_weight, n_threads, weight_unit=1.0):
        self.X = X
        self.sample_weight = sample_weight
        # What a weight of 1 given by the caller is in ``sample_weight``
        # (scaled by a power of two, ``check_sample_weight``).
        self.weight_unit = weight_unit
        self.n_threads = n_threads
        self.sparse = is_sparse(X)
        self.shape = X.shape
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.labels = np.full(self.n_samples, -1, dtype=np.int32)
        self._n_changed = np.zeros(1, dtype=np.int64)
        if self.sparse:
            self._csr = csr_arrays(X)
            self._x_sqnorms = _kernels.sparse.sparse_row_sqnorms(self._csr[0],
                                                                 self._csr[2])
        self._bounds = None
        self._order = None
        self._before = None      # the sparse pass's labels before it (one buffer)
        self._restore = None     # the conditioning to undo on X (in place)

    def reset(self):
        """Forget the per-row state of a previous run (labels, bounds)."""
        self.labels.fill(-1)
        self._bounds = None

    def release(self):
        """Drop the per-row bounds a fit left (the labels stay)."""
        self._bounds = None

    # ----------------------------------------------------------- the data
    @property
    def local_threads(self):
        """Threads for the work an algorithm does between passes."""
        return self.n_threads

    @property
    def source(self):
        """X, as a user's ``init`` callable is given it."""
        return self.X.source if isinstance(self.X, BlockRows) else self.X

    @property
    def blocked(self):
        """Whether passes run a block of converted rows at a time."""
        return isinstance(self.X, BlockRows)

    def _blocks(self):
        """(row slice, rows) pairs covering X: X whole, or its blocks."""
        return row_blocks(self.X)

    @property
    def total_weight(self):
        return float(self.sample_weight.sum(dtype=np.float64))
    @property
    def n_positive(self):
        return int(np.count_nonzero(self.sample_weight > 0))

    def moments(self):
        """``_conditioning.Moments`` of the dense data (weighted)."""
        return weighted_moments(self.X, self.sample_weight)

    def conditioned(self, cond, *, copy_x=True):
        """The engine of the transformed data.

        Its X is a transformed copy (``cond.apply``); X itself, transformed
        in place (``copy_x=False`` on a writeable array in memory; ``restore``
        undoes it); or, for data that may be neither copied nor written
        (memory-mapped, or read-only with ``copy_x=False``), a ``BlockRows``
        that transforms a block of rows at a time.
        """
        if cond.identity:
            return self
        X = self.X
        if self.blocked or is_memory_mapped(X) or not (copy_x or X.flags.writeable):
            return MemoryEngine(fit_rows(X, self.dtype, cond), self.sample_weight,
                                self.n_threads, self.weight_unit)
        engine = MemoryEngine(cond.apply(X, in_place=not copy_x), self.sample_weight,
                              self.n_threads, self.weight_unit)
        if not copy_x:
            engine._restore = cond
        return engine

    def restore(self):
        """Undo a transformation of X in place (``conditioned``), once."""
        if self._restore is not None:
            self._restore.restore(self.X)
            self._restore = None

    # ------------------------------------------------------------ seeding
    def seed(self, init, n_clusters, random_state):
        """Initial centres for "k-means++" or "random" (in the data's dtype)."""
        if self._order is None:
            self._order = canonical_order(self.X)
        order = self._order
        if init == "k-means++":
            x_sqnorms = self._x_sqnorms if self.sparse else row_sqnorms(self.X)
            return kmeans_plusplus(self.X, n_clusters, self.sample_weight, random_state,
                                   order, x_sqnorms, n_threads=self.n_threads)[0]
        return random_rows(self.X, n_clusters, self.sample_weight, random_state,
                           order, one=1.0 / self.weight_unit)[0]

    # ------------------------------------------------------- Lloyd passes
    def _centers(self, centers):
        return np.ascontiguousarray(centers, dtype=self.dtype)

    def lloyd_pass(self, centers, *, want_inertia=True):
        """Label every row with its nearest centre: (sums, weights, inertia,
        rows whose label changed)."""
        k = centers.shape[0]
        sums = np.empty((k, self.n_features))
        weights = np.empty(k)
        centers = self._centers(centers)
        if self.sparse:
            if self._before is None:
                self._before = np.empty_like(self.labels)
            np.copyto(self._before, self.labels)
            inertia = self._sparse_assign(centers)
            _kernels.sparse.sparse_cluster_sums(*self._csr, self.sample_weight, self.labels,
                                                sums=sums, weights=weights,
                                                n_threads=self.n_threads)
            return sums, weights, inertia, int(np.count_nonzero(self._before != self.labels))
        total = None
        for sl, X in self._blocks():
            if total is not None:
                sums, weights = np.empty_like(sums), np.empty_like(weights)
            inertia = _kernels.lloyd.lloyd_pass(
                X, self.sample_weight[sl], centers, self.labels[sl], sums=sums,
                weights=weights, want_inertia=want_inertia, n_changed=self._n_changed,
                n_threads=self.n_threads)
            total = _add(total, (sums, weights, inertia, int(self._n_changed[0])))
        return total

    def _sparse_assign(self, centers, min_sqdist=None):
        return _kernels.sparse.sparse_assign(*self._csr, self.sample_weight,
                                             self._x_sqnorms, centers, self.labels,
                                             min_sqdist=min_sqdist, n_threads=self.n_threads)

    def assign(self, centers):
        """Label every row with its nearest centre; return the weighted inertia."""
        centers = self._centers(centers)
        if self.sparse:
            return self._sparse_assign(centers)
        inertia = None
        for sl, X in self._blocks():
            inertia = _add(inertia, _kernels.lloyd.lloyd_pass(
                X, self.sample_weight[sl], centers, self.labels[sl],
                n_threads=self.n_threads))
        return inertia

    def assigned_sqdist(self, centers):
        """Squared distance of each row to its labelled centre."""
        centers = self._centers(centers)
        out = np.empty(self.n_samples, dtype=self.dtype)
        if self.sparse:
            self._sparse_assign(centers, out)      # the labels are these centres' already
            return out
        for sl, X in self._blocks():
            _kernels.common.label_sqdist(X, centers, self.labels[sl], out=out[sl],
                                         n_threads=self.n_threads)
        return out

    def relocation_rows(self, centers, n_empty):
        """Rows for ``n_empty`` empty clusters: [(row, label, weight, value)]."""
        min_sqdist = self.assigned_sqdist(centers)
        rows = choose_rows(self.X, self.sample_weight, self.labels, min_sqdist, n_empty)
        return [(row, int(self.labels[row]), float(self.sample_weight[row]),
                 dense_row(self.X, row)) for row in rows]

    def result_labels(self):
        return self.labels

    def counts(self, n_clusters):
        return np.bincount(self.labels, minlength=n_clusters)

    # ----------------------------------------------------- Hamerly passes
    def hamerly_pass(self, centers, half_sep, move, lower_drop, sums, weights, counts, *,
                     first, exact, tighten):
        """One Hamerly pass over the engine's bounds; the running statistics
        ``sums``, ``weights``, ``counts`` are updated in place (overwritten
        on the first pass).  Returns (inertia, distance evaluations, labels
        changed, rows whose bounds failed, rows a tightening clears)."""
        if first or self._bounds is None:
            n = self.n_samples
            self._bounds = {
                "upper": np.empty(n), "lower": np.zeros(n),
                "moved_rows": np.empty(n, dtype=np.intc),
                "moved_from": np.empty(n, dtype=np.intc),
                "x_sqnorm": np.empty(n),   # filled in by the first pass
            }
        b = self._bounds
        centers = self._centers(centers)
        total = None
        stats = (sums, weights, counts)
        for sl, X in self._blocks():
            # A first pass overwrites the statistics: later blocks' go apart.
            part = stats if (total is None or not first) else tuple(map(np.empty_like,
                                                                        stats))
            result = _kernels.hamerly.hamerly_pass(
                X, self.sample_weight[sl], centers, half_sep=half_sep, move=move,
                lower_drop=lower_drop, labels=self.labels[sl], upper=b["upper"][sl],
                lower=b["lower"][sl], sums=part[0], weights=part[1], counts=part[2],
                first=first, exact=exact, n_threads=self.n_threads,
                x_sqnorm=b["x_sqnorm"][sl], tighten=tighten,
                moved_rows=b["moved_rows"][sl], moved_from=b["moved_from"][sl])
            if part is not stats:
                _add(stats, part)
            total = _add(total, result)
        return total

    def inertia_of_labels(self, centers):
        """The weighted inertia of the current labels under ``centers``."""
        d = self.assigned_sqdist(centers).astype(np.float64)
        return float(self.sample_weight.astype(np.float64) @ d)

    def labels_at(self, rows):
        return self.labels[np.asarray(rows, dtype=np.intp)].copy()

    def move_rows(self, moves):
        """Relocated rows join their new clusters; their bounds start over."""
        for cluster, row in moves:
            self.labels[row] = cluster
            if self._bounds is not None:
                self._bounds["upper"][row] = np.inf
                self._bounds["lower"][row] = 0.0

    def cluster_statistics(self, n_clusters):
        """Weighted per-cluster sums, weights and counts of rows of positive
        weight, from the current labels."""
        sums = np.empty((n_clusters, self.n_features))
        weights = np.empty(n_clusters)
        counts = np.empty(n_clusters, dtype=np.int64)
        total = None
        for sl, X in self._blocks():
            if total is not None:
                sums, weights, counts = map(np.empty_like, total)
            _kernels.common.cluster_statistics(X, self.sample_weight[sl], self.labels[sl],
                                               sums=sums, weights=weights, counts=counts,
                                               n_threads=self.n_threads)
            total = _add(total, (sums, weights, counts))
        return total

    # ------------------------------------------------------- Elkan passes
    def elkan_pass(self, centers, half_sep, half_cc, drops, now, *, first):
        """One Elkan pass: (sums, weights, inertia, distance evaluations,
        labels changed); its n_samples x n_clusters bounds live here."""
        k = centers.shape[0]
        if first or self._bounds is None:
            self._bounds = {
                "lower": np.empty((self.n_samples, k), dtype=np.float32),
                "stamp": np.zeros(self.n_samples, dtype=np.int32),
                "min_sqdist": np.empty(self.n_samples, dtype=self.dtype),
            }
        b = self._bounds
        centers = self._centers(centers)
        total = None
        for sl, X in self._blocks():
            sums = np.empty((k, self.n_features))
            weights = np.empty(k)
            result = _kernels.elkan.elkan_pass(
                X, self.sample_weight[sl], centers, half_sep=half_sep, half_cc=half_cc,
                drops=drops, now=now, labels=self.labels[sl], lower=b["lower"][sl],
                stamp=b["stamp"][sl], min_sqdist=b["min_sqdist"][sl], sums=sums,
                weights=weights, first=first, n_threads=self.n_threads)
            total = _add(total, (sums, weights) + tuple(result))
        return total

    # ---------------------------------------------------------- EM passes
    def em_pass(self, model, hard, scatter=None):
        """One EM pass with statistics: (log-likelihood sum, (nk, s1, s2)).

        ``scatter``: a dict the caller keeps from pass to pass over this
        engine's data (see ``KernelModel.run``; one entry per block here).
        """
        total = None
        for b, (sl, X) in enumerate(self._blocks()):
            held = None if scatter is None else scatter.setdefault(b, {})
            total = _add(total, model.run(X, self.sample_weight[sl], hard=hard,
                                          n_threads=self.n_threads, stats=True,
                                          scatter=held))
        return total

    def mixture_moments(self, seeds, n_components, covariance_type, random_state, shift,
                        labels=None):
        """Statistics of the initial responsibilities: the partition by the
        nearest of ``seeds`` (``labels`` when known), or random soft ones when
        ``seeds`` is None: (nk, s1, s2, means)."""
        if seeds is not None:
            if labels is None:
                labels = nearest_labels(self.X, seeds, self.n_threads)[0]
            return label_moments(self.X, self.sample_weight, labels, n_components,
                                 covariance_type, seeds)
        blocks = random_blocks(self.n_samples, n_components, random_state)
        return soft_moments(self.X, self.sample_weight, blocks, n_components,
                            covariance_type, shift)

    def em_labels(self, model, hard):
        labels = np.empty(self.n_samples, dtype=np.int32)
        for sl, X in self._blocks():
            model.run(X, self.sample_weight[sl], hard=hard, n_threads=self.n_threads,
                      labels=labels[sl])
        return labels

