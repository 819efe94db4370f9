"""Mini-batch k-means over data read a block of rows at a time: what
``kmgmm fit --mini-batch`` runs on a data file of any size.

X is any 2-D array that can be sliced by rows (a ``np.load(...,
mmap_mode="r")`` memory map, say): it is never read whole.  The seeding
reads ``init_size`` rows drawn at random (in file order); then every pass
visits the blocks of ``block_rows`` contiguous rows in a random order, reads
and checks one block, shuffles its rows, and steps through it a batch at a
time.  The shift and scale of the data (``_conditioning``) come from the
seeding's rows.  A pass reads the file once, forwards within each block.
"""
import numpy as np

from ._algorithms.minibatch import EarlyStopping, MiniBatchState, minibatch_step
from ._conditioning import for_data, weighted_moments
from ._engines.batches import Batch, ThreadChoice
from ._threads import effective_n_threads, single_threaded_blas
from ._validation import (
    as_float_array, check_features, check_random_state, check_sample_weight,
)

# Bytes of data per block: the block and its shuffled copy stay small
# against the memory of any machine that runs a fit.
BLOCK_BYTES = 64 << 20


def fit_dtype(X):
    """The dtype a fit on X runs in: X's float dtype, float64 for integers."""
    return np.dtype(X.dtype) if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def block_rows_for(n_features, dtype, batch_size, block_bytes=BLOCK_BYTES):
    """Rows per block: about ``block_bytes``, a whole number of batches."""
    per_batch = batch_size * n_features * np.dtype(dtype).itemsize
    return batch_size * max(1, block_bytes // per_batch)


def _read(X, start, stop, dtype):
    """Rows start:stop of X (still a view of a memory map), checked (NaN,
    infinity)."""
    try:
        return as_float_array(X[start:stop], dtype=dtype)
    except ValueError as exc:
        raise ValueError(f"rows {start} to {stop - 1}: {exc}") from None


def shuffled_blocks(X, sample_weight, block_rows, dtype, random_state):
    """One pass over X: its blocks of ``block_rows`` contiguous rows in a
    random order, each read and checked (``_read``) and its rows shuffled.
    Yields (block, its weights), both in the shuffled order.

    ``random_state`` draws the order of the blocks when the first block is
    asked for, and each block's order when it is read.  The shuffled rows
    are written into one buffer, reused from block to block (so a pass holds
    one block in memory, not two while the next is read): the caller must be
    done with a block before it asks for the next.
    """
    n_samples = X.shape[0]
    starts = np.arange(0, n_samples, block_rows)
    buffer = None
    for start in starts[random_state.permutation(starts.shape[0])]:
        stop = min(start + block_rows, n_samples)
        block = _read(X, start, stop, dtype)
        order = random_state.permutation(stop - start)
        if buffer is None:
            buffer = np.empty((min(block_rows, n_samples), X.shape[1]), dtype=block.dtype)
        # mode="clip" (the indices are in range) writes into ``out`` directly;
        # the default would fill a temporary of the block's size first.
        shuffled = np.take(block, order, axis=0, out=buffer[:stop - start], mode="clip")
        del block
        yield shuffled, sample_weight[start:stop][order]


def fit_stream(estimator, X, sample_weight=None, *, passes=1, block_rows=None,
               callback=None):
    """Fit the MiniBatchKMeans ``estimator`` on X, ``passes`` passes over it.

    ``callback(n_pass, step, n_steps, batch_inertia)``, when given, is
    called after every step with the batch's inertia per unit of weight, in
    the data's units; an exception it raises ends the fit, and the estimator
    then holds the model of the steps done (so does it after any error
    between two steps), which the exception leaves to the caller to keep or
    not.  ``inertia_`` is the smoothed batch inertia times the total weight
    (an estimate; ``labels_and_inertia`` computes it exactly).  Returns the
    estimator.
    """
    n_samples, n_features = X.shape
    dtype = fit_dtype(X)
    shape_only = np.broadcast_to(np.zeros((), dtype=dtype), (1, n_features))
    init, n_init = estimator._check_params(shape_only)
    estimator._check_n_samples(n_samples)
    random_state = check_random_state(estimator.random_state)
    n_threads = effective_n_threads(estimator.n_threads)
    sample_weight, unit = check_sample_weight(sample_weight, n_samples, dtype,
                                              with_unit=True)
    batch_size, init_size = estimator._sizes(n_samples)
    if block_rows is None:
        block_rows = block_rows_for(n_features, dtype, batch_size)
    block_rows = max(block_rows, batch_size)

    positive = np.flatnonzero(sample_weight > 0)
    rows = np.sort(positive[random_state.randint(0, positive.shape[0], init_size)])
    try:
        sample = as_float_array(X[rows], dtype=dtype)
    except ValueError as exc:
        raise ValueError(f"the rows drawn for the seeding: {exc}") from None
    cond = for_data(weighted_moments(sample, sample_weight[rows]), dtype)
    with single_threaded_blas():
        centers = estimator._seed(sample, sample_weight[rows], cond, init, n_init,
                                  init_size, random_state, n_threads, unit)
    state = MiniBatchState(centers)
    check_features(estimator, shape_only, None, reset=True)
    estimator._store(state, cond, unit, random_state, dtype)
    for name in ("labels_", "inertia_", "n_iter_"):
        estimator.__dict__.pop(name, None)

    starts = np.arange(0, n_samples, block_rows)
    per_pass = sum(-(-min(block_rows, n_samples - s) // batch_size) for s in starts)
    n_steps = passes * per_pass
    stopping = EarlyStopping(n_samples, batch_size, max_no_improvement=None, tol=0.0)
    buffers = {"labels": np.empty(batch_size, dtype=np.int32)}
    threads = ThreadChoice(n_threads)
    factor = cond.squared_factor()
    total_weight = float(sample_weight.sum(dtype=np.float64))
    step = 0
    try:
        with single_threaded_blas():
            for n_pass in range(1, passes + 1):
                for block, weights in shuffled_blocks(X, sample_weight, block_rows, dtype,
                                                      random_state):
                    if not cond.identity:
                        block = cond.transform_block(block, dtype)
                    for b in range(0, block.shape[0], batch_size):
                        batch = Batch(block[b:b + batch_size], weights[b:b + batch_size],
                                      threads, buffers=buffers)
                        inertia, _ = minibatch_step(
                            batch, state, dtype,
                            reassignment_ratio=estimator.reassignment_ratio,
                            random_state=random_state, verbose=estimator.verbose)
                        step += 1
                        if batch.total_weight > 0:
                            mean = inertia / batch.total_weight
                            stopping.update(step, n_steps, mean, 0.0)
                            if callback is not None:
                                callback(n_pass, step, n_steps, mean * factor)
    finally:
        estimator._publish()
        estimator.n_steps_ = step
        estimator.n_iter_ = -(-step // per_pass)
        if stopping.smoothed is not None:
            estimator.inertia_ = float(stopping.smoothed * factor * total_weight * unit)
    return estimator


def read_chunks(X, dtype, chunk_rows, check=None):
    """(start, stop, rows) for consecutive chunks of ``chunk_rows`` rows of X,
    each read and checked (``_read``); ``check(start)``, when given, is
    called before each chunk (the command line's Ctrl-C check)."""
    for start in range(0, X.shape[0], chunk_rows):
        if check is not None:
            check(start)
        stop = min(start + chunk_rows, X.shape[0])
        yield start, stop, _read(X, start, stop, dtype)


def labels_and_inertia(estimator, X, sample_weight=None, *, chunk_rows=1 << 16,
                       check=None):
    """Labels of every row of X and its exact inertia, a chunk at a time.

    ``check(start)``, when given, is called before each chunk (the command
    line's Ctrl-C check).
    """
    n_samples = X.shape[0]
    dtype = estimator.cluster_centers_.dtype
    labels = np.empty(n_samples, dtype=np.int32)
    inertia = 0.0
    for start, stop, block in read_chunks(X, dtype, chunk_rows, check):
        w = None if sample_weight is None else sample_weight[start:stop]
        labels[start:stop], chunk = estimator._assign(block, w)
        inertia += float(chunk)
    return labels, inertia
