"""What a model file must hold, declared once: each estimator's fitted arrays
with their shapes, its scalars with their types, its array parameters, and
the checks of a header's parameters and arrays (``_model_files`` reads and
writes the files with them)."""
import importlib
import math
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from ._covariance import COVARIANCES

FORMAT_NAME = "kmgmm-model"
#: The newest format this kmgmm reads and writes.  Version 2 added the online-EM
#: state of a GaussianMixture (``online.*`` members and ``n_steps_``); a file
#: without that state is written as version 1, which older kmgmm reads.
FORMAT_VERSION = 2
ONLINE_FORMAT_VERSION = 2
ONLINE_PREFIX = "online."
HEADER_KEY = "__kmgmm__"
PARAM_PREFIX = "param."
#: The most bytes the JSON header of a model file may take.
MAX_HEADER_BYTES = 1 << 20
#: The most memory, in bytes, the arrays of one model file may take together.
#: A k-means model with 1 000 clusters of 100 000 float64 features takes 0.8 GB.
MAX_MODEL_BYTES = 1 << 30
#: The most members a model file may hold (it holds at most a dozen).
MAX_MEMBERS = 64
#: The most bytes a member's ``.npy`` header may take (NumPy's own limit).
_NPY_HEADER_LIMIT = 10_000
#: How far from 1 the norm of a stored spherical k-means centre may be (float32
#: rounding is about 1e-7).
UNIT_NORM_SLACK = 1e-4
_READ_CHUNK = 1 << 24

_JSON_SCALARS = (bool, int, float, str, type(None))
_FLOAT_DTYPES = tuple(np.dtype(f"{order}f{size}") for order in "<>" for size in (4, 8))
_FLOAT_NAMES = {dtype.str: dtype for dtype in _FLOAT_DTYPES}
_HEADER_DTYPE = np.dtype(np.uint8)
# Zip general-purpose flag bits: encrypted, compressed patched data, strong
# encryption.  None of them is in a file kmgmm writes.
_UNSUPPORTED_FLAGS = 0x1 | 0x20 | 0x40
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# What a damaged archive can raise from zipfile, zlib and numpy's npy reader.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, struct.error,
           NotImplementedError, RuntimeError, OverflowError, UnicodeDecodeError,
           KeyError, IndexError, ValueError, MemoryError, RecursionError,
           SyntaxError)


def _covariance_shape(params):
    """Shape of covariances_ / precisions_ / precisions_cholesky_ by type
    (None for an unknown type)."""
    name = params.get("covariance_type")
    cov = COVARIANCES.get(name) if isinstance(name, str) else None
    return None if cov is None else cov.shape_spec


def _moments_shape(params):
    """Second moments of the online-EM averages, by the type's moments
    (``CovarianceType.moments_shape``); None for an unknown type."""
    name = params.get("covariance_type")
    cov = COVARIANCES.get(name) if isinstance(name, str) else None
    return None if cov is None else {"full": ("k", "d", "d"), "tied": ("d", "d"),
                                     "diag": ("k", "d"), "none": (0,)}[cov.moments]


def _concentration_shape(params):
    """weight_concentration_: the Beta parameters (2, k) of a Dirichlet process,
    else the Dirichlet's (k,)."""
    kind = params.get("weight_concentration_prior_type", "dirichlet_process")
    return {"dirichlet_process": (2, "k"), "dirichlet_distribution": ("k",)}.get(kind)


def _dof_shape(params):
    """degrees_of_freedom_: one for tied, one per component otherwise."""
    shape = _covariance_shape(params)
    return None if shape is None else (() if params.get("covariance_type") == "tied"
                                       else ("k",))


def _covariance_prior_shape(params):
    """covariance_prior_ (and the parameter covariance_prior): a matrix for
    full and tied, variances for diag, one variance for spherical."""
    name = params.get("covariance_type", "full")
    return {"full": ("d", "d"), "tied": ("d", "d"), "diag": ("d",),
            "spherical": ()}.get(name) if isinstance(name, str) else None


@dataclass(frozen=True)
class ModelSpec:
    """What a model file stores for one estimator class.

    ``arrays`` maps each fitted array attribute to its shape: a tuple of
    ``"k"`` (the number of clusters, read from the parameter ``k_param``),
    ``"d"`` (``n_features_in_``), ``"n"`` (any length), or a function of the
    parameters returning such a tuple (None when the parameters are invalid).
    ``scalars`` maps each fitted scalar attribute to its Python type.
    ``param_arrays`` maps each parameter that may be an array to its shape,
    in the same terms.  ``k_array`` is the fitted array whose first dimension
    is the number of clusters.  ``optional_arrays`` and ``optional_scalars``
    may be absent; an optional array may have another float dtype than the
    other fitted arrays.  ``online_arrays`` (member names starting with
    ``ONLINE_PREFIX``) are the float64 state that ``partial_fit`` continues
    from: all of them or none, with the scalar ``n_steps_`` (``_model_online``
    checks their values).
    """

    module: str
    k_param: str
    k_array: str
    arrays: dict
    scalars: dict
    param_arrays: dict
    optional_arrays: tuple = field(default=())
    # Scalars a file may lack (written by an older kmgmm, or not fitted).
    optional_scalars: tuple = field(default=())
    online_arrays: dict = field(default_factory=dict)

    def estimator_class(self, name):
        return getattr(importlib.import_module(self.module), name)


