"""Input validation for every estimator: the kernels trust what passes here.

Each failure is a ``ValueError`` or ``TypeError`` whose message names the
argument and says what to do about it.
"""
import numbers
import sys
import warnings

import numpy as np

FLOAT_DTYPES = (np.float64, np.float32)


def _is_dataframe(X):
    """A pandas (or pandas-like: modin) DataFrame."""
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def _is_lazy_frame(X):
    """A query not yet run: a polars LazyFrame, or a frame narwhals reads as
    lazy (but not a Dask collection, which the Dask engine fits)."""
    if type(X).__name__ == "LazyFrame":
        return True
    if is_dask_collection(X):
        return False
    nw = _narwhals_for(X)
    return nw is not None and nw.dependencies.is_into_lazyframe(X)


def _narwhals_for(X):
    """narwhals (which scikit-learn depends on) when X is not a NumPy array or
    a Python sequence, else None: array input never pays for the import."""
    if isinstance(X, (np.ndarray, list, tuple, numbers.Number, str, bytes)) \
            or _is_sparse(X):
        return None
    try:
        import narwhals
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return None
    return narwhals


def _other_frame(X):
    """X as a narwhals DataFrame when it is an eager data frame other than
    pandas (polars, a pyarrow Table, and whatever else narwhals reads, as
    scikit-learn takes them), else None."""
    if _is_dataframe(X):
        return None
    nw = _narwhals_for(X)
    if nw is None or not nw.dependencies.is_into_dataframe(X):
        return None
    return nw.from_native(X, eager_only=True)


def check_not_lazy(X, name="X"):
    """Refuse a lazy frame: its rows do not exist until the query runs."""
    if _is_lazy_frame(X):
        raise TypeError(
            f"{name} is a {type(X).__module__.partition('.')[0]} {type(X).__name__}, "
            "a query that has not been run; call .collect() on it and pass the "
            "DataFrame it returns.")


def feature_names_of(X):
    """Column names of a data frame (pandas, polars, a pyarrow Table, ...)
    when they are all strings, else None."""
    check_not_lazy(X)
    if _is_dataframe(X):
        return feature_names_from_columns(X.columns)
    frame = _other_frame(X)
    if frame is None:
        return None
    return feature_names_from_columns(frame.columns)


def feature_names_from_columns(columns):
    """``columns`` as an object array when they are all strings, else None."""
    names = np.asarray(columns, dtype=object)
    if len(names) == 0:
        return None
    kinds = {isinstance(n, str) for n in names}
    if kinds == {True}:
        return names
    if kinds == {True, False}:
        raise TypeError(
            "X has feature names that are a mix of strings and other types; "
            "convert all column names to strings, e.g. X.columns = "
            "X.columns.astype(str)."
        )
    return None


def _is_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def fit_dtype(arr_dtype, dtype=None):
    """The float dtype data of ``arr_dtype`` is used in: ``dtype`` when given,
    float32 and float64 as they are, float64 for other numbers."""
    if dtype is not None:
        return np.dtype(dtype)
    return np.dtype(arr_dtype) if arr_dtype in FLOAT_DTYPES else np.dtype(np.float64)


