"""Online EM over data read a block of rows at a time: what ``kmgmm fit
--model gmm --mini-batch`` runs on a data file of any size.

X is any 2-D array that can be sliced by rows (a ``np.load(...,
mmap_mode="r")`` memory map, say): it is never read whole.  A mixture that
does not continue a fitted one starts with ``partial_fit`` on a seeding
sample of about ``max(batch_size, 3 * n_components)`` distinct rows drawn at
random from the whole file (read in file order): it initialises the mixture
as ``fit`` would (``init_params``, by default k-means on those rows, the best
of ``n_init`` kept) and takes the first online-EM step on them.  Then every
pass visits the blocks of rows (about ``ONLINE_BLOCK_BYTES``, a whole number
of batches) in a random order, each block's rows shuffled
(``_minibatch_stream.shuffled_blocks``, as the k-means stream does), and
steps through each block a batch at a time.  Online EM weighs every batch
alike, so a block's last batch, when it is shorter than half a batch, joins
the batch before it.  Every random draw comes from ``random_state`` (the
estimator's), so a seed gives the same model.
"""
import numpy as np

from ._minibatch_stream import block_rows_for, fit_dtype, read_chunks, shuffled_blocks
from ._validation import as_float_array, check_random_state, check_sample_weight

# Bytes of data per block: a pass holds one block in memory, beside the
# interpreter and the batch's step; 16 MB still reads the file in long runs.
ONLINE_BLOCK_BYTES = 16 << 20


def batch_bounds(n_rows, batch_size):
    """(start, stop) of each batch of a block of ``n_rows`` rows."""
    starts = list(range(0, n_rows, batch_size))
    if len(starts) > 1 and 2 * (n_rows - starts[-1]) < batch_size:
        starts.pop()           # a short tail joins the batch before it
    return list(zip(starts, starts[1:] + [n_rows]))


def seeding_rows(n_samples, sample_weight, size, random_state):
    """Sorted distinct rows of positive weight for the first step: all of
    them when there are at most ``size``, else the distinct ones among
    ``size`` drawn at random (without the O(n_samples) permutation a draw
    without replacement would take)."""
    pool = None if sample_weight is None else np.flatnonzero(sample_weight > 0)
    n_pool = n_samples if pool is None else pool.shape[0]
    if n_pool <= size:
        return np.arange(n_samples) if pool is None else pool
    rows = np.unique(random_state.randint(0, n_pool, size))
    return rows if pool is None else pool[rows]


def continues(gm):
    """Whether ``gm`` is a fitted mixture that partial_fit continues."""
    return hasattr(gm, "means_")


def fit_gmm_stream(gm, X, sample_weight=None, *, batch_size, passes=1, block_rows=None,
                   callback=None, random_state=None):
    """``passes`` passes of online EM (``gm.partial_fit``) over X.

    ``callback(n_pass, step, n_steps, batch_log_likelihood)``, when given, is
    called after every step (``n_pass`` 0 for the seeding step) with the
    batch's mean log-likelihood under the parameters before the step; an
    exception it raises ends the fit, and ``gm`` then holds the model of the
    steps done (so it does after any error between two steps).  A fitted
    ``gm`` (a loaded model) is continued, without a seeding step.  The
    seeding sample and the order of the blocks and rows are drawn from
    ``random_state`` (default ``gm.random_state``).

    Returns a dict: ``estimate``, the mean log-likelihood per unit of
    weight estimated from the batches' mean log-likelihoods over the last
    pass, weighted by the batches' total weights (each batch is scored by
    the parameters before its step; ``labels_and_score`` computes it
    exactly); ``seeding_rows``, the rows of the seeding step (0 when ``gm``
    continued a fitted mixture); ``steps``, the steps taken.
    """
    n_samples = X.shape[0]
    dtype = gm.means_.dtype if continues(gm) else fit_dtype(X)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, n_samples, np.float64)
    weights = (np.broadcast_to(np.float64(1.0), (n_samples,)) if sample_weight is None
               else sample_weight)
    if block_rows is None:
        block_rows = block_rows_for(X.shape[1], dtype, batch_size, ONLINE_BLOCK_BYTES)
    block_rows = max(block_rows, batch_size)
    random_state = check_random_state(gm.random_state if random_state is None
                                      else random_state)
    per_pass = sum(len(batch_bounds(min(block_rows, n_samples - start), batch_size))
                   for start in range(0, n_samples, block_rows))
    seeding = not continues(gm)
    n_steps = int(seeding) + passes * per_pass
    step = taken = 0
    total_ll = total_w = 0.0
    rows = ()

    def run(batch, w, n_pass):
        nonlocal step, taken, total_ll, total_w
        step += 1
        weight = float(w.sum(dtype=np.float64))
        if weight <= 0:          # nothing to learn from (partial_fit refuses it)
            return
        gm.partial_fit(batch, sample_weight=w)
        taken += 1
        total_ll += gm.lower_bound_ * weight
        total_w += weight
        if callback is not None:
            callback(n_pass, step, n_steps, gm.lower_bound_)

    if seeding:
        rows = seeding_rows(n_samples, sample_weight, max(batch_size, 3 * gm.n_components),
                            random_state)
        try:
            sample = as_float_array(X[rows], dtype=dtype)
        except ValueError as exc:
            raise ValueError(f"the rows drawn for the seeding: {exc}") from None
        run(sample, np.ascontiguousarray(weights[rows]), 0)
    for n_pass in range(1, passes + 1):
        total_ll = total_w = 0.0
        for block, w in shuffled_blocks(X, weights, block_rows, dtype, random_state):
            for start, stop in batch_bounds(block.shape[0], batch_size):
                run(block[start:stop], w[start:stop], n_pass)
    return {"estimate": total_ll / total_w if total_w > 0 else float("nan"),
            "seeding_rows": len(rows), "steps": taken}


def labels_and_score(gm, X, sample_weight=None, *, chunk_rows=1 << 16, check=None):
    """Labels of every row of X and the exact mean log-likelihood per unit
    of weight, a chunk of rows at a time (one pass of the kernel per chunk).

    ``check(start)``, when given, is called before each chunk (the command
    line's Ctrl-C check).
    """
    n_samples = X.shape[0]
    dtype = gm.means_.dtype
    labels = np.empty(n_samples, dtype=np.int32)
    total_ll = total_w = 0.0
    for start, stop, block in read_chunks(X, dtype, chunk_rows, check):
        out = gm._pass(block, "score_samples", lse=True, labels=True)
        labels[start:stop] = out["labels"]
        if sample_weight is None:
            total_ll += float(out["lse"].sum())
            total_w += stop - start
        else:
            w = np.asarray(sample_weight[start:stop], dtype=np.float64)
            total_ll += float(w @ out["lse"])
            total_w += float(w.sum())
    return labels, total_ll / total_w
