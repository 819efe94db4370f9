"""Model files: a fitted estimator as a versioned ``.npz`` of plain arrays.

A model file is an uncompressed ``.npz`` archive holding

* ``__kmgmm__``: the header, UTF-8 JSON stored as a uint8 array;
* one array per fitted array attribute of the estimator (``cluster_centers_``,
  ``means_``, ...);
* ``param.<name>`` for each constructor parameter that is an array
  (``means_init`` and the like).

What each estimator stores is declared once, in ``MODELS``: the fitted arrays
with their expected shapes, the fitted scalars with their types, the array
parameters, and the parameter that gives the number of clusters.  Adding an
estimator means adding one entry.

Reading a file never trusts it.  It is read with the ``zipfile`` module and
NumPy's ``.npy`` header parser, never with pickle, so loading never runs code
from it; and nothing is allocated before it is checked:

* the JSON header is read first (at most ``MAX_HEADER_BYTES``), and every
  parameter in it is validated as the estimator's constructor and ``fit``
  would validate it;
* the shape of every array follows from the header (the number of clusters
  and ``n_features_in_``); the arrays together may take at most
  ``MAX_MODEL_BYTES`` (1 GiB) in memory;
* each member's ``.npy`` header is read from the archive before its data, and
  its dtype (float32 or float64; uint8 for the header), its shape and the
  size the archive states for it must agree with what the header expects;
* encrypted members and compression methods other than stored and deflate
  are refused.

Every file that cannot be read is a ``ValueError`` naming the file and the
problem.  Saving validates the same way before writing, so ``save`` never
writes a file that ``load`` refuses.
"""
import importlib
import json
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from ._atomic_write import AtomicFile