def as_float_array(X, *, name="X", dtype=None, ensure_2d=True, ensure_min_samples=1,
                   ensure_min_features=1, allow_sparse=False, check_values=True,
                   convert=True):
    """Return X as a C-contiguous float32 or float64 array, copying at most once.

    ``check_values=False`` leaves the NaN/infinity check to the caller (a fit
    does it in the pass that takes the data's moments, saving a read of X).
    ``convert=False`` checks X but returns its array as it is (any numeric
    dtype and layout): a caller that converts a block of rows at a time
    (``_blocks.BlockRows``, to ``fit_dtype(X.dtype, dtype)``) never copies
    X whole.

    float32 and float64 input keep their dtype (unless ``dtype`` is given);
    other numeric input becomes float64.  Lists, DataFrames, memory-mapped,
    Fortran-ordered and strided arrays are accepted.  The caller's array is
    never modified (a view is returned only when no conversion is needed).
    """
    if _is_sparse(X) and not allow_sparse:
        raise TypeError(
            f"{name} is a sparse matrix, which this estimator does not accept; "
            f"convert it with {name}.toarray() if it fits in memory."
        )
    check_not_lazy(X, name)
    if _is_dataframe(X):
        try:
            X = X.to_numpy()
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric: {exc}") from None
    else:
        frame = _other_frame(X)
        if frame is not None:
            X = frame.to_numpy()    # strings become objects, refused below
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a string.")
    arr = X if isinstance(X, np.ndarray) else None
    if arr is None:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} could not be read as a numeric array ({exc}); pass a "
                "2-D array of numbers of equal-length rows."
            ) from None
    if np.iscomplexobj(arr):
        raise ValueError(
            f"Complex data not supported: {name} contains complex numbers; pass "
            f"the real part ({name}.real) or the modulus (abs({name}))."
        )
    if arr.dtype.names is not None:
        raise ValueError(
            f"{name} is a structured (record) array with fields "
            f"{list(arr.dtype.names)}; clustering needs a plain 2-D array of "
            "numbers: convert it first, e.g. with "
            f"numpy.lib.recfunctions.structured_to_unstructured({name})."
        )
    if arr.dtype.kind in "USV":
        raise ValueError(
            f"{name} contains strings ({arr.dtype}); clustering needs numbers: "
            "encode the categorical columns first."
        )
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:
            pd = sys.modules.get("pandas")
            if pd is not None and any(v is pd.NA for v in arr.flat):
                raise ValueError(
                    f"{name} contains missing values (NA): values must be finite "
                    "numbers; impute them first, e.g. with "
                    "sklearn.impute.SimpleImputer, or drop those rows (for a "
                    f"DataFrame: {name}.dropna())."
                ) from None
            raise TypeError(
                f"{name} must contain only numbers ({exc}); encode or drop the "
                "non-numeric values."
            ) from None
        except ValueError as exc:
            raise ValueError(
                f"{name} must contain only numbers ({exc}); encode or drop the "
                "non-numeric values."
            ) from None
    elif arr.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {arr.dtype}, which is not numeric; pass an array "
            "of floats or integers."
        )
    if ensure_2d:
        if arr.ndim == 0:
            raise ValueError(
                f"Expected a 2-D array for {name}, got a scalar; pass an array "
                "of shape (n_samples, n_features)."
            )
        if arr.ndim == 1:
            raise ValueError(
                f"Expected a 2-D array for {name}, got a 1-D array of shape "
                f"{arr.shape}. Reshape your data with {name}.reshape(-1, 1) if "
                "it has a single feature or with "
                f"{name}.reshape(1, -1) if it is a single sample."
            )
        if arr.ndim > 2:
            raise ValueError(
                f"Expected a 2-D array for {name}, got {arr.ndim} dimensions "
                f"(shape {arr.shape}); reshape it to (n_samples, n_features)."
            )
        if arr.shape[0] < ensure_min_samples:
            raise ValueError(
                f"Found array with {arr.shape[0]} sample(s) (shape={arr.shape}) "
                f"while a minimum of {ensure_min_samples} is required: {name} "
                "must have at least that many rows."
            )
        if arr.shape[1] < ensure_min_features:
            raise ValueError(
                f"Found array with {arr.shape[1]} feature(s) (shape={arr.shape}) "
                f"while a minimum of {ensure_min_features} is required: {name} "
                "must have at least that many columns."
            )
    if convert:
        arr = np.ascontiguousarray(arr, dtype=fit_dtype(arr.dtype, dtype))
    if check_values:
        check_finite(arr, name)
    return arr


# Values per block of ``check_finite``: its temporaries stay a few MiB.
FINITE_BLOCK_VALUES = 1 << 20


