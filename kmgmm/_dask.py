"""KMeans and GaussianMixture on a Dask cluster: one round of block tasks per
iteration, sufficient statistics reduced in a fixed tree, the step on the client.

The estimators dispatch here when X is a Dask array or a Dask DataFrame.  X
(and a Dask ``sample_weight``) is persisted once, cut into blocks of rows.
Every iteration then

1. sends the current parameters to the cluster once, as the data of one
   small task that the block tasks depend on (with no Client they stay in
   this process),
2. runs the kernel of the in-memory fit on every block (``_lloyd.lloyd_pass``
   or ``KernelModel.run``); a block task returns that block's statistics,
   never per-sample data,
3. adds the blocks' statistics in a tree whose shape and order depend only
   on the number of blocks (``FAN_IN`` consecutive blocks per node), and
4. finishes the step on the client with the same NumPy code as in memory
   (``centers_from_sums``, ``m_step``).

Per-sample data never crosses the network after the persist.  When a worker
dies, Dask recomputes its blocks from their source graph (and the round's
parameters from the task that holds them), so the fit goes on with the same
result.

Without a ``distributed.Client``, the blocks are computed with Dask's default
scheduler and the block tasks run one after another in this process.

Seeding: ``init="k-means++"`` (the default) on a Dask array runs k-means||
(Bahmani et al., 2012) on the cluster -- ``n_rounds`` rounds that sample
about ``oversampling_factor * n_clusters`` rows each with probability
proportional to weight x squared distance -- then weights every candidate by
the rows nearest to it and reduces the candidates to ``n_clusters`` centres
locally with weighted k-means++ and Lloyd.  ``init="k-means||"`` is the same;
``init="k-means++-sample"`` runs plain k-means++ on a uniform sample of rows
gathered to the client.

This module imports Dask; ``import kmgmm`` does not import this module.
"""
import hashlib
import operator
import sys
import types

import dask
import dask.array as da
import numpy as np

from . import _lloyd
from ._gaussian import KernelModel, m_step
from ._gmm_init import (
    _one_hot_blocks, _random_blocks, first_moments, means_from_moments,
    nearest_labels, second_moments,
)
from ._kmeans import end_iteration, lloyd
from ._kmeans_init import canonical_order, kmeans_plusplus, random_rows
from ._relocation import (
    CANDIDATES_PER_CLUSTER, MIN_CANDIDATES, RowChooser, distinct_keys, farthest_rows,
    row_keys,
)
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    feature_names_from_columns,
    as_float_array, check_features, check_finite, check_int,
    check_random_state,
)

# Children per node of the reduction tree.
FAN_IN = 8

# k-means|| settings: rounds, and rows sampled per round per cluster.
N_ROUNDS = 5
OVERSAMPLING_FACTOR = 2.0

# Rows gathered for init="k-means++-sample" and "random": at least this many,
# or 100 per cluster.
SAMPLE_ROWS = 10_000

DASK_INITS = ("k-means++", "k-means||", "k-means++-sample", "random")


# ---------------------------------------------------------------- the data
def _is_dask_dataframe(X):
    return hasattr(X, "to_dask_array") and hasattr(X, "columns")


def _feature_names(X):
    return feature_names_from_columns(X.columns) if _is_dask_dataframe(X) else None


def _prepare_block(x, dtype, name):
    """A block as a C-contiguous float array; ValueError naming ``name`` on NaN/inf."""
    x = np.ascontiguousarray(x, dtype=dtype)
    check_finite(x, name)
    return x


def _check_weight_block(w, dtype):
    w = np.ascontiguousarray(w, dtype=dtype)
    check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError(
            "sample_weight contains negative values; weights must be >= 0 "
            "(use 0 to leave a row out).")
    return w


def as_dask_array(X, name="X"):
    """A 2-D float32/float64 Dask array of X, one chunk across the columns.

    The checks of ``as_float_array`` that need no data run here; NaN and
    infinity are found block by block when the blocks are computed.
    """
    if _is_dask_dataframe(X):
        kinds = {np.dtype(t).kind for t in X.dtypes}
        if not kinds <= set("fiub"):
            raise TypeError(
                f"{name} must be numeric, but it has columns of dtypes "
                f"{sorted(set(map(str, X.dtypes)))}; encode or drop the "
                "non-numeric columns.")
        X = X.to_dask_array(lengths=True)
    if not isinstance(X, da.Array):
        raise TypeError(f"{name} must be a Dask array or DataFrame, got {type(X).__name__}.")
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array for {name}, got {X.ndim} dimension(s) "
            f"(shape {X.shape}); reshape it to (n_samples, n_features).")
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} contains complex numbers; pass "
            f"the real part ({name}.real) or the modulus (abs({name})).")
    if kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {X.dtype}, which is not numeric; pass an array "
            "of floats or integers.")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.shape[1] < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            f"of 1 is required: {name} must have at least that many columns.")
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
            f"of 1 is required: {name} must have at least that many rows.")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X.map_blocks(_prepare_block, dtype, name, dtype=dtype)