MODELS = {
    "KMeans": ModelSpec(
        module="kmgmm._kmeans",
        k_param="n_clusters",
        k_array="cluster_centers_",
        arrays={"cluster_centers_": ("k", "d")},
        scalars={"inertia_": float, "n_iter_": int, "n_features_in_": int,
                 "converged_": bool},
        param_arrays={"init": ("k", "d")},
        optional_scalars=("converged_",),
    ),
    "SphericalKMeans": ModelSpec(
        module="kmgmm._spherical",
        k_param="n_clusters",
        k_array="cluster_centers_",
        arrays={"cluster_centers_": ("k", "d")},
        scalars={"inertia_": float, "n_iter_": int, "n_features_in_": int},
        param_arrays={"init": ("k", "d")},
    ),
    "MiniBatchKMeans": ModelSpec(
        module="kmgmm._minibatch",
        k_param="n_clusters",
        k_array="cluster_centers_",
        arrays={"cluster_centers_": ("k", "d"), "counts_": ("k",)},
        # partial_fit leaves no n_iter_, and no inertia_ without compute_labels
        scalars={"inertia_": float, "n_iter_": int, "n_steps_": int,
                 "n_features_in_": int},
        param_arrays={"init": ("k", "d")},
        optional_arrays=("counts_",),
        optional_scalars=("inertia_", "n_iter_"),
    ),
    "GaussianMixture": ModelSpec(
        module="kmgmm",
        k_param="n_components",
        k_array="means_",
        arrays={
            "weights_": ("k",),
            "means_": ("k", "d"),
            "covariances_": _covariance_shape,
            "precisions_": _covariance_shape,
            "precisions_cholesky_": _covariance_shape,
            "lower_bounds_": ("n",),
        },
        scalars={"converged_": bool, "n_iter_": int, "lower_bound_": float,
                 "n_features_in_": int, "n_steps_": int},
        param_arrays={"weights_init": ("k",), "means_init": ("k", "d"),
                      "precisions_init": _covariance_shape},
        optional_arrays=("lower_bounds_",),
        optional_scalars=("n_steps_",),
        # partial_fit's float64 parameters and averaged statistics
        # (``_algorithms.online_em.OnlineStatistics``).
        online_arrays={
            ONLINE_PREFIX + "weights": ("k",),
            ONLINE_PREFIX + "means": ("k", "d"),
            ONLINE_PREFIX + "covariances": _covariance_shape,
            ONLINE_PREFIX + "nk": ("k",),
            ONLINE_PREFIX + "s1": ("k", "d"),
            ONLINE_PREFIX + "s2": _moments_shape,
            ONLINE_PREFIX + "frame": ("k", "d"),
            ONLINE_PREFIX + "scale": (),
        },
    ),
    "BayesianGaussianMixture": ModelSpec(
        module="kmgmm",
        k_param="n_components",
        k_array="means_",
        arrays={
            "weights_": ("k",),
            "means_": ("k", "d"),
            "covariances_": _covariance_shape,
            "precisions_": _covariance_shape,
            "precisions_cholesky_": _covariance_shape,
            "weight_concentration_": _concentration_shape,
            "mean_precision_": ("k",),
            "degrees_of_freedom_": _dof_shape,
            "mean_prior_": ("d",),
            "covariance_prior_": _covariance_prior_shape,
            "lower_bounds_": ("n",),
        },
        scalars={"converged_": bool, "n_iter_": int, "lower_bound_": float,
                 "n_features_in_": int, "weight_concentration_prior_": float,
                 "mean_precision_prior_": float, "degrees_of_freedom_prior_": float},
        param_arrays={"mean_prior": ("d",), "covariance_prior": _covariance_prior_shape},
        optional_arrays=("lower_bounds_",),
    ),
}


class _Invalid(Exception):
    """A model (file or estimator) that is not self-consistent: the problem."""


def _fail(path, problem):
    return ValueError(f"{path}: {problem}")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------- checking a model
def _expected_shape(spec_shape, params, k, d):
    if callable(spec_shape):
        spec_shape = spec_shape(params)
        if spec_shape is None:
            return None
    return tuple({"k": k, "d": d}.get(s, s) for s in spec_shape)