def check_finite(arr, name):
    """Raise a ValueError naming ``name`` if arr holds NaN or infinity.

    A block of rows at a time (``arr`` may be any array that slices by rows,
    such as a ``_blocks.BlockRows``), so no temporary as large as arr is made.
    """
    if arr.ndim == 0 or arr.shape[0] == 0:
        return
    per_row = int(np.prod(arr.shape[1:], dtype=np.int64))
    rows = max(1, FINITE_BLOCK_VALUES // max(per_row, 1))
    what = None
    for start in range(0, arr.shape[0], rows):
        what = _non_finite(arr[start:start + rows])
        if what is not None:
            break
    if what is None:
        return
    raise ValueError(
        f"{name} contains {what} (values must be finite: no NaN or inf); remove "
        "those rows or impute the missing values first, e.g. with "
        "sklearn.impute.SimpleImputer."
    )


def _non_finite(block):
    """"NaN" or "infinity" when ``block`` holds one, else None."""
    if block.dtype.kind not in "fc":
        return None
    # np.sum is cheap and propagates NaN/inf; only on failure find which.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(block, axis=None, dtype=np.float64)
    if np.isfinite(total):
        return None
    if np.isnan(block).any():
        return "NaN"
    if np.isinf(block).any():
        return "infinity"
    return None     # finite values whose sum overflows float64


def check_sample_weight(sample_weight, n_samples, dtype, *, with_unit=False):
    """Return sample weights as a new C-contiguous array of ``dtype``.

    None gives ones.  Weights must be finite, non-negative, of shape
    (n_samples,), not all zero, and their sum must be finite in float64.
    They are checked in float64, before any rounding to ``dtype``.

    With ``with_unit`` the result is ``(weights / unit, unit)`` for a power
    of two ``unit`` that brings the largest weight into [1, 2): exact, and
    it keeps float32 weights and the kernels' float64 sums away from
    overflow and underflow whatever the weights' scale.  Multiply what the
    weights sum up (an inertia) by ``unit`` to get it in the caller's scale.
    """
    if sample_weight is None:
        sw = np.ones(n_samples, dtype=np.float64)
    elif isinstance(sample_weight, numbers.Number) and not isinstance(sample_weight, bool):
        sw = np.full(n_samples, sample_weight, dtype=np.float64)
    else:
        sw = as_float_array(sample_weight, name="sample_weight", dtype=np.float64,
                            ensure_2d=False)
        if sw.ndim != 1 or sw.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight.shape == {sw.shape}, expected ({n_samples},): "
                "give one weight per row of X."
            )
    check_finite(sw, "sample_weight")
    if (sw < 0).any():
        raise ValueError(
            "sample_weight contains negative values; weights must be >= 0 "
            "(use 0 to leave a row out)."
        )
    top = float(sw.max()) if sw.size else 0.0
    if not top > 0:
        raise ValueError(
            "sample_weight sums to zero; at least one row needs a positive weight."
        )
    with np.errstate(over="ignore"):
        total = float(np.sum(sw))
    if not np.isfinite(total):
        raise ValueError(
            "sample_weight sums to more than the largest float64; only the "
            "ratios of the weights matter, so divide them by a constant "
            "(e.g. sample_weight / sample_weight.max())."
        )
    if not with_unit:
        return sw.astype(dtype)
    exponent = int(np.frexp(top)[1]) - 1          # top / 2**exponent in [1, 2)
    unit = float(np.ldexp(1.0, exponent))
    return np.ldexp(sw, -exponent).astype(dtype), unit