def as_dask_weight(sample_weight, X):
    """``sample_weight`` as a Dask array with X's row chunks, or None for ones."""
    if sample_weight is None:
        return None
    dtype = X.dtype
    if np.isscalar(sample_weight) and not isinstance(sample_weight, bool):
        return da.full(X.shape[0], sample_weight, dtype=dtype, chunks=(X.chunks[0],))
    if not isinstance(sample_weight, da.Array):
        if hasattr(sample_weight, "to_dask_array"):
            sample_weight = sample_weight.to_dask_array(lengths=True)
        else:
            sw = as_float_array(sample_weight, name="sample_weight", dtype=dtype,
                                ensure_2d=False)
            sample_weight = da.from_array(sw, chunks=-1)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected "
            f"({X.shape[0]},): give one weight per row of X.")
    if sample_weight.chunks[0] != X.chunks[0]:
        sample_weight = sample_weight.rechunk((X.chunks[0],))
    return sample_weight.map_blocks(_check_weight_block, dtype, dtype=dtype)


# ------------------------------------------------------------- the engines
class Blocks(list):
    """One item per block of rows (an argument that varies per task)."""


def _add(*parts):
    """Add block statistics: arrays and numbers add, tuples concatenate."""
    out = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            out[i] = out[i] + value
    return tuple(out)


