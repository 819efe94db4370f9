"""The Dask engine: X (a Dask array of float32/float64 rows, one chunk across
the columns) and its weights persisted once as blocks of rows; every pass is
one round of block tasks whose statistics are added in a fixed tree, and the
step runs on the client with the in-memory code.

Every pass

1. sends the current parameters to the cluster once, as the data of one
   small task that the block tasks depend on (with no Client they stay in
   this process),
2. runs the kernel of the in-memory engine on every block; a block task
   returns that block's statistics, never per-sample data,
3. adds the blocks' statistics in a tree whose shape and order depend only
   on the number of blocks (``dask_runner.FAN_IN`` consecutive blocks per
   node).

Per-sample data never crosses the network after the persist.  Per-row state
(Hamerly's labels and bounds) lives with its block on the workers (see
``dask_bounds``); a worker lost mid-fit only means Dask recomputes the lost
blocks from their lineage and the blocks' bounds start over: time, never a
different result.

Seeding: ``init="k-means++"`` (the default) on a Dask array runs k-means||
(Bahmani et al., 2012) on the cluster -- ``n_rounds`` rounds that sample
about ``oversampling_factor * n_clusters`` rows each with probability
proportional to weight x squared distance -- then weights every candidate by
the rows nearest to it and reduces the candidates to ``n_clusters`` centres
locally with weighted k-means++ and Lloyd.  ``init="k-means||"`` is the same;
``init="k-means++-sample"`` runs plain k-means++ on a uniform sample of rows
gathered to the client.

This module imports Dask; ``import kmgmm`` does not import it.
"""
import copy
import hashlib

import numpy as np

from .. import _kernels
from .._conditioning import Moments, power_of_two_at_least, sums_about
from .._algorithms.mixture_moments import (
    first_moments, means_from_moments, one_hot_blocks, random_blocks, second_moments,
)
from .._assign import nearest_labels
from .._relocation import (
    CANDIDATES_PER_CLUSTER, MIN_CANDIDATES, RowChooser, distinct_keys, farthest_rows,
    row_keys,
)
from .._threads import effective_n_threads, single_threaded_blas
from .dask_bounds import BoundsBesideBlocks
from .dask_runner import (
    GATHER_BYTES, Blocks, add_in_tree, nbytes, runner, task_threads, weights_of,
)
from .dask_seeding import seed_centers



# ------------------------------------------------------------- block tasks
def _summary_block(x, w):
    """Total weight and rows of positive weight, and, as 1-tuples (so that
    the reduction keeps them per block): the total weight, the block's first
    row, the weighted sums of the rows' differences from it and of their
    squares, and the smallest and largest value of each feature."""
    w = weights_of(x, w)
    origin = x[0].astype(np.float64) if x.shape[0] else np.zeros(x.shape[1])
    wsum, sum1, sum2, _, _ = sums_about(x, w, origin)
    return (wsum, int(np.count_nonzero(w > 0)), (wsum,), (origin,), (sum1,), (sum2,),
            (x.min(axis=0),), (x.max(axis=0),))


def _variance_block(x, w, mean, unit):
    w = weights_of(x, w).astype(np.float64)
    diff = x.astype(np.float64) - mean
    diff /= unit
    return (w @ (diff * diff),)


def _conditioned_block(x, cond):
    return cond.transform_block(x, x.dtype)


def _lloyd_block(x, w, centers, n_threads):
    """One Lloyd pass over a block: sums, weights, inertia, a digest of the labels."""
    k, d = centers.shape
    labels = np.empty(x.shape[0], dtype=np.int32)
    sums = np.empty((k, d))
    weights = np.empty(k)
    with single_threaded_blas():
        inertia = _kernels.lloyd.lloyd_pass(x, weights_of(x, w), centers, labels,
                                            sums=sums, weights=weights,
                                            n_threads=task_threads(n_threads))
    digest = hashlib.blake2b(labels.tobytes(), digest_size=16).digest()
    return sums, weights, inertia, (digest,)


def _labels_block(x, w, centers, n_threads):
    """Labels, inertia and rows per cluster of a block."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        inertia = _kernels.lloyd.lloyd_pass(x, weights_of(x, w), centers, labels,
                                            n_threads=task_threads(n_threads))
    return labels, (inertia, np.bincount(labels, minlength=centers.shape[0]))


def _block_labels(x, w, centers, n_threads):
    """Labels and squared distances of a block's rows under ``centers``."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    min_sqdist = np.empty(x.shape[0], dtype=x.dtype)
    with single_threaded_blas():
        _kernels.lloyd.lloyd_pass(x, w, centers, labels, min_sqdist=min_sqdist,
                                  n_threads=task_threads(n_threads))
    return labels, min_sqdist