FORMAT_NAME = "kmgmm-model"
FORMAT_VERSION = 1
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
    """Shape of covariances_ / precisions_ / precisions_cholesky_ by type."""
    return {
        "full": ("k", "d", "d"),
        "tied": ("d", "d"),
        "diag": ("k", "d"),
        "spherical": ("k",),
        "fixed": ("k",),
    }.get(params.get("covariance_type"))


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
    is the number of clusters.
    """

    module: str
    k_param: str
    k_array: str
    arrays: dict
    scalars: dict
    param_arrays: dict
    optional_arrays: tuple = field(default=())

    def estimator_class(self, name):
        return getattr(importlib.import_module(self.module), name)


MODELS = {
    "KMeans": ModelSpec(
        module="kmgmm._kmeans",
        k_param="n_clusters",
        k_array="cluster_centers_",
        arrays={"cluster_centers_": ("k", "d")},
        scalars={"inertia_": float, "n_iter_": int, "n_features_in_": int},
        param_arrays={"init": ("k", "d")},
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
                 "n_features_in_": int},
        param_arrays={"weights_init": ("k",), "means_init": ("k", "d"),
                      "precisions_init": _covariance_shape},
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
        value = scalars.get(attr)
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
    weights = arrays.get("weights_")
    if weights is not None and (np.any(weights < 0) or not weights.sum() > 0):
        raise _Invalid("array 'weights_' must hold non-negative weights with a "
                       "positive sum")


# ------------------------------------------------------------------ saving
def _split_params(estimator):
    """JSON-able parameters, array parameters, and the names of those dropped."""
    plain, arrays, dropped = {}, {}, []
    for name, value in estimator.get_params().items():
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            arrays[name] = value
        elif isinstance(value, (np.integer, np.floating, np.bool_)):
            plain[name] = value.item()
        elif isinstance(value, _JSON_SCALARS) and not (
                isinstance(value, float) and not np.isfinite(value)):
            plain[name] = value
        elif isinstance(value, (list, tuple)):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                dropped.append(name)
            else:
                arrays[name] = arr
        else:  # a RandomState, a callable: not data, not saved
            dropped.append(name)
    return plain, arrays, dropped


def _saved_array(value):
    """``value`` as the C-contiguous float array a file stores (a copy if needed)."""
    arr = np.asarray(value)
    if arr.dtype not in _FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    return np.ascontiguousarray(arr)


def model_file_members(estimator):
    """The members of the model file of a fitted estimator, checked.

    A dict of member name to array, for ``np.savez``; raises ValueError as
    ``save_model`` does (before anything is written).
    """
    from . import __version__

    name = type(estimator).__name__
    spec = MODELS.get(name)
    if spec is None:
        raise TypeError(f"kmgmm cannot save a {name}; it saves {', '.join(MODELS)}.")
    missing = [a for a in (*spec.arrays, *spec.scalars)
               if a not in spec.optional_arrays and not hasattr(estimator, a)]
    if missing:
        raise ValueError(
            f"This {name} is not fitted yet (no {missing[0]}); call fit before save.")
    params, param_arrays, dropped = _split_params(estimator)
    arrays = {}
    for attr in spec.arrays:
        if hasattr(estimator, attr):
            arrays[attr] = _saved_array(getattr(estimator, attr))
    # The fitted arrays decide the number of clusters stored.
    fitted_k = arrays[spec.k_array].shape[0] if arrays[spec.k_array].ndim else 0
    params[spec.k_param] = int(fitted_k)
    for pname, value in param_arrays.items():
        arrays[PARAM_PREFIX + pname] = _saved_array(value)
    try:
        scalars = {attr: spec.scalars[attr](getattr(estimator, attr))
                   for attr in spec.scalars}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot save this {name}: a fitted value is invalid "
                         f"({exc}); fit it again") from None
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "kmgmm_version": __version__,
        "params": params,
        "params_not_saved": dropped,
        "scalars": scalars,
        "arrays": {key: {"shape": list(a.shape), "dtype": a.dtype.str}
                   for key, a in arrays.items()},
    }
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        header["feature_names_in"] = [str(n) for n in names]
    # The checks load makes, made before writing: save never writes a file
    # that load refuses.
    try:
        plan = _plan(json.loads(json.dumps(header)))
        _check_params(plan, {key[len(PARAM_PREFIX):]: arr for key, arr in arrays.items()
                             if key.startswith(PARAM_PREFIX)})
        _check_fitted(plan, arrays)
    except _Invalid as exc:
        raise ValueError(
            f"cannot save this {name}: its parameters no longer describe the fitted "
            f"model ({str(exc).removeprefix('has ')}); set them back with "
            "set_params or fit again") from None
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    if blob.size > MAX_HEADER_BYTES:
        raise ValueError(f"cannot save this {name}: its header would take more than "
                         f"{MAX_HEADER_BYTES} bytes (too many feature names?)")
    return {HEADER_KEY: blob, **arrays}


def write_model_file(members, out):
    """Write ``model_file_members`` to the open ``AtomicFile`` ``out``."""
    try:
        np.savez(out.fh, **members)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"cannot write the {out.what} {out.path}: "
                                 f"{reason}") from None


def save_model(estimator, path):
    """Write a fitted estimator to ``path`` (exactly that name) as a model file.

    What is written is what was fitted: the number of clusters stored is the
    number of fitted centres (``cluster_centers_`` / ``means_``), even if
    ``set_params`` changed ``n_clusters`` / ``n_components`` since.  Other
    parameters changed since the fit are stored as they are now, and must
    still describe the fitted arrays: a ValueError is raised, before anything
    is written, when they do not (a different ``covariance_type``, an invalid
    value).

    Not saved: ``labels_`` (the training labels; ``predict`` on the training
    data gives them again), and parameters that are not plain values or
    arrays (a ``RandomState``, a callable ``init``) -- the loaded model has
    their defaults instead, and the header lists them under
    ``params_not_saved``.

    The file is written beside ``path`` and renamed into place (see
    ``kmgmm._atomic_write``): a failed write (a full disk) raises OSError and
    leaves no partial file; ``path`` must be a regular file or not exist (a
    device, FIFO, symbolic link or hard-linked file is refused with
    ValueError); an existing file keeps its permissions.
    """
    members = model_file_members(estimator)
    path = os.fspath(path)
    with AtomicFile(path, what="model file") as out:
        write_model_file(members, out)
        out.commit()
    return path


# ----------------------------------------------------------------- loading
def _open_file(path):
    """The model file at ``path`` opened for reading, after checking it is one."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise _Invalid("is a directory, not a model file")
        if not stat.S_ISREG(st.st_mode):
            raise _Invalid("is not a regular file, so not a model file")
        fh = open(path, "rb")
    except FileNotFoundError:
        raise _Invalid("no such file") from None
    except OSError as exc:
        raise _Invalid(f"cannot be read ({exc.strerror or exc})") from None
    try:
        if fh.read(4) != b"PK\x03\x04":
            raise _Invalid("is not a kmgmm model file (not an .npz archive)")
        fh.seek(0)
    except BaseException:
        fh.close()
        raise
    return fh


