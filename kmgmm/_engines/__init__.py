"""Engines: where the data lives and how one pass over it runs.

An engine holds X and its sample weights, runs one pass of a kernel over its
rows and returns the pass's sufficient statistics; the algorithms
(``kmgmm._algorithms``) drive the passes and do each step.  ``MemoryEngine``
takes a dense array or a CSR matrix in this process; ``DaskEngine``
(``_engines.dask``, imported only for Dask input) persisted blocks on a
cluster.  A new engine (a stream of batches, say) implements the same
methods: ``lloyd_pass``, ``assign``, ``relocation_rows``, ``hamerly_pass``
and its companions, ``em_pass``, ``em_labels``, ``mixture_moments``,
``seed``, ``moments`` and ``conditioned``.
"""
from .._blocks import fit_rows, is_memory_mapped
from .._threads import effective_n_threads
from .._validation import (
    as_float_array, as_float_csr, check_int, check_sample_weight, fit_dtype,
    is_dask_collection, is_sparse,
)
from .memory import MemoryEngine


def make_engine(X, sample_weight, n_threads, *, allow_sparse=True, dtype=None):
    """The engine for X as the estimators take it, X validated.

    Returns (engine, unit): the sample weights are scaled by a power of two
    (``check_sample_weight(with_unit=True)``); ``unit`` is what a weighted
    sum over the rows (an inertia) is multiplied by to be in the caller's
    scale.  Dask input keeps its weights as given (``unit`` 1).
    """
    if is_dask_collection(X):
        from .dask_collections import as_dask_array, as_dask_weight
        from .dask import DaskEngine

        if n_threads is not None:
            check_int(n_threads, "n_threads", low=1)
        X = as_dask_array(X)
        return DaskEngine(X, as_dask_weight(sample_weight, X), n_threads), 1.0
    if is_sparse(X):
        if not allow_sparse:
            as_float_array(X)       # raises the estimator's sparse TypeError
        X = as_float_csr(X, dtype=dtype)
    else:
        # The values are checked (NaN, infinity) by the engine's first read
        # of X, the pass that takes its moments (``weighted_moments``).  A
        # memory-mapped X is never copied whole: where it is not already
        # C-contiguous float32/float64 (or not ``dtype``), the engine converts
        # a block of rows at a time (``_blocks``).
        mapped = is_memory_mapped(X)
        X = as_float_array(X, dtype=dtype, check_values=False, convert=not mapped)
        if mapped:
            X = fit_rows(X, fit_dtype(X.dtype, dtype))
    weights, unit = check_sample_weight(sample_weight, X.shape[0], X.dtype,
                                        with_unit=True)
    return MemoryEngine(X, weights, effective_n_threads(n_threads), unit), unit