def _farthest_block(x, w, centers, n_take, offset, n_threads):
    """The block's ``n_take`` rows of positive weight farthest from their centre,
    at positive distance (ties by index; all rows tied with the last one too)."""
    w = weights_of(x, w)
    labels, min_sqdist = _block_labels(x, w, centers, n_threads)
    dist = np.where(w > 0, min_sqdist.astype(np.float64), 0.0)
    rows = farthest_rows(dist, n_take)
    return (dist[rows], offset + rows, x[rows], labels[rows], w[rows])


def _distinct_block(x, w, centers, clusters, caps, n_threads):
    """For each cluster, the keys of up to ``cap`` distinct values among the
    block's rows of positive weight in it."""
    w = weights_of(x, w)
    labels, _ = _block_labels(x, w, centers, n_threads)
    positive = w > 0
    return [distinct_keys(x, np.flatnonzero((labels == a) & positive), cap)
            for a, cap in zip(clusters, caps)]


def _em_block(x, w, model, hard, n_threads):
    """One EM pass over a block: log-likelihood and the statistics about
    ``model.moment_means`` (additive over blocks for a fixed model)."""
    with single_threaded_blas():
        ll, (nk, s1, s2) = model.run(x, weights_of(x, w), hard=hard,
                                     n_threads=task_threads(n_threads), stats=True)
    return ll, nk, s1, s2


def _init_responsibilities(x, seeds, n_components, seed, n_threads):
    if seeds is None:
        return random_blocks(x.shape[0], n_components, np.random.RandomState(seed))
    with single_threaded_blas():
        labels = nearest_labels(x, seeds, task_threads(n_threads))[0]
    return one_hot_blocks(labels, n_components)


def _first_moments_block(x, w, seeds, n_components, seed, n_threads):
    blocks = _init_responsibilities(x, seeds, n_components, seed, n_threads)
    return first_moments(x, weights_of(x, w), blocks, n_components)


def _second_moments_block(x, w, seeds, n_components, seed, means, covariance_type,
                          n_threads):
    blocks = _init_responsibilities(x, seeds, n_components, seed, n_threads)
    return second_moments(x, weights_of(x, w), blocks, n_components,
                          covariance_type, means)


def _gmm_labels_block(x, w, model, hard, n_threads):
    labels = np.empty(x.shape[0], dtype=np.int32)
    with single_threaded_blas():
        model.run(x, weights_of(x, w), hard=hard, n_threads=task_threads(n_threads),
                  labels=labels)
    return labels



def _stat_bytes(n_numbers):
    """Bytes of a block's statistics of about ``n_numbers`` float64 numbers
    (None: unknown)."""
    return None if n_numbers is None else 8 * int(n_numbers) + 1024


