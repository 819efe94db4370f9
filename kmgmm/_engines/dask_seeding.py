"""Seeding on the Dask engine: k-means|| (Bahmani et al., 2012) over the
blocks, and k-means++ or random rows on a uniform sample gathered to the
client."""
import numpy as np

from .. import _kernels
from .._algorithms.lloyd import lloyd
from .._algorithms.seeding import canonical_order, kmeans_plusplus, random_rows
from .._threads import effective_n_threads, single_threaded_blas
from .dask_runner import Blocks, task_threads, weights_of
from .memory import MemoryEngine

# k-means|| settings: rounds, and rows sampled per round per cluster.
N_ROUNDS = 5
OVERSAMPLING_FACTOR = 2.0

# Rows gathered for init="k-means++-sample" and "random": at least this many,
# or 100 per cluster.
SAMPLE_ROWS = 10_000


def _nearest_block(x, w, state, centers, n_threads):
    """k-means||: each row's squared distance to the candidates so far, and the
    weighted cost (``state`` is this block's previous result, or None)."""
    labels = np.empty(x.shape[0], dtype=np.int32)
    sqdist = np.empty(x.shape[0], dtype=x.dtype)
    with single_threaded_blas():
        _kernels.lloyd.lloyd_pass(x, weights_of(x, w), centers, labels, min_sqdist=sqdist,
                                  n_threads=task_threads(n_threads))
    closest = sqdist.astype(np.float64)
    if state is not None:
        closest = np.minimum(state[0], closest)
    return closest, (float(weights_of(x, w).astype(np.float64) @ closest),)


def _oversample_block(x, w, state, cost, ell, seed):
    """k-means||: rows drawn with probability min(1, ell * w * d^2 / cost)."""
    p = ell * weights_of(x, w).astype(np.float64) * state[0] / cost
    u = np.random.RandomState(seed).uniform(size=x.shape[0])
    return x[u < p]


def _uniform_sample_block(x, w, rate, seed):
    """Rows kept with probability ``rate``, with their weights."""
    keep = np.random.RandomState(seed).uniform(size=x.shape[0]) < rate
    return x[keep], weights_of(x, w)[keep]


def _draw_row_block(x, w, value):
    """The row where the block's cumulative weight first exceeds ``value``."""
    w = weights_of(x, w).astype(np.float64)
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
        _kernels.lloyd.lloyd_pass(x, weights_of(x, w), candidates, labels, sums=sums,
                                  weights=weights, n_threads=task_threads(n_threads))
    return (weights,)


def kmeans_parallel(data, n_clusters, block_wsum, random_state, n_threads, *,
                    n_rounds=N_ROUNDS, oversampling_factor=OVERSAMPLING_FACTOR):
    """k-means|| seeding (Bahmani et al., 2012); returns centres in X's dtype."""
    runner = data.runner
    # The first centre: one row drawn with probability proportional to weight.
    value = random_state.uniform() * block_wsum.sum()
    b = min(int(np.searchsorted(np.cumsum(block_wsum), value, side="right")),
            len(block_wsum) - 1)
    while block_wsum[b] <= 0:
        b -= 1
    value -= block_wsum[:b].sum()
    first = runner.gather(runner.map(_draw_row_block, Blocks([data.xs[b]]),
                                     Blocks([data.ws[b]]), value))[0]
    candidates = [np.asarray(first, dtype=data.dtype)[None]]
    ell = oversampling_factor * n_clusters
    state = Blocks([None] * len(data.xs))
    new = candidates[0]
    for _ in range(n_rounds):
        state = runner.map(_nearest_block, data.xs, data.ws, state, runner.put(new),
                           n_threads)
        cost = runner.reduce(runner.item(state, 1))[0]
        if not cost > 0:
            break
        seeds = Blocks(random_state.randint(np.iinfo(np.int32).max, size=len(data.xs)))
        drawn = runner.gather(runner.map(_oversample_block, data.xs, data.ws, state,
                                         cost, ell, seeds))
        new = np.ascontiguousarray(np.concatenate(drawn), dtype=data.dtype)
        if new.shape[0] == 0:
            continue
        candidates.append(new)
    cand = np.ascontiguousarray(np.concatenate(candidates), dtype=data.dtype)
    if cand.shape[0] < n_clusters:
        return None
    (cand_w,) = data.run(_candidate_weight_block, runner.put(cand), n_threads)
    cand_w = cand_w.astype(data.dtype)
    n_local = effective_n_threads(None)
    with single_threaded_blas():
        centers, _ = kmeans_plusplus(cand, n_clusters, cand_w, random_state,
                                     canonical_order(cand), n_threads=n_local)
        centers = lloyd(MemoryEngine(cand, cand_w, n_local), centers, max_iter=100,
                        tol=0.0)[1]
    return centers


def _sample(data, n_clusters, random_state):
    """A uniform sample of at least SAMPLE_ROWS rows (all rows if fewer)."""
    target = max(SAMPLE_ROWS, 100 * n_clusters)
    rate = min(1.0, target / data.n_samples)
    seeds = Blocks(random_state.randint(np.iinfo(np.int32).max, size=len(data.xs)))
    parts = data.runner.gather(data.runner.map(_uniform_sample_block, data.xs,
                                               data.ws, rate, seeds))
    rows = np.ascontiguousarray(np.concatenate([p[0] for p in parts]), dtype=data.dtype)
    w = np.ascontiguousarray(np.concatenate([p[1] for p in parts]), dtype=data.dtype)
    return rows, w


def seed_centers(data, n_clusters, init, block_wsum, random_state, n_threads):
    """Initial centres for one of ``DaskEngine.inits``."""
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