def _shape_matches(shape, expected):
    return len(shape) == len(expected) and all(
        e == "n" or s == e for s, e in zip(shape, expected))


def _check_header(header, *, require_format=True):
    """The top level of a header: format, version and the kinds of its parts."""
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _Invalid("is not a kmgmm model file (wrong header)")
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise _Invalid(f"has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        shown = header.get("kmgmm_version", "?")
        if not isinstance(shown, str):
            shown = "?"
        raise _Invalid(
            f"was written in model format version {version} by kmgmm {shown[:40]}; "
            f"this kmgmm reads format versions up to {FORMAT_VERSION}: upgrade "
            "kmgmm to load it")
    for key, kind in (("estimator", str), ("params", dict), ("scalars", dict),
                      ("arrays", dict)):
        if not isinstance(header.get(key), kind):
            raise _Invalid(f"has a malformed kmgmm header (bad {key!r})")
    if not isinstance(header.get("kmgmm_version", ""), str):
        raise _Invalid("has a malformed kmgmm header (bad 'kmgmm_version')")


@dataclass
class _Plan:
    """What a checked header says the file holds."""

    name: str
    spec: ModelSpec
    cls: type
    params: dict
    scalars: dict
    k: int
    d: int
    shapes: dict   # member key -> expected shape (tuple of ints)
    dtypes: dict   # member key -> dtype


def _plan(header):
    """Check a header against the registry; what each array must be.

    Raises _Invalid naming the problem.  Checks everything that can be
    checked without the arrays: the estimator, the parameters' names and
    kinds, the fitted scalars, every array's shape and dtype, and the memory
    the arrays take together.
    """
    _check_header(header)
    name = header["estimator"]
    spec = MODELS.get(name)
    if spec is None:
        raise _Invalid(f"holds a {name[:80]!r}, which this kmgmm does not know "
                       f"(it knows {', '.join(MODELS)})")
    try:
        cls = spec.estimator_class(name)
    except (ImportError, AttributeError):
        raise _Invalid(f"holds a {name}, which this build of kmgmm does not "
                       "provide") from None

    params = dict(header["params"])
    valid = set(cls._param_names())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise _Invalid(f"has parameters {unknown[:10]} that {name} does not take; "
                       "it was written by a different kmgmm version")
    if any(not isinstance(v, _JSON_SCALARS) for v in params.values()):
        raise _Invalid("has a malformed kmgmm header (a parameter is not a plain "
                       "value)")
    not_saved = header.get("params_not_saved", [])
    if not isinstance(not_saved, list) or not all(
            isinstance(p, str) and p in valid for p in not_saved):
        raise _Invalid("has a malformed kmgmm header (bad 'params_not_saved')")

    scalars = header["scalars"]
    extra = sorted(set(scalars) - set(spec.scalars))
    if extra:
        raise _Invalid(f"has unexpected fitted values {extra[:10]} for a {name}")
    for attr, kind in spec.scalars.items():
        if attr in spec.optional_scalars and attr not in scalars:
            continue
        value = scalars.get(attr)
        if value is None and attr in spec.optional_scalars:
            continue
        ok = (isinstance(value, bool) if kind is bool else
              _is_int(value) and value >= 0 if kind is int else
              _is_real(value))
        if not ok:
            raise _Invalid(f"has a missing or invalid {attr!r} in its header")

    k = params.get(spec.k_param, cls().get_params()[spec.k_param])
    d = scalars["n_features_in_"]
    if not _is_int(k) or k < 1 or d < 1:
        raise _Invalid(f"has an invalid {spec.k_param} or n_features_in_")

    metas = header["arrays"]
    for attr in spec.arrays:
        if attr not in metas and attr not in spec.optional_arrays:
            raise _Invalid(f"is incomplete: the {name} array {attr!r} is missing")
    shapes, dtypes, total = {}, {}, 0
    fitted_dtype = None
    for key, meta in metas.items():
        if key.startswith(PARAM_PREFIX):
            pname = key[len(PARAM_PREFIX):]
            if pname not in spec.param_arrays:
                raise _Invalid(f"has an unexpected array {key[:80]!r}")
            if pname in params:
                raise _Invalid(f"gives the parameter {pname!r} twice")
            spec_shape, free = spec.param_arrays[pname], True
        elif key in spec.arrays:
            spec_shape, free = spec.arrays[key], False
        elif key in spec.online_arrays:
            spec_shape, free = spec.online_arrays[key], True
        else:
            raise _Invalid(f"has an unexpected array {key[:80]!r} for a {name}")
        if not isinstance(meta, dict) or not isinstance(meta.get("shape"), list) or \
                not all(_is_int(s) and s >= 0 for s in meta["shape"]) or \
                len(meta["shape"]) > 3 or not isinstance(meta.get("dtype"), str):
            raise _Invalid(f"has a malformed kmgmm header (bad entry for {key!r})")
        dtype = _FLOAT_NAMES.get(meta["dtype"])
        if dtype is None:
            raise _Invalid(f"array {key!r} has dtype {meta['dtype'][:20]!r}; kmgmm model "
                           "files hold float32 or float64 arrays only")
        if key in spec.online_arrays and dtype.kind + str(dtype.itemsize) != "f8":
            raise _Invalid(f"array {key!r} of the online-EM state must be float64, "
                           f"not {dtype.name}")
        shape = tuple(meta["shape"])
        expected = _expected_shape(spec_shape, params, k, d)
        if expected is None:
            raise _Invalid(f"has parameters that give no shape for {key!r}")
        if not _shape_matches(shape, expected):
            shown = tuple("any" if e == "n" else e for e in expected)
            raise _Invalid(f"arrays disagree in shape: {key} is {shape}, expected "
                           f"{shown} for {spec.k_param}={k} and n_features_in_={d}")
        if not free and key not in spec.optional_arrays:
            if fitted_dtype is not None and dtype != fitted_dtype:
                raise _Invalid(f"array {key!r} is {dtype.name} but the other fitted "
                               f"arrays are {fitted_dtype.name}")
            fitted_dtype = dtype
        total += math.prod(shape) * dtype.itemsize
        if total > MAX_MODEL_BYTES:
            raise _Invalid(f"its arrays would take more than {MAX_MODEL_BYTES >> 20} "
                           "MiB of memory, the most a kmgmm model file may hold")
        shapes[key], dtypes[key] = shape, dtype
    online = [key for key in spec.online_arrays if key in metas]
    has_steps = scalars.get("n_steps_") is not None
    if online and (len(online) != len(spec.online_arrays) or not has_steps):
        missing = [key for key in spec.online_arrays if key not in metas]
        raise _Invalid("is incomplete: its online-EM state lacks "
                       f"{(missing or ['n_steps_'])[0]!r}")
    if spec.online_arrays and has_steps and not online:
        raise _Invalid("has a step count 'n_steps_' but no online-EM state")
    names = header.get("feature_names_in")
    if names is not None and (not isinstance(names, list) or len(names) != d or
                              not all(isinstance(n, str) for n in names)):
        raise _Invalid("has feature names that disagree with n_features_in_")
    return _Plan(name, spec, cls, params, scalars, k, d, shapes, dtypes)


def _check_params(plan, param_arrays):
    """Validate the parameters as the estimator's fit would.

    Returns the constructor arguments.  Warnings from the validation (such
    as an explicit init with n_init > 1) are not repeated here.
    """
    from ._threads import max_threads
    from ._validation import check_int, check_random_state

    kwargs = dict(plan.params)
    kwargs.update(param_arrays)
    estimator = plan.cls(**kwargs)
    dtype = plan.dtypes.get(plan.spec.k_array, np.dtype(np.float64))
    # Only the shape and dtype of X matter to the checks: a broadcast zero
    # stands in for the (k, d) data without allocating it.
    X = np.broadcast_to(np.zeros((), dtype=dtype.newbyteorder("=")), (plan.k, plan.d))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator._check_params(X)
        n_threads = check_int(kwargs.get("n_threads"), "n_threads", low=1,
                              allow_none=True)
        if kwargs.get("random_state") is not None:
            check_random_state(kwargs["random_state"])
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"has an invalid parameter: {exc}") from None
    if n_threads is not None and n_threads > max_threads():
        kwargs["n_threads"] = max_threads()
    return kwargs