# ------------------------------------------------------------- the engine
class DaskEngine(BoundsBesideBlocks):
    """X and its sample weights as persisted blocks of rows (see the module)."""

    keeps_labels = False    # labels are made by a last pass, as a Dask array
    sparse = False
    # The seedings offered: "k-means++" and "k-means||" are k-means||.
    inits = ("k-means++", "k-means||", "k-means++-sample", "random")

    def __init__(self, X, sample_weight, n_threads):
        self.array = X
        self.runner = runner()
        self.xs = self.runner.blocks(X)
        ws = self.runner.blocks(sample_weight)
        self.ws = ws if ws is not None else Blocks([None] * len(self.xs))
        self.chunks = X.chunks[0]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunks)[:-1]]).astype(np.intp)
        self.shape = X.shape
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.n_threads = n_threads
        self._summary = None
        self._digests = None
        self._token = None
        self._places = None
        self._forget_bounds()
        self._labels = None
        self._counts = None

    def reset(self):
        """Forget the per-row state of a previous run."""
        self.release()
        self._digests = self._labels = self._counts = None

    @property
    def local_threads(self):
        """Threads for the work an algorithm does between passes (here)."""
        return effective_n_threads(None)

    @property
    def source(self):
        """X, as a user's ``init`` callable is given it."""
        return self.array

    def run(self, fn, *args, per_block=None):
        """fn(x, w, *args) on every block; its statistics added in the tree.
        ``per_block``: about how many numbers one block's statistics hold."""
        part_nbytes = _stat_bytes(per_block)
        if part_nbytes is not None and part_nbytes * len(self.xs) <= GATHER_BYTES:
            return add_in_tree(self.runner.run_near(self.places(), fn, self.xs, self.ws,
                                                    *args))
        return self.runner.reduce(self.runner.map(fn, self.xs, self.ws, *args),
                                  part_nbytes=part_nbytes)

    def places(self):
        """Where each block's data is (see ``dask_runner``), looked up once."""
        if self._places is None:
            self._places = self.runner.places(self.xs)
        return self._places

    # ----------------------------------------------------------- the data
    def summary(self):
        """(total weight, weighted mean, rows of positive weight, total weight
        per block, smallest and largest value of each feature, weighted sum of
        squared differences from the mean per feature (None where float64
        cannot hold it well)), from one pass, once."""
        if self._summary is None:
            wsum, n_positive, block_wsum, origins, sums1, sums2, lows, highs = self.run(
                _summary_block, per_block=5 * self.n_features)
            if not wsum > 0:
                raise ValueError("sample_weight sums to zero; at least one row needs "
                                 "a positive weight.")
            if not np.isfinite(wsum):
                raise ValueError(
                    "sample_weight sums to more than the largest float64; only the "
                    "ratios of the weights matter, so divide them by a constant.")
            lo = np.min(np.asarray(lows, dtype=np.float64), axis=0)
            hi = np.max(np.asarray(highs, dtype=np.float64), axis=0)
            block_wsum = np.asarray(block_wsum)
            origins, sums1, sums2 = (np.asarray(a) for a in (origins, sums1, sums2))
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                # Each block's sums are about its own first row; moved to the
                # first block's, then to the mean (Chan et al.'s combination).
                # (The offset from the first row is kept apart from the mean,
                # which rounds to X's magnitude.)
                to_first = origins - origins[0]
                offset = (sums1.sum(axis=0) + block_wsum @ to_first) / wsum
                mean = np.clip(origins[0] + offset, lo, hi)
                delta = offset - to_first
                m2 = (sums2.sum(axis=0) - 2 * np.einsum("bf,bf->f", delta, sums1)
                      + block_wsum @ (delta * delta))
            if not np.all(np.isfinite(mean)):
                raise ValueError("X's values are too close to the largest float64 to "
                                 "be averaged; rescale X (divide it by a constant).")
            spread = float(np.max(np.maximum(hi - mean, mean - lo)))
            if not (np.all(np.isfinite(m2)) and 2.0 ** -500 < wsum < 2.0 ** 500
                    and (spread == 0 or 2.0 ** -200 < spread < 2.0 ** 200)):
                m2 = None       # squares near float64's limits: moments() recounts
            else:
                m2 = np.maximum(m2, 0.0)
            self._summary = (wsum, mean, n_positive, block_wsum, lo, hi, m2)
        return self._summary

    @property
    def n_positive(self):
        return self.summary()[2]

    @property
    def total_weight(self):
        return self.summary()[0]

    def moments(self):
        """``_conditioning.weighted_moments`` of the blocks (a second pass only
        for data whose squares are near float64's limits)."""
        wsum, mean, _, _, lo, hi, m2 = self.summary()
        spread = float(np.max(np.maximum(hi - mean, mean - lo)))
        reach = float(max(np.abs(lo).max(), np.abs(hi).max()))
        unit = power_of_two_at_least(spread) if spread > 0 else 1.0
        if m2 is None:
            (m2,) = self.run(_variance_block, self.runner.put(mean), unit,
                             per_block=self.n_features)
        else:
            m2 = m2 / (unit * unit)
        return Moments(mean=mean, variance=float(np.mean(m2 / wsum)), unit=unit,
                       spread=spread, reach=reach)

    def conditioned(self, cond, *, copy_x=True):
        """The same data with its blocks transformed by ``cond`` on the workers
        (``self`` when there is nothing to do); the blocks are always new
        (``copy_x`` has no effect)."""
        if cond.identity:
            return self
        new = copy.copy(self)
        new.xs = self.runner.map(_conditioned_block, self.xs, self.runner.put(cond))
        new._places = None
        new._summary = None
        new.reset()
        return new

    def restore(self):
        """Nothing to undo: ``conditioned`` never changes the blocks."""

    # ------------------------------------------------------------ seeding
    def seed(self, init, n_clusters, random_state):
        """Initial centres for one of ``inits``."""
        block_wsum = self.summary()[3]
        return seed_centers(self, n_clusters, init, block_wsum, random_state,
                            self.n_threads)

    # ------------------------------------------------------- Lloyd passes
    def lloyd_pass(self, centers, *, want_inertia=True):
        sums, weights, inertia, digests = self.run(
            _lloyd_block, self.runner.put(np.ascontiguousarray(centers, dtype=self.dtype)),
            self.n_threads, per_block=centers.size + 2 * len(centers))
        changed = 0 if digests == self._digests else 1
        self._digests = digests
        return sums, weights, inertia, changed

    def relocation_rows(self, centers, n_empty):
        """Rows for ``n_empty`` empty clusters under the rules of
        ``_relocation``: the farthest rows of every block are gathered and
        taken as in memory; the clusters they come from count their distinct
        values over the blocks.  A batch that leaves clusters empty is
        followed by a larger one (only where many candidates were skipped)."""
        runner = self.runner
        centers_h = runner.put(np.ascontiguousarray(centers, dtype=self.dtype))
        chooser = RowChooser(n_empty)
        seen = {}       # cluster -> candidates fed from it
        known = {}      # cluster -> (distinct keys found over the blocks, cap asked)
        n_take = max(CANDIDATES_PER_CLUSTER * n_empty, MIN_CANDIDATES)
        done = 0
        picked = []
        while not chooser.full:
            parts = runner.run_near(self.places(), _farthest_block, self.xs, self.ws,
                                    centers_h, n_take, Blocks(self.offsets), self.n_threads)
            dist, index, rows, labels, w = (np.concatenate(c) for c in zip(*parts))
            order = np.lexsort((index, -dist))
            exhausted = all(len(p[0]) < n_take for p in parts)
            if not exhausted:
                # The blocks' lists hold every row down to the n_take-th
                # overall (and those tied with it): beyond, the merged order
                # has gaps.
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
                found = runner.run_near(self.places(), _distinct_block, self.xs, self.ws,
                                        centers_h, ask, caps, self.n_threads)
                for j, a in enumerate(ask):
                    known[a] = (set().union(*(block[j] for block in found)), caps[j])
            taken = len(chooser.rows)
            chooser.feed(batch, labels[batch], row_keys(rows, batch),
                         lambda a, m: len(known[a][0]) >= m)
            picked.extend((int(index[i]), int(labels[i]), float(w[i]),
                           rows[i].astype(np.float64)) for i in chooser.rows[taken:])
            if exhausted or done >= self.n_positive:
                break
            n_take *= 4
        return picked

    def assign(self, centers):
        """Labels (a Dask array, kept for ``result_labels``) and the inertia."""
        parts = self.runner.map(
            _labels_block, self.xs, self.ws,
            self.runner.put(np.ascontiguousarray(centers, dtype=self.dtype)),
            self.n_threads)
        inertia, self._counts = self.runner.reduce(self.runner.item(parts, 1),
                                                   part_nbytes=_stat_bytes(len(centers)))
        self._labels = self.runner.to_array(self.runner.item(parts, 0), self.chunks,
                                            np.int32)
        return inertia

    def result_labels(self):
        return self._labels

    def counts(self, n_clusters):
        return self._counts

    # ---------------------------------------------------------- EM passes
    def em_pass(self, model, hard, scatter=None):
        # (``scatter`` is not kept: each block's tied scatter is computed again
        # on its worker.)
        ll, nk, s1, s2 = self.run(_em_block, self.runner.put(model), hard, self.n_threads,
                                  per_block=nbytes(model) // 8)
        return ll, (nk, s1, s2)

    def em_labels(self, model, hard):
        return self.runner.to_array(
            self.runner.map(_gmm_labels_block, self.xs, self.ws, self.runner.put(model),
                            hard, self.n_threads), self.chunks, np.int32)

    def mixture_moments(self, seeds, n_components, covariance_type, random_state, shift,
                        labels=None):
        """Statistics of the initial responsibilities (nearest of ``seeds``, or
        random ones when None), block by block: (nk, s1, s2, means)."""
        k = n_components
        if seeds is None:
            seed_blocks = Blocks(random_state.randint(np.iinfo(np.int32).max,
                                                      size=len(self.xs)))
        else:
            seed_blocks = Blocks([0] * len(self.xs))
        seeds_h = self.runner.put(None if seeds is None else
                                  np.ascontiguousarray(seeds, dtype=self.dtype))
        nk, sx = self.run(_first_moments_block, seeds_h, k, seed_blocks, self.n_threads,
                          per_block=k * (self.n_features + 1))
        fallback = seeds if seeds is not None else np.zeros((k, self.n_features))
        means = means_from_moments(nk, sx, fallback)
        s1, s2 = self.run(_second_moments_block, seeds_h, k, seed_blocks,
                          self.runner.put(means), covariance_type, self.n_threads,
                          per_block=k * self.n_features * (self.n_features + 1))
        return nk, s1, s2, means