def _task_threads(n_threads):
    """OpenMP threads for one block task: the estimator's setting, else the
    worker's threads shared among the tasks it is running now."""
    if n_threads is not None:
        return n_threads
    worker = None
    if "distributed" in sys.modules:
        try:
            worker = sys.modules["distributed"].get_worker()
        except ValueError:
            worker = None
    if worker is None:
        return effective_n_threads(None)
    busy = max(1, len(worker.state.executing))
    return max(1, worker.state.nthreads // busy)


def _hold(obj):
    return obj


class LocalRunner:
    """No Client: blocks computed by Dask's default scheduler, tasks run here."""

    def __init__(self):
        self.client = None

    def blocks(self, arr):
        if arr is None:
            return None
        return Blocks(dask.compute(*arr.to_delayed().ravel()))

    def put(self, obj):
        return obj

    def map(self, fn, *args):
        n = next(len(a) for a in args if isinstance(a, Blocks))
        return Blocks(
            fn(*[a[i] if isinstance(a, Blocks) else a for a in args]) for i in range(n))

    def reduce(self, parts):
        parts = list(parts)
        while len(parts) > 1:
            parts = [_add(*parts[i:i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
        return parts[0]

    def gather(self, parts):
        return list(parts)

    def item(self, parts, index):
        return Blocks(p[index] for p in parts)

    def to_array(self, parts, chunks, dtype):
        return da.from_array(np.concatenate(list(parts)), chunks=(chunks,))


class ClusterRunner(LocalRunner):
    """A ``distributed.Client``: futures, a task per round's parameters, a reduction tree."""

    def __init__(self, client):
        self.client = client

    def blocks(self, arr):
        if arr is None:
            return None
        arr = self.client.persist(arr)
        futures = {f.key: f for f in sys.modules["distributed"].futures_of(arr)}
        return Blocks(futures[key] for key in dask.core.flatten(arr.__dask_keys__()))

    def put(self, obj):
        # One small task holds the round's parameters: the scheduler sends
        # them once, workers copy them from each other, and a worker lost
        # with the only copy is handled like any lost task.  (A broadcast
        # scatter can hang while the scheduler has not yet noticed a dead
        # worker.)
        return self.client.submit(_hold, obj, pure=False)

    def map(self, fn, *args):
        n = next(len(a) for a in args if isinstance(a, Blocks))
        lists = [a if isinstance(a, Blocks) else [a] * n for a in args]
        return Blocks(self.client.map(fn, *lists, pure=False))

    def reduce(self, parts):
        parts = list(parts)
        while len(parts) > 1:
            parts = [self.client.submit(_add, *parts[i:i + FAN_IN], pure=False)
                     if len(parts[i:i + FAN_IN]) > 1 else parts[i]
                     for i in range(0, len(parts), FAN_IN)]
        return parts[0].result()

    def gather(self, parts):
        return self.client.gather(list(parts))

    def item(self, parts, index):
        return Blocks(self.client.map(operator.getitem, parts, [index] * len(parts),
                                      pure=False))

    def to_array(self, parts, chunks, dtype):
        return da.concatenate([
            da.from_delayed(dask.delayed(f), shape=(n,), dtype=dtype)
            for f, n in zip(parts, chunks)])


def runner():
    """The engine for the current ``distributed.Client``, or a local one."""
    if "distributed" in sys.modules:
        try:
            client = sys.modules["distributed"].default_client()
        except ValueError:
            client = None
        if client is not None:
            return ClusterRunner(client)
    return LocalRunner()


class Data:
    """X and the sample weights, persisted once as blocks of rows."""

    def __init__(self, X, sample_weight):
        self.array = X
        self.engine = runner()
        self.xs = self.engine.blocks(X)
        ws = self.engine.blocks(sample_weight)
        self.ws = ws if ws is not None else Blocks([None] * len(self.xs))
        self.chunks = X.chunks[0]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunks)[:-1]]).astype(np.intp)
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype

    def run(self, fn, *args):
        """fn(x, w, *args) on every block; its statistics added in the tree."""
        return self.engine.reduce(self.engine.map(fn, self.xs, self.ws, *args))


def _weights_of(x, w):
    return np.ones(x.shape[0], dtype=x.dtype) if w is None else w


# ------------------------------------------------------------- block tasks
def _summary_block(x, w):
    """Total weight, weighted sum of rows, rows of positive weight, and the
    total weight as a 1-tuple (so the reduction keeps it per block)."""
    w = _weights_of(x, w)
    w64 = w.astype(np.float64)
    wsum = float(w64.sum())
    return (wsum, w64 @ x.astype(np.float64), int(np.count_nonzero(w > 0)), (wsum,))


def _variance_block(x, w, mean):
    w = _weights_of(x, w).astype(np.float64)
    diff = x.astype(np.float64) - mean
    return (w @ (diff * diff),)


def _lloyd_block(x, w, centers, n_threads):
    """One Lloyd pass over a block: sums, weights, inertia, a digest of the labels."""
    k, d = centers.shape
    labels = np.empty(x.shape[0], dtype=np.int32)
    sums = np.empty((k, d))
    weights = np.empty(k)
    with single_threaded_blas():
        inertia = _lloyd.lloyd_pass(x, _weights_of(x, w), centers, labels,
                                    np.empty(0, dtype=x.dtype), sums, weights,
                                    _task_threads(n_threads))
    digest = hashlib.blake2b(labels.tobytes(), digest_size=16).digest()
    return sums, weights, inertia, (digest,)


def _labels_block(x, w, centers, n_threads):
    """Labels, inertia and rows per cluster of a block."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        inertia = _lloyd.lloyd_pass(x, _weights_of(x, w), centers, labels,
                                    np.empty(0, dtype=x.dtype), np.empty((0, 0)),
                                    np.empty(0), _task_threads(n_threads))
    return labels, (inertia, np.bincount(labels, minlength=centers.shape[0]))


def _block_labels(x, w, centers, n_threads):
    """Labels and squared distances of a block's rows under ``centers``."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    min_sqdist = np.empty(x.shape[0], dtype=x.dtype)
    with single_threaded_blas():
        _lloyd.lloyd_pass(x, w, centers, labels, min_sqdist, np.empty((0, 0)),
                          np.empty(0), _task_threads(n_threads))
    return labels, min_sqdist


def _farthest_block(x, w, centers, n_take, offset, n_threads):
    """The block's ``n_take`` rows of positive weight farthest from their centre,
    at positive distance (ties by index; all rows tied with the last one too)."""
    w = _weights_of(x, w)
    labels, min_sqdist = _block_labels(x, w, centers, n_threads)
    dist = np.where(w > 0, min_sqdist.astype(np.float64), 0.0)
    rows = farthest_rows(dist, n_take)
    return (dist[rows], offset + rows, x[rows], labels[rows], w[rows])


def _distinct_block(x, w, centers, clusters, caps, n_threads):
    """For each cluster, the keys of up to ``cap`` distinct values among the
    block's rows of positive weight in it."""
    w = _weights_of(x, w)
    labels, _ = _block_labels(x, w, centers, n_threads)
    positive = w > 0
    return [distinct_keys(x, np.flatnonzero((labels == a) & positive), cap)
            for a, cap in zip(clusters, caps)]


def _nearest_block(x, w, state, centers, n_threads):
    """k-means||: each row's squared distance to the candidates so far, and the
    weighted cost (``state`` is this block's previous result, or None)."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    sqdist = np.empty(x.shape[0], dtype=x.dtype)
    with single_threaded_blas():
        _lloyd.lloyd_pass(x, _weights_of(x, w), centers, labels, sqdist,
                          np.empty((0, 0)), np.empty(0), _task_threads(n_threads))
    closest = sqdist.astype(np.float64)
    if state is not None:
        closest = np.minimum(state[0], closest)
    return closest, (float(_weights_of(x, w).astype(np.float64) @ closest),)


def _oversample_block(x, w, state, cost, ell, seed):
    """k-means||: rows drawn with probability min(1, ell * w * d^2 / cost)."""
    p = ell * _weights_of(x, w).astype(np.float64) * state[0] / cost
    u = np.random.RandomState(seed).uniform(size=x.shape[0])
    return x[u < p]


def _uniform_sample_block(x, w, rate, seed):
    """Rows kept with probability ``rate``, with their weights."""
    keep = np.random.RandomState(seed).uniform(size=x.shape[0]) < rate
    return x[keep], _weights_of(x, w)[keep]


def _draw_row_block(x, w, value):
    """The row where the block's cumulative weight first exceeds ``value``."""
    w = _weights_of(x, w).astype(np.float64)
    j = int(np.searchsorted(np.cumsum(w), value, side="right"))
    positive = np.flatnonzero(w > 0)
    if j >= x.shape[0] or w[j] <= 0:
        j = positive[-1]
    return x[j]


def _candidate_weight_block(x, w, candidates, n_threads):
    """Weight of the rows nearest to each candidate."""
    k, d = candidates.shape
    labels = np.empty(x.shape[0], dtype=np.int32)
    sums = np.empty((k, d))
    weights = np.empty(k)
    with single_threaded_blas():
        _lloyd.lloyd_pass(x, _weights_of(x, w), candidates, labels,
                          np.empty(0, dtype=x.dtype), sums, weights,
                          _task_threads(n_threads))
    return (weights,)


# ---------------------------------------------------------------- k-means
def _summary(data):
    wsum, wx, n_positive, block_wsum = data.run(_summary_block)
    if not wsum > 0:
        raise ValueError(
            "sample_weight sums to zero; at least one row needs a positive weight.")
    return wsum, wx / wsum, n_positive, np.asarray(block_wsum)


def _relocate(data, centers, sums, weights, n_positive, n_threads):
    """``relocate_empty_clusters`` on the cluster, with the rules of
    ``_relocation``: the farthest rows of every block are gathered and taken
    as in memory; the clusters they come from count their distinct values
    over the blocks.  A batch that leaves clusters empty is followed by a
    larger one (only where many candidates were skipped)."""
    empty = np.flatnonzero(weights == 0)
    engine = data.engine
    centers_h = engine.put(centers)
    chooser = RowChooser(empty.size)
    seen = {}       # cluster -> candidates fed from it
    known = {}      # cluster -> (distinct keys found over the blocks, cap asked)
    n_take = max(CANDIDATES_PER_CLUSTER * empty.size, MIN_CANDIDATES)
    done = 0
    values = []
    while not chooser.full:
        parts = engine.gather(engine.map(_farthest_block, data.xs, data.ws, centers_h,
                                         n_take, Blocks(data.offsets), n_threads))
        dist, index, rows, labels, w = (np.concatenate(c) for c in zip(*parts))
        order = np.lexsort((index, -dist))
        exhausted = all(len(p[0]) < n_take for p in parts)
        if not exhausted:
            # The blocks' lists hold every row down to the n_take-th overall
            # (and those tied with it): beyond that the merged order has gaps.
            cut = dist[order[n_take - 1]]
            order = order[dist[order] >= cut]
        batch = order[done:]
        done = order.size
        for a in labels[batch]:
            seen[int(a)] = seen.get(int(a), 0) + 1
        ask = [a for a in sorted(set(int(a) for a in labels[batch]))
               if a not in known or (len(known[a][0]) >= known[a][1] > 0
                                     and known[a][1] < seen[a] + 1)]
        if ask:
            caps = [seen[a] + 1 for a in ask]
            found = engine.gather(engine.map(_distinct_block, data.xs, data.ws,
                                             centers_h, ask, caps, n_threads))
            for j, a in enumerate(ask):
                keys = set().union(*(block[j] for block in found))
                known[a] = (keys, caps[j])
        taken = len(chooser.rows)
        chooser.feed(batch, labels[batch], row_keys(rows, batch),
                     lambda a, m: len(known[a][0]) >= m)
        values.extend((rows[i], labels[i], w[i]) for i in chooser.rows[taken:])
        if exhausted or done >= n_positive:
            break
        n_take *= 4
    for cluster, (row, old, wi) in zip(empty, values):
        wx = float(wi) * row.astype(np.float64)
        if weights[old] > wi:
            sums[old] -= wx
            weights[old] -= wi
        sums[cluster] = wx
        weights[cluster] = wi
    return len(values)


def dask_lloyd(data, centers, *, max_iter, tol, n_threads, n_positive, verbose=0,
               callback=None):
    """``_kmeans.lloyd`` over the blocks of ``data``; the same stopping rules.

    Returns (labels, inertia, centers, n_iter, counts, label_centers):
    labels a Dask array with X's row chunks, computed on the workers from
    ``label_centers`` (the centres of the last assignment), and counts the
    rows per cluster.
    """
    centers = np.array(centers, dtype=data.dtype, order="C")
    engine = data.engine
    digests_old = None
    strict = False
    n_iter = 0
    label_centers = centers
    for n_iter in range(1, max_iter + 1):
        centers_h = engine.put(centers)
        sums, weights, inertia, digests = data.run(_lloyd_block, centers_h, n_threads)
        n_moved = 0
        if np.any(weights == 0):
            n_moved = _relocate(data, centers, sums, weights, n_positive, n_threads)
        label_centers = centers
        centers, shift, stop = end_iteration(
            n_iter, centers, sums, weights, data.dtype, inertia=inertia,
            labels_unchanged=digests == digests_old, n_moved=n_moved, tol=tol,
            verbose=verbose, callback=callback)
        if stop:
            strict = stop == "strict"
            break
        digests_old = digests
    if not strict:
        # Labels and inertia of the returned centres, as in memory.
        label_centers = centers
    parts = engine.map(_labels_block, data.xs, data.ws, engine.put(label_centers),
                       n_threads)
    inertia, counts = engine.reduce(engine.item(parts, 1))
    labels = engine.to_array(engine.item(parts, 0), data.chunks, np.int32)
    return labels, inertia, centers, n_iter, counts, label_centers


def kmeans_parallel(data, n_clusters, block_wsum, random_state, n_threads, *,
                    n_rounds=N_ROUNDS, oversampling_factor=OVERSAMPLING_FACTOR):
    """k-means|| seeding (Bahmani et al., 2012); returns centres in X's dtype."""
    engine = data.engine
    # The first centre: one row drawn with probability proportional to weight.
    value = random_state.uniform() * block_wsum.sum()
    b = min(int(np.searchsorted(np.cumsum(block_wsum), value, side="right")),
            len(block_wsum) - 1)
    while block_wsum[b] <= 0:
        b -= 1
    value -= block_wsum[:b].sum()
    first = engine.gather(engine.map(_draw_row_block, Blocks([data.xs[b]]),
                                     Blocks([data.ws[b]]), value))[0]
    candidates = [np.asarray(first, dtype=data.dtype)[None]]
    ell = oversampling_factor * n_clusters
    state = Blocks([None] * len(data.xs))
    new = candidates[0]
    for _ in range(n_rounds):
        state = engine.map(_nearest_block, data.xs, data.ws, state, engine.put(new),
                           n_threads)
        cost = engine.reduce(engine.item(state, 1))[0]
        if not cost > 0:
            break
        seeds = Blocks(random_state.randint(np.iinfo(np.int32).max, size=len(data.xs)))
        drawn = engine.gather(engine.map(_oversample_block, data.xs, data.ws, state,
                                         cost, ell, seeds))
        new = np.ascontiguousarray(np.concatenate(drawn), dtype=data.dtype)
        if new.shape[0] == 0:
            continue
        candidates.append(new)
    cand = np.ascontiguousarray(np.concatenate(candidates), dtype=data.dtype)
    if cand.shape[0] < n_clusters:
        return None
    (cand_w,) = data.run(_candidate_weight_block, engine.put(cand), n_threads)
    cand_w = cand_w.astype(data.dtype)
    n_local = effective_n_threads(None)
    with single_threaded_blas():
        centers, _ = kmeans_plusplus(cand, n_clusters, cand_w, random_state,
                                     canonical_order(cand), n_threads=n_local)
        centers = lloyd(cand, cand_w, centers, max_iter=100, tol=0.0,
                        n_threads=n_local)[2]
    return centers


def _sample(data, n_clusters, random_state):
    """A uniform sample of at least SAMPLE_ROWS rows (all rows if fewer)."""
    target = max(SAMPLE_ROWS, 100 * n_clusters)
    rate = min(1.0, target / data.n_samples)
    seeds = Blocks(random_state.randint(np.iinfo(np.int32).max, size=len(data.xs)))
    parts = data.engine.gather(data.engine.map(_uniform_sample_block, data.xs,
                                               data.ws, rate, seeds))
    rows = np.ascontiguousarray(np.concatenate([p[0] for p in parts]), dtype=data.dtype)
    w = np.ascontiguousarray(np.concatenate([p[1] for p in parts]), dtype=data.dtype)
    return rows, w


def seed_centers(data, n_clusters, init, block_wsum, random_state, n_threads):
    """Initial centres for one of the ``DASK_INITS`` strings."""
    k = n_clusters
    if init in ("k-means++", "k-means||"):
        centers = kmeans_parallel(data, k, block_wsum, random_state, n_threads)
        if centers is not None:
            return centers
    rows, w = _sample(data, k, random_state)
    if np.count_nonzero(w > 0) < k:
        rows, w = _sample(data, data.n_samples, random_state)
    order = canonical_order(rows)
    with single_threaded_blas():
        if init == "random":
            return random_rows(rows, k, w, random_state, order)[0]
        return kmeans_plusplus(rows, k, w, random_state, order,
                               n_threads=effective_n_threads(None))[0]


def _check_kmeans_params(est, X):
    """``KMeans._check_params`` with the seedings a cluster offers.

    Every algorithm gives Lloyd's result; on a cluster the passes are Lloyd's
    (the bound algorithms' per-row state would have to live on the workers).
    """
    if est.n_threads is not None:
        check_int(est.n_threads, "n_threads", low=1)
    return est._check_params(X, inits=DASK_INITS, stacklevel=4)


def _kmeans_fit(est, data, init, n_init, random_state, *, quiet=False):
    """The best of ``n_init`` distributed Lloyd runs: (result tuple, tol)."""
    n_threads = est.n_threads
    wsum, mean, n_positive, block_wsum = _summary(data)
    tol = 0.0
    if est.tol:
        (var,) = data.run(_variance_block, data.engine.put(mean))
        tol = float(np.mean(var / wsum)) * est.tol
    best = None
    for run in range(n_init):
        if isinstance(init, str):
            centers = seed_centers(data, est.n_clusters, init, block_wsum,
                                   random_state, n_threads)
        elif callable(init):
            centers = est._check_init_array(
                init(data.array, est.n_clusters, random_state=random_state),
                data.array)
        else:
            centers = init
        if est.verbose and not quiet:
            print(f"Initialisation {run + 1} of {n_init} done.")
        result = dask_lloyd(data, centers, max_iter=est.max_iter, tol=tol,
                            n_threads=n_threads, n_positive=n_positive,
                            verbose=0 if quiet else est.verbose,
                            callback=getattr(est, "_iteration_callback", None))
        if best is None or result[1] < best[1]:
            best = result
    return best


def fit_kmeans(est, X, sample_weight):
    """``KMeans.fit`` for a Dask array or DataFrame."""
    names = _feature_names(X)
    X = as_dask_array(X)
    init, n_init = _check_kmeans_params(est, X)
    if X.shape[0] < est.n_clusters:
        raise ValueError(
            f"n_samples={X.shape[0]} should be >= n_clusters={est.n_clusters}: "
            "lower n_clusters or pass more rows.")
    data = Data(X, as_dask_weight(sample_weight, X))
    random_state = check_random_state(est.random_state)
    labels, inertia, centers, n_iter, counts, _ = _kmeans_fit(est, data, init, n_init,
                                                              random_state)
    est._set_fitted(X, names, labels, inertia, centers, n_iter, counts)
    return est


# ---------------------------------------------------- k-means predictions
def _test_array(est, X, method):
    est._check_is_fitted(method, est._fitted_attribute)
    names = _feature_names(X)
    X = as_dask_array(X)
    check_features(est, X, names, reset=False)
    return X


def _kmeans_predict_block(x, centers, n_threads):
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        _lloyd.lloyd_pass(x, np.ones(x.shape[0], dtype=x.dtype),
                          np.ascontiguousarray(centers, dtype=x.dtype), labels,
                          np.empty(0, dtype=x.dtype), np.empty((0, 0)), np.empty(0),
                          _task_threads(n_threads))
    return labels


def _kmeans_inertia_block(x, w, centers, n_threads):
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        return _lloyd.lloyd_pass(x, _weights_of(x, w),
                                 np.ascontiguousarray(centers, dtype=x.dtype), labels,
                                 np.empty(0, dtype=x.dtype), np.empty((0, 0)),
                                 np.empty(0), _task_threads(n_threads))


def _kmeans_distances_block(x, centers):
    from ._kmeans import KMeans

    return KMeans._distances(types.SimpleNamespace(cluster_centers_=centers), x)


def kmeans_predict(est, X):
    """Lazy labels: a Dask array with X's row chunks."""
    X = _test_array(est, X, "predict")
    centers = dask.delayed(est.cluster_centers_, pure=True)
    return X.map_blocks(_kmeans_predict_block, centers, est.n_threads,
                        dtype=np.int32, drop_axis=1)


def kmeans_transform(est, X):
    """Lazy distances to the centres: a Dask array (n_samples, n_clusters)."""
    X = _test_array(est, X, "transform")
    k = est.cluster_centers_.shape[0]
    centers = dask.delayed(est.cluster_centers_, pure=True)
    return X.map_blocks(_kmeans_distances_block, centers, dtype=X.dtype,
                        chunks=(X.chunks[0], (k,)))


def kmeans_score(est, X, sample_weight=None):
    """Opposite of the weighted inertia of X (a number)."""
    X = _test_array(est, X, "score")
    w = as_dask_weight(sample_weight, X)
    xs = X.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else w.to_delayed().ravel()
    centers = dask.delayed(est.cluster_centers_, pure=True)
    task = dask.delayed(_kmeans_inertia_block, pure=True)
    parts = [task(x, wb, centers, est.n_threads) for x, wb in zip(xs, ws)]
    return -float(sum(dask.compute(*parts)))


# ------------------------------------------------------- Gaussian mixture
def _em_block(x, w, model, hard, n_threads):
    """One EM pass over a block: log-likelihood and the statistics about
    ``model.moment_means`` (additive over blocks for a fixed model)."""
    with single_threaded_blas():
        ll, (nk, s1, s2) = model.run(x, _weights_of(x, w), hard=hard,
                                     n_threads=_task_threads(n_threads), stats=True)
    return ll, nk, s1, s2


def _init_responsibilities(x, seeds, n_components, seed, n_threads):
    if seeds is None:
        return _random_blocks(x.shape[0], n_components, np.random.RandomState(seed))
    with single_threaded_blas():
        labels = nearest_labels(x, seeds, _task_threads(n_threads))
    return _one_hot_blocks(labels, n_components)


def _first_moments_block(x, w, seeds, n_components, seed, n_threads):
    blocks = _init_responsibilities(x, seeds, n_components, seed, n_threads)
    return first_moments(x, _weights_of(x, w), blocks, n_components)


def _second_moments_block(x, w, seeds, n_components, seed, means, covariance_type,
                          n_threads):
    blocks = _init_responsibilities(x, seeds, n_components, seed, n_threads)
    return second_moments(x, _weights_of(x, w), blocks, n_components,
                          covariance_type, means)


def _initial_parameters(est, data, means_init, random_state, block_wsum):
    """``_gmm_init.initial_parameters`` on the cluster (float64)."""
    k = est.n_components
    n_threads = est.n_threads
    init_params = est.init_params
    seed_blocks = Blocks([0] * len(data.xs))
    fallback = None
    if means_init is not None:
        seeds = means_init
    elif init_params == "kmeans":
        from ._kmeans import KMeans
        km = KMeans(k, n_init=1, random_state=random_state, n_threads=n_threads)
        init, n_init = _check_kmeans_params(km, data.array)
        # As in memory: labels of the last assignment, its centres as fallback.
        result = _kmeans_fit(km, data, init, n_init, random_state, quiet=True)
        seeds, fallback = result[5], result[2]
    elif init_params in ("k-means++", "random_from_data"):
        init = "k-means++" if init_params == "k-means++" else "random"
        seeds = seed_centers(data, k, init, block_wsum, random_state, n_threads)
    else:
        seeds = None
        seed_blocks = Blocks(random_state.randint(np.iinfo(np.int32).max,
                                                  size=len(data.xs)))
    engine = data.engine
    seeds_h = engine.put(None if seeds is None else
                         np.ascontiguousarray(seeds, dtype=data.dtype))
    nk, sx = data.run(_first_moments_block, seeds_h, k, seed_blocks, n_threads)
    if fallback is None:
        fallback = seeds if seeds is not None else np.zeros((k, data.n_features))
    means = means_from_moments(nk, sx, fallback)
    s1, s2 = data.run(_second_moments_block, seeds_h, k, seed_blocks,
                      engine.put(means), est.covariance_type, n_threads)
    return m_step(nk, s1, s2, means, est.covariance_type, est.reg_covar, est.variance)


def _gmm_initialize(est, data, weights_init, means_init, prec_init, random_state,
                    block_wsum):
    """``GaussianMixture._initialize`` with the data on the cluster."""
    return est._initial_state(
        lambda: _initial_parameters(est, data, means_init, random_state, block_wsum),
        weights_init, means_init, prec_init)


def _gmm_em(est, data, w_total, shift, weights, means, cov, prec_chol, hard, run):
    """``GaussianMixture._em`` with one round of block tasks per iteration."""
    def run_pass(model):
        ll, nk, s1, s2 = data.run(_em_block, data.engine.put(model), hard, est.n_threads)
        return ll, (nk, s1, s2)
    return est._em(run_pass, data.dtype, w_total, shift, weights, means, cov, prec_chol,
                   run)


def _gmm_labels_block(x, w, model, hard, n_threads):
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        model.run(x, _weights_of(x, w), hard=hard, n_threads=_task_threads(n_threads),
                  labels=labels)
    return labels


def fit_gaussian_mixture(est, X, sample_weight):
    """``GaussianMixture._fit`` for a Dask array or DataFrame; returns the
    labels as a Dask array computed on the workers."""
    names = _feature_names(X)
    X = as_dask_array(X)
    if est.n_threads is not None:
        check_int(est.n_threads, "n_threads", low=1)
    weights_init, means_init, prec_init = est._check_params(X)
    n_samples, n_features = X.shape
    warm = est._check_fit_shape(X)
    data = Data(X, as_dask_weight(sample_weight, X))
    random_state = check_random_state(est.random_state)
    w_total, shift, _, block_wsum = _summary(data)
    hard = est.assignment == "hard"
    cov_type = est.covariance_type
    n_init = 1 if warm else est.n_init

    best = None
    for run in range(n_init):
        if warm:
            weights = est.weights_.astype(np.float64)
            means = est.means_.astype(np.float64)
            cov = est.covariances_.astype(np.float64)
            prec_chol = est.precisions_cholesky_.astype(np.float64)
        else:
            weights, means, cov, prec_chol = _gmm_initialize(
                est, data, weights_init, means_init, prec_init, random_state,
                block_wsum)
        result = _gmm_em(est, data, w_total, shift, weights, means, cov, prec_chol,
                         hard, run)
        if best is None or result["lower_bound"] > best["lower_bound"]:
            best = result

    model = KernelModel(best["weights"], best["means"], best["prec_chol"], cov_type,
                        shift, X.dtype)
    engine = data.engine
    labels = engine.to_array(
        engine.map(_gmm_labels_block, data.xs, data.ws, engine.put(model), hard,
                   est.n_threads), data.chunks, np.int32)

    est._set_fitted(X, names, best, stacklevel=5)
    return labels


# ------------------------------------------------- mixture predictions
def _gmm_block(x, model, hard, n_threads, what):
    n = x.shape[0]
    out = {}
    if what == "labels":
        out["labels"] = np.empty(n, dtype=np.int32)
    elif what == "lse":
        out["lse"] = np.empty(n)
    else:
        out["resp"] = np.empty((n, model.mu.shape[0]), dtype=x.dtype)
    with single_threaded_blas():
        model.run(x, np.ones(n, dtype=x.dtype), hard=hard,
                  n_threads=_task_threads(n_threads), **out)
    return out[what]


def gmm_blockwise(est, X, method, what):
    """Lazy labels, log-likelihoods or responsibilities of a Dask X."""
    X = _test_array(est, X, method)
    model = dask.delayed(est._model(X.dtype), pure=False)
    hard = est.assignment == "hard"
    if what == "resp":
        return X.map_blocks(_gmm_block, model, hard, est.n_threads, what,
                            dtype=X.dtype, chunks=(X.chunks[0], (est.n_components,)))
    dtype = np.int32 if what == "labels" else np.float64
    return X.map_blocks(_gmm_block, model, hard, est.n_threads, what, dtype=dtype,
                        drop_axis=1)


def gmm_score(est, X, sample_weight=None):
    """Mean (weighted) log-likelihood per sample of a Dask X (a number)."""
    lse = gmm_blockwise(est, X, "score", "lse")
    if sample_weight is None:
        return float(lse.mean().compute())
    w = as_dask_weight(sample_weight, as_dask_array(X))
    total, wsum = dask.compute((w.astype(np.float64) * lse).sum(),
                               w.astype(np.float64).sum())
    return float(total / wsum)