def _check_fitted(plan, arrays):
    """Fitted arrays must hold finite values (and mixture weights be weights)."""
    for attr in plan.spec.arrays:
        if attr in arrays and attr not in plan.spec.optional_arrays and \
                not np.isfinite(arrays[attr]).all():
            raise _Invalid(f"array {attr!r} must hold finite floating-point values")
    if plan.name == "SphericalKMeans" and "cluster_centers_" in arrays:
        C = arrays["cluster_centers_"].astype(np.float64)
        with np.errstate(over="ignore"):          # a huge centre: its norm is inf
            norms = np.sqrt(np.einsum("ij,ij->i", C, C))
        if np.any(np.abs(norms - 1) > UNIT_NORM_SLACK):
            raise _Invalid("array 'cluster_centers_' of a SphericalKMeans must hold "
                           "unit-norm centres")
    counts = arrays.get("counts_")
    if counts is not None and not (np.isfinite(counts).all() and (counts >= 0).all()):
        raise _Invalid("array 'counts_' must hold finite non-negative weights")
    weights = arrays.get("weights_")
    if weights is not None and (np.any(weights < 0) or not weights.sum() > 0):
        raise _Invalid("array 'weights_' must hold non-negative weights with a "
                       "positive sum")


# ------------------------------------------------------------------ saving
