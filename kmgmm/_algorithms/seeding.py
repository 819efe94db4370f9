"""Seeding for k-means: greedy k-means++ and random rows, both weighted.

Every random draw picks a row by inverse CDF over cumulative weights taken in
a canonical row order (rows sorted by a fixed random projection).  The draw
then depends on the rows and their weights, not on their order or on how a
weight is spelled: a row with integer weight w is chosen exactly as if it
were repeated w times, and a row with weight 0 is never chosen.
"""
import numpy as np

from .. import _kernels
from .._blocks import row_blocks
from .._validation import is_sparse

# Rows per block when a computation over X needs a float64 temporary.
ROWS_PER_BLOCK = 4096

_PROJECTION_SEED = 20121120


def canonical_order(X):
    """A permutation of the rows of X that depends on their values only.

    Rows are sorted by their projection on a fixed random direction.  The
    projection is a plain sum over features in a fixed order, so equal rows
    get bit-identical keys wherever they sit in X; the sort is stable.
    """
    n_samples, n_features = X.shape
    direction = np.random.RandomState(_PROJECTION_SEED).standard_normal(n_features)
    if is_sparse(X):
        # The non-zeros in column order: the same sum as below without its zeros.
        data, indices, indptr = csr_arrays(X)
        key = _kernels.sparse.sparse_projection(data, indices, indptr, direction)
        return np.argsort(key, kind="stable")
    key = np.zeros(n_samples, dtype=np.float64)
    for start in range(0, n_samples, ROWS_PER_BLOCK):
        block = X[start:start + ROWS_PER_BLOCK]
        out = key[start:start + ROWS_PER_BLOCK]
        for j in range(n_features):
            out += block[:, j] * direction[j]
    return np.argsort(key, kind="stable")


def row_sqnorms(X):
    """Squared norm of every row, in float64."""
    if is_sparse(X):
        data, _, indptr = csr_arrays(X)
        return _kernels.sparse.sparse_row_sqnorms(data, indptr)
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], ROWS_PER_BLOCK):
        block = X[start:start + ROWS_PER_BLOCK].astype(np.float64, copy=False)
        out[start:start + ROWS_PER_BLOCK] = np.einsum("ij,ij->i", block, block)
    return out


def csr_arrays(X):
    """(data, indices as C int, indptr as intp) of a canonical CSR matrix."""
    return X.data, np.asarray(X.indices, dtype=np.intc), np.asarray(X.indptr, dtype=np.intp)


def take_rows(X, rows):
    """Rows of a dense array or a CSR matrix as a dense array of X's dtype."""
    if is_sparse(X):
        return X[np.asarray(rows)].toarray()
    return X[rows]


