"""Which rows the empty clusters of a k-means pass move onto.

Every k-means loop relocates the same way (``_kmeans.relocate_empty_clusters``
for dense and CSR data, ``_dask`` over blocks of rows): each empty cluster
takes one of the rows farthest from their centres, by decreasing squared
distance with ties by row index, rows of zero weight never.  Three rules keep
a relocation from opening a cluster that the next pass empties again:

1. a row at zero distance from its centre is never taken (a centre is there
   already);
2. a row identical to one already taken in the same relocation is skipped
   (the two clusters would share a centre);
3. from a cluster whose rows of positive weight hold m distinct values, at
   most m - 1 rows are taken, so that it keeps a value none of them has.

Without them, data with duplicate rows makes the relocation oscillate: a
cluster of identical rows has its mean a rounding error away from them, so
they sit at a tiny positive distance, one of them opens an empty cluster at
the same place, the next pass sends the rows back to one of the two (ties go
to the lower index) and the other is empty again, until ``max_iter``.  With
the rules, a relocated row always leaves its cluster with a different value,
so it lowers the inertia, and on such data the fit stops with fewer non-empty
clusters than asked (``KMeans`` warns).

Rows are compared by value (float64, -0.0 equal to 0.0; a CSR row by its
non-zero entries), never through a computed distance, so the choice depends
on the data only.
"""
import numpy as np

# Rows per block when the distinct values of a cluster are counted.
ROWS_PER_BLOCK = 4096
# Rows of the first piece distinct_keys reads: enough that well-spread data
# answer a small cap at once.
FIRST_KEY_ROWS = 16

# The first batch of candidates holds this many per empty cluster (later
# batches, needed only where many candidates are skipped, four times more).
CANDIDATES_PER_CLUSTER = 2
MIN_CANDIDATES = 16


def farthest_rows(dist, n_take):
    """Indices of the rows of positive ``dist`` by decreasing distance (ties by
    index): the first ``n_take``, and any other tied with the last of them.

    A prefix of the full order, so batches of growing ``n_take`` continue
    each other.
    """
    rows = np.flatnonzero(dist > 0)
    if n_take < rows.size:
        d = dist[rows]
        threshold = np.partition(d, d.size - n_take)[d.size - n_take]
        rows = rows[d >= threshold]
    return rows[np.lexsort((rows, -dist[rows]))]


def row_keys(X, rows):
    """One bytes key per row of ``X[rows]``: equal keys for equal values."""
    rows = np.asarray(rows, dtype=np.intp)
    if not hasattr(X, "indptr"):
        block = X[rows].astype(np.float64) + 0.0     # -0.0 becomes 0.0
        return [r.tobytes() for r in block]
    keys = []
    sub = X[rows]
    for i in range(rows.size):
        start, stop = sub.indptr[i], sub.indptr[i + 1]
        data = sub.data[start:stop].astype(np.float64)
        nonzero = data != 0
        index = sub.indices[start:stop][nonzero].astype(np.int64)
        keys.append(index.size.to_bytes(8, "little") + index.tobytes()
                    + data[nonzero].tobytes())
    return keys


def distinct_keys(X, rows, cap, seen=None):
    """Keys of the distinct values of ``X[rows]`` (counting stops at ``cap``).

    The rows are read in pieces that start small and grow (``cap`` is often
    1 or 2, and the first few rows answer): the answer is whether at least
    ``cap`` distinct values exist, never which ones were met first.
    """
    seen = set() if seen is None else seen
    start, step = 0, max(FIRST_KEY_ROWS, 2 * cap)
    while start < rows.size and len(seen) < cap:
        block = rows[start:start + step]
        start += step
        step = min(4 * step, ROWS_PER_BLOCK)
        if not hasattr(X, "indptr"):
            values = X[block].astype(np.float64) + 0.0     # -0.0 becomes 0.0
            seen.update(r.tobytes() for r in values)
        else:
            seen.update(row_keys(X, block))
    return seen


class RowChooser:
    """Takes candidates, fed in batches in decreasing-distance order, under
    the rules of this module until ``n_empty`` rows are taken.

    ``feed`` gets the candidates' indices, labels and keys and a function
    ``has_distinct(cluster, m)``: whether the cluster's rows of positive
    weight hold at least m distinct values (asked with m at most one more
    than the cluster's candidates fed so far).
    """

    def __init__(self, n_empty):
        self.n_empty = n_empty
        self.rows = []          # indices taken, in order
        self.taken = set()      # their keys
        self.picks = {}         # cluster -> rows taken from it
        self.closed = set()     # clusters that may give no more rows

    @property
    def full(self):
        return len(self.rows) >= self.n_empty

    def feed(self, rows, labels, keys, has_distinct):
        for row, cluster, key in zip(rows, labels, keys):
            if self.full:
                return
            cluster = int(cluster)
            if key in self.taken or cluster in self.closed:
                continue
            n = self.picks.get(cluster, 0)
            # Taking this row leaves n + 1 distinct values out of the cluster.
            if not has_distinct(cluster, n + 2):
                self.closed.add(cluster)
                continue
            self.taken.add(key)
            self.picks[cluster] = n + 1
            self.rows.append(int(row))


def choose_rows(X, sample_weight, labels, min_sqdist, n_empty):
    """The rows (indices into X, at most ``n_empty``) the empty clusters take.

    ``labels`` and ``min_sqdist`` are each row's cluster and squared
    distance to its centre in the pass; X is dense or CSR.
    """
    positive = sample_weight > 0
    dist = np.where(positive, min_sqdist.astype(np.float64), 0.0)
    n_candidates = int(np.count_nonzero(dist > 0))
    members = {}
    by_cluster = []         # rows of positive weight sorted by cluster, once needed

    def rows_of(cluster):
        if cluster not in members:
            if len(members) < 8:
                members[cluster] = np.flatnonzero((labels == cluster) & positive)
            else:
                if not by_cluster:
                    rows = np.flatnonzero(positive)
                    rows = rows[np.argsort(labels[rows], kind="stable")]
                    by_cluster.append((rows, labels[rows]))
                rows, sorted_labels = by_cluster[0]
                lo, hi = np.searchsorted(sorted_labels, [cluster, cluster + 1])
                members[cluster] = rows[lo:hi]
        return members[cluster]

    counted = {}            # cluster -> (keys found, whether all were found)

    def has_distinct(cluster, m):
        keys, complete = counted.get(cluster, (None, False))
        if keys is None or (len(keys) < m and not complete):
            keys = distinct_keys(X, rows_of(cluster), m)
            counted[cluster] = (keys, len(keys) < m)
        return len(keys) >= m

    chooser = RowChooser(n_empty)
    n_take = max(CANDIDATES_PER_CLUSTER * n_empty, MIN_CANDIDATES)
    done = 0
    while done < n_candidates and not chooser.full:
        order = farthest_rows(dist, n_take)
        batch = order[done:]
        chooser.feed(batch, labels[batch], row_keys(X, batch), has_distinct)
        done = order.size
        n_take *= 4
    return chooser.rows