def check_random_state(seed):
    """A numpy RandomState from None, an int or a RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if not 0 <= seed < 2**32:
            raise ValueError(
                f"random_state={seed} is out of range; use an integer in [0, 2**32)."
            )
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.RandomState(seed.integers(2**32, dtype=np.uint64))
    raise ValueError(
        f"random_state={seed!r} cannot seed a random generator; use None, an "
        "integer or a numpy.random.RandomState."
    )


def check_int(value, name, *, low=None, high=None, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if low is not None and value < low:
        raise ValueError(f"{name}={value} is too small; it must be >= {low}.")
    if high is not None and value > high:
        raise ValueError(f"{name}={value} is too large; it must be <= {high}.")
    return int(value)


def check_bool(value, name):
    """``value`` as a bool; True, False and NumPy booleans are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def check_verbose(value):
    """``verbose`` as an int >= 0; True and False count as 1 and 0, as in
    scikit-learn."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return check_int(value, "verbose", low=0)


def check_real(value, name, *, low=None, low_inclusive=True, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}={value} must be finite.")
    if low is not None:
        if (value < low) if low_inclusive else (value <= low):
            op = ">=" if low_inclusive else ">"
            raise ValueError(f"{name}={value} is out of range; it must be {op} {low}.")
    if high is not None and value > high:
        raise ValueError(f"{name}={value} is out of range; it must be <= {high}.")
    return value


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}={value!r} is not supported; choose one of {options}.")
    return value


def check_features(estimator, X, names, *, reset):
    """Record (reset=True) or check n_features_in_ and feature_names_in_."""
    n_features = X.shape[1]
    cls = type(estimator).__name__
    if reset:
        estimator.n_features_in_ = n_features
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None or names is not None:
        if names is None:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted "
                "with feature names", UserWarning, stacklevel=3)
        elif fitted_names is None:
            warnings.warn(
                f"X has feature names, but {cls} was fitted without feature "
                "names", UserWarning, stacklevel=3)
        elif len(names) != len(fitted_names) or np.any(names != fitted_names):
            unexpected = sorted(set(names) - set(fitted_names))
            missing = sorted(set(fitted_names) - set(names))
            detail = ""
            if unexpected:
                detail += f"Feature names unseen at fit time: {unexpected[:5]}\n"
            if missing:
                detail += f"Feature names seen at fit time, yet now missing: {missing[:5]}\n"
            if not detail:
                detail = "Feature names must be in the same order as they were in fit.\n"
            raise ValueError(
                "The feature names should match those that were passed during "
                "fit.\n" + detail)
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {cls} is expecting "
            f"{estimator.n_features_in_} features as input; pass data with the "
            "columns the model was fitted on."
        )


def is_sparse(X):
    """True for a scipy.sparse matrix or array."""
    return _is_sparse(X)


def as_float_csr(X, *, name="X", dtype=None):
    """Return X as a canonical float32/float64 CSR matrix, copying at most once.

    CSC, COO and the other formats are converted once; duplicates are summed
    and column indices sorted on our copy only (the caller's matrix is never
    modified).  float32 and float64 keep their dtype unless ``dtype`` is
    given; other numeric types become float64.  Values must be finite.
    """
    import scipy.sparse as sp

    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D sparse matrix for {name}, got {X.ndim} dimension(s).")
    if X.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} contains complex numbers; pass "
            f"the real part ({name}.real) or the modulus (abs({name}))."
        )
    if X.dtype.kind not in "fiub":
        raise TypeError(
            f"{name} has dtype {X.dtype}, which is not numeric; pass a sparse "
            "matrix of floats or integers."
        )
    if dtype is None:
        dtype = X.dtype if X.dtype in FLOAT_DTYPES else np.float64
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            f"is required: {name} must have at least that many rows."
        )
    if X.shape[1] < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
            f"is required: {name} must have at least that many columns."
        )
    fmt = X.format
    if fmt == "csr":
        _check_csr_structure(X, name)    # before scipy itself reads the arrays
        csr = X.astype(dtype, copy=False)
        owned = csr is not X
    else:
        csr = X.tocsr().astype(dtype, copy=False)
        owned = True
    if not csr.has_canonical_format:
        if not owned:
            csr = csr.copy()
        csr.sum_duplicates()   # also sorts the indices
    if not isinstance(csr, (sp.csr_matrix, sp.csr_array)):
        csr = sp.csr_matrix(csr)
    check_finite(csr.data, name)
    return csr


def _check_csr_structure(csr, name):
    """The kernels index by ``indices`` and ``indptr``: a matrix whose arrays
    were changed after it was built must not send them out of bounds."""
    indptr, indices = csr.indptr, csr.indices
    n_rows, n_cols = csr.shape
    ok = (indptr.shape == (n_rows + 1,) and indptr[0] == 0
          and indptr[-1] == indices.shape[0] == csr.data.shape[0]
          and bool(np.all(np.diff(indptr) >= 0)))
    if ok and indices.size:
        ok = 0 <= int(indices.min()) and int(indices.max()) < n_cols
    if not ok:
        raise ValueError(
            f"{name} is a damaged sparse matrix: its indptr or column indices do "
            "not describe its shape (were its arrays changed after it was "
            "built?); rebuild it, e.g. with scipy.sparse.csr_matrix((data, "
            "indices, indptr), shape=shape), which checks them.")


def is_dask_collection(X):
    """True for a Dask array or DataFrame, found without importing Dask."""
    return type(X).__module__.partition(".")[0] in ("dask", "dask_expr")


def check_mixture_rows(estimator, X, fitted_attribute):
    """X's rows against a mixture's ``n_components``, and its columns against
    the model a warm start would continue; whether a previous fit (one with
    ``fitted_attribute``) may warm start, before its type is compared."""
    n_samples, n_features = X.shape
    k = estimator.n_components
    if n_samples < k:
        raise ValueError(
            f"n_samples={n_samples} should be >= n_components={k}: lower "
            "n_components or pass more rows.")
    warm = estimator.warm_start and hasattr(estimator, fitted_attribute)
    if warm and estimator.means_.shape[1] != n_features:
        raise ValueError(
            f"X has {n_features} features, but the warm start model has "
            f"{estimator.means_.shape[1]}; pass data with the same columns or set "
            "warm_start=False.")
    return warm


def mixture_outputs(estimator, X, method, *, labels=False, resp=False, check_values=True):
    """X checked for a fitted mixture's ``method`` (float, finite, its
    features), and the arrays its pass fills: (X, {"lse": log-likelihoods,
    "labels", "resp"} as asked).  The log-likelihoods are always asked for:
    a non-finite one marks a row the kernel could not score (far from every
    component), or a row holding NaN or infinity: with
    ``check_values=False`` the caller checks those rows (``check_finite``)
    after the pass instead of X before it."""
    estimator._check_is_fitted(method, "means_")
    names = feature_names_of(X)
    X = as_float_array(X, check_values=check_values)
    check_features(estimator, X, names, reset=False)
    n = X.shape[0]
    out = {"lse": np.empty(n)}
    if labels:
        out["labels"] = np.empty(n, dtype=np.int32)
    if resp:
        out["resp"] = np.empty((n, estimator.means_.shape[0]), dtype=X.dtype)
    return X, out
