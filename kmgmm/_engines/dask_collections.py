"""Dask collections as the estimators take them: a Dask array or DataFrame
checked and converted block by block (NaN and infinity are found when the
blocks are computed), and sample weights with X's row chunks."""
import dask.array as da
import numpy as np

from .._validation import as_float_array, check_finite, feature_names_from_columns


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