def _describe(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _members(zf):
    """Member key -> ZipInfo; each name must be ``<key>.npy`` and appear once."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise _Invalid(f"has {len(infos)} members; a kmgmm model file has at most "
                       f"{MAX_MEMBERS}")
    members = {}
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise _Invalid(f"has a member {info.filename[:80]!r} that is not an .npy "
                           "array; it was not written by kmgmm")
        key = info.filename[:-4]
        if key in members:
            raise _Invalid(f"holds the member {info.filename[:80]!r} twice")
        members[key] = info
    return members


def _read_member(zf, info, key, check):
    """The array in one member, read only after its header passes ``check``.

    ``check(shape, dtype)`` raises _Invalid for an array that is not the one
    expected; it returns the largest number of data bytes allowed.
    """
    if info.flag_bits & _UNSUPPORTED_FLAGS:
        raise _Invalid(f"array {key!r} is encrypted or uses a zip feature kmgmm does "
                       "not read; it was not written by kmgmm")
    if info.compress_type not in _COMPRESSIONS:
        raise _Invalid(f"array {key!r} uses zip compression method "
                       f"{info.compress_type}, which kmgmm does not read (it reads "
                       "stored and deflate)")
    with zf.open(info) as fp:
        try:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(
                    fp, max_header_size=_NPY_HEADER_LIMIT)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(
                    fp, max_header_size=_NPY_HEADER_LIMIT)
            else:
                raise _Invalid(f"array {key!r} is in .npy format version {version}, "
                               "which kmgmm model files do not use")
        except (ValueError, TypeError, SyntaxError) as exc:
            raise _Invalid(f"array {key!r} has a damaged .npy header "
                           f"({_describe(exc)})") from None
        if not isinstance(fortran, bool) or not isinstance(dtype, np.dtype) or \
                dtype.hasobject:
            raise _Invalid(f"array {key!r} cannot be read safely (dtype {dtype}); "
                           "this is not a file kmgmm wrote")
        max_bytes = check(tuple(shape), dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > max_bytes:
            raise _Invalid(f"array {key!r} is larger than a kmgmm model allows")
        offset = fp.tell()
        if info.file_size != offset + nbytes:
            raise _Invalid(f"array {key!r} is truncated or damaged: the archive stores "
                           f"{info.file_size} bytes for it, its shape {tuple(shape)} "
                           f"needs {offset + nbytes}")
        data = np.empty(nbytes, dtype=np.uint8)
        done = 0
        while done < nbytes:
            chunk = fp.read(min(_READ_CHUNK, nbytes - done))
            if not chunk:
                raise _Invalid(f"array {key!r} is truncated or damaged")
            data[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            done += len(chunk)
        if fp.read(1):  # reading to the end also checks the CRC
            raise _Invalid(f"array {key!r} is longer than its shape says")
    arr = data.view(dtype).reshape(shape, order="F" if fortran else "C")
    native = dtype.newbyteorder("=")
    return np.ascontiguousarray(arr.astype(native, copy=False))


def _read_header_member(zf, members):
    if HEADER_KEY not in members:
        raise _Invalid("is an .npz archive but not a kmgmm model file "
                       f"(no {HEADER_KEY} header)")

    def check(shape, dtype):
        if dtype != _HEADER_DTYPE or len(shape) != 1:
            raise _Invalid("has a malformed kmgmm header")
        return MAX_HEADER_BYTES

    blob = _read_member(zf, members[HEADER_KEY], HEADER_KEY, check)
    try:
        header = json.loads(blob.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Invalid(f"has a malformed kmgmm header ({exc})") from None
    except RecursionError:
        raise _Invalid("has a malformed kmgmm header (nested too deeply)") from None
    return header


def _read_model(path):
    """(header, plan, arrays) of the model file at ``path``; ValueError if unreadable."""
    path = os.fspath(path)
    try:
        with _open_file(path) as fh, zipfile.ZipFile(fh) as zf:
            members = _members(zf)
            header = _read_header_member(zf, members)
            plan = _plan(header)
            missing = [key for key in plan.shapes if key not in members]
            if missing:
                raise _Invalid(f"is truncated or damaged: array {missing[0]!r} is "
                               "missing")
            extra = sorted(set(members) - set(plan.shapes) - {HEADER_KEY})
            if extra:
                raise _Invalid(f"has unexpected members {extra[:10]}; it was not "
                               "written by kmgmm")
            arrays = {}
            for key in plan.shapes:
                def check(shape, dtype, key=key):
                    if shape != plan.shapes[key] or dtype != plan.dtypes[key]:
                        raise _Invalid(
                            f"array {key!r} does not match its header (shape {shape}, "
                            f"dtype {dtype}; the header says {plan.shapes[key]}, "
                            f"{plan.dtypes[key]})")
                    return MAX_MODEL_BYTES
                arrays[key] = _read_member(zf, members[key], key, check)
    except _Invalid as exc:
        raise _fail(path, str(exc)) from None
    except MemoryError:
        raise _fail(path, "is too large to load in the memory available") from None
    except _DAMAGE as exc:
        raise _fail(path, f"is truncated or damaged ({_describe(exc)}); write it "
                          "again with model.save or 'kmgmm fit'") from None
    return header, plan, arrays


def read_header(path):
    """The JSON header of a model file, checked (for ``kmgmm info``)."""
    return _read_model(path)[0]


def _build(path, header, plan, arrays):
    param_arrays = {key[len(PARAM_PREFIX):]: arr for key, arr in arrays.items()
                    if key.startswith(PARAM_PREFIX)}
    try:
        kwargs = _check_params(plan, param_arrays)
        _check_fitted(plan, arrays)
    except _Invalid as exc:
        raise _fail(path, str(exc)) from None
    if kwargs.get("n_threads") != plan.params.get("n_threads"):
        warnings.warn(
            f"{path}: n_threads={plan.params['n_threads']} is more threads than "
            f"kmgmm starts; the loaded model uses n_threads={kwargs['n_threads']}.",
            UserWarning, stacklevel=3)
    estimator = plan.cls(**kwargs)
    for attr in plan.spec.arrays:
        if attr in arrays:
            value = arrays[attr]
            if attr == "lower_bounds_":  # a list on a fitted mixture
                value = value.astype(np.float64).tolist()
            setattr(estimator, attr, value)
    for attr, kind in plan.spec.scalars.items():
        setattr(estimator, attr, kind(plan.scalars[attr]))
    names = header.get("feature_names_in")
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    return estimator


def load_model(path):
    """Read a model file written by ``save`` and return the fitted estimator.

    Raises ValueError naming the file and the problem for a file that is not
    a kmgmm model, is truncated or damaged, comes from a newer format version,
    holds invalid parameters, or whose arrays disagree in shape with each
    other or with the parameters.  The loaded model has no ``labels_`` (they
    are not saved).
    """
    header, plan, arrays = _read_model(path)
    return _build(os.fspath(path), header, plan, arrays)


def load_model_and_header(path):
    """(estimator, header) of a model file, reading it once (``kmgmm info``)."""
    header, plan, arrays = _read_model(path)
    return _build(os.fspath(path), header, plan, arrays), header


def load(path):
    """Load a model written by ``model.save(path)`` or ``kmgmm fit``.

    The file is read without pickle: loading never runs code from it, and
    what it may allocate is bounded (at most 1 GiB of arrays, each checked
    against the header before it is read).  Raises ValueError naming the file
    for a file that is not a kmgmm model, is truncated or damaged, comes from
    a newer kmgmm, holds invalid parameters, or whose arrays disagree in
    shape.

    The model is the fitted model as saved; the training labels (KMeans's
    ``labels_``) are not saved, so a loaded KMeans has no ``labels_`` --
    ``predict`` on the training data gives them again.
    """
    return load_model(path)