class InverseCDF:
    """Draw rows by inverse CDF over cumulative weights in a canonical order.

    The rows are cut into contiguous runs of the canonical order; a draw
    first finds its run from the runs' totals (one bincount over the
    weights, in row order), then scans only that run.  That picks the same
    row as a cumulative sum over all rows in canonical order, without
    gathering every weight into that order for each draw.
    """

    def __init__(self, order, n_runs=1024):
        self.order = order
        n = len(order)
        self.run_length = max(1, -(-n // n_runs))
        self.run_of_row = np.empty(n, dtype=np.intp)
        self.run_of_row[order] = np.arange(n) // self.run_length
        self.n_runs = -(-n // self.run_length)

    def draw(self, weights, values):
        """Rows whose cumulative weight first exceeds each of ``values``."""
        run_totals = np.bincount(self.run_of_row, weights=weights, minlength=self.n_runs)
        return np.array([self.draw_in(weights, run_totals, value) for value in values],
                        dtype=np.intp)

    def draw_in(self, weights, run_totals, value):
        """The row whose cumulative weight first exceeds ``value``, given the
        runs' totals of ``weights`` (kept up to date by a caller that changes
        the weights between draws)."""
        totals = np.cumsum(run_totals)
        run = min(int(np.searchsorted(totals, value, side="right")), self.n_runs - 1)
        members = self.order[run * self.run_length:(run + 1) * self.run_length]
        w = weights[members]
        before = totals[run - 1] if run > 0 else 0.0
        j = int(np.searchsorted(before + np.cumsum(w), value, side="right"))
        if j >= len(members) or w[j] <= 0:
            # Rounding put the value at the very end: take the last row of
            # positive weight rather than one that must not be drawn.
            positive = np.flatnonzero(w > 0)
            j = positive[-1] if positive.size else len(members) - 1
        return members[j]


def kmeans_plusplus(X, n_clusters, sample_weight, random_state, order,
                    x_sqnorms=None, n_local_trials=None, n_threads=1):
    """Greedy k-means++ (Arthur & Vassilvitskii, 2007) with sample weights.

    Each new centre is the best of ``n_local_trials`` candidates drawn with
    probability proportional to weight x squared distance to the nearest
    centre so far; "best" is the one that lowers the weighted potential most.
    Returns (centers, indices) where centers has X's dtype.
    """
    n_samples, n_features = X.shape
    if x_sqnorms is None:
        x_sqnorms = row_sqnorms(X)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    w = sample_weight.astype(np.float64, copy=False)
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.empty(n_clusters, dtype=np.intp)

    sparse = is_sparse(X)
    if sparse:
        csr = csr_arrays(X)

    def step(rows, closest, update, kept=None):
        cand = np.ascontiguousarray(take_rows(X, rows), dtype=np.float64)
        if sparse:
            return _kernels.sparse.sparse_candidate_potentials(
                *csr, sample_weight, x_sqnorms, closest, cand, update_closest=update,
                n_threads=n_threads)
        potentials = None
        for sl, rows_x in row_blocks(X):
            part = _kernels.seeding.candidate_potentials(
                rows_x, sample_weight[sl], x_sqnorms[sl], closest[sl], cand,
                update_closest=update, kept=None if kept is None else kept[:, sl],
                n_threads=n_threads)
            potentials = part if potentials is None else potentials + part
        return potentials

    def taken(row, closest, potential):
        """``row`` made a centre, ``closest`` already updated with it and
        ``potential`` the weighted sum of ``closest``: the potential left.
        Its own distance, a rounding error of the expansion rather than zero,
        is set to zero, so that it is never drawn again."""
        potential -= w[row] * closest[row]
        closest[row] = 0.0
        return max(potential, 0.0)

    def take(row, closest):
        return taken(row, closest, step([row], closest, True)[0])

    sampler = InverseCDF(order)
    first = sampler.draw(w, random_state.uniform(size=1) * w.sum())[0]
    centers[0] = take_rows(X, [first])[0]
    indices[0] = first
    closest = np.full(n_samples, np.inf)
    potential = take(first, closest)
    # X an array in memory: each candidate's new distances are kept from its
    # evaluation, and the chosen one's become ``closest``, when those
    # n_local_trials float64 a row are no more than a row of X holds (else,
    # e.g. for a few features, the second pass is cheap and the memory is
    # not).  Sparse X and the row blocks of a file (``BlockRows``: a few bytes
    # a row of state) compute them again.
    keep = (isinstance(X, np.ndarray)
            and n_local_trials * 8 <= X.itemsize * X.shape[1])
    kept = np.empty((n_local_trials, n_samples)) if keep else None

    for c in range(1, n_clusters):
        weights = w * closest
        if not potential > 0:
            # Every row of positive weight sits on a centre already: draw
            # among the rows of positive weight not yet chosen, each counting
            # once (never a row of weight 0 or one chosen before).  Counting
            # rows rather than their weights keeps the draw independent of
            # which of several equal rows an earlier draw took.
            weights = (w > 0).astype(np.float64)
            weights[indices[:c]] = 0.0
            potential = float(weights.sum())
        values = random_state.uniform(size=n_local_trials) * potential
        candidates = sampler.draw(weights, values)
        potentials = step(candidates, closest, False, kept)
        j = int(np.argmin(potentials))
        best = candidates[j]
        if kept is None:
            potential = take(best, closest)
        else:
            np.copyto(closest, kept[j])
            potential = taken(best, closest, potentials[j])
        centers[c] = take_rows(X, [best])[0]
        indices[c] = best
    return centers, indices


def random_rows(X, n_clusters, sample_weight, random_state, order, one=1.0):
    """n_clusters rows drawn one after another with probability proportional
    to weight, each draw taking one unit (``one``: the weight of a single row
    in ``sample_weight``'s scale) of the drawn row's weight (all of it when
    less is left).

    A row of integer weight w is drawn as one of w copies would be: the draws
    are exactly those on the data with the row repeated w times, so a row may
    be drawn more than once (as its copies would).  Returns (centers, indices).
    """
    w = sample_weight.astype(np.float64)
    positive = np.count_nonzero(w)
    if positive < n_clusters and w.sum() < n_clusters * one:
        raise ValueError(
            f"init='random' needs n_clusters={n_clusters} rows of positive "
            f"sample_weight (or weights adding up to that many), but only "
            f"{positive} have one; lower n_clusters or use init='k-means++'."
        )
    sampler = InverseCDF(order)
    totals = np.bincount(sampler.run_of_row, weights=w, minlength=sampler.n_runs)
    indices = np.empty(n_clusters, dtype=np.intp)
    for c in range(n_clusters):
        value = random_state.uniform() * totals.sum()
        row = sampler.draw_in(w, totals, value)
        indices[c] = row
        taken = min(w[row], one)
        w[row] -= taken
        totals[sampler.run_of_row[row]] -= taken
    return np.array(take_rows(X, indices), dtype=X.dtype), indices
