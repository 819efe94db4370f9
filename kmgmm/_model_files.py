"""Model files: a fitted estimator as a versioned ``.npz`` of plain arrays.

A model file is an uncompressed ``.npz`` archive holding

* ``__kmgmm__``: the header, UTF-8 JSON stored as a uint8 array;
* one array per fitted array attribute of the estimator (``cluster_centers_``,
  ``means_``, ...);
* ``param.<name>`` for each constructor parameter that is an array
  (``means_init`` and the like).

It is read with ``allow_pickle=False`` and only the members the header and the
registry below expect are opened, so loading a file never runs code from it.

What each estimator stores is declared once, in ``MODELS``: the fitted arrays
with their expected shapes, the fitted scalars with their types, and the
parameter that gives the number of clusters.  Adding an estimator means
adding one entry.
"""
import importlib
import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ._atomic_write import atomic_path

FORMAT_NAME = "kmgmm-model"
FORMAT_VERSION = 1
HEADER_KEY = "__kmgmm__"
PARAM_PREFIX = "param."
MAX_HEADER_BYTES = 1 << 20

_JSON_SCALARS = (bool, int, float, str, type(None))


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
    """

    module: str
    k_param: str
    arrays: dict
    scalars: dict
    optional_arrays: tuple = field(default=())

    def estimator_class(self, name):
        return getattr(importlib.import_module(self.module), name)


MODELS = {
    "KMeans": ModelSpec(
        module="kmgmm._kmeans",
        k_param="n_clusters",
        arrays={"cluster_centers_": ("k", "d")},
        scalars={"inertia_": float, "n_iter_": int, "n_features_in_": int},
    ),
    "GaussianMixture": ModelSpec(
        module="kmgmm",
        k_param="n_components",
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
        optional_arrays=("lower_bounds_",),
    ),
}


def _fail(path, problem):
    return ValueError(f"{path}: {problem}")


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


def save_model(estimator, path):
    """Write a fitted estimator to ``path`` (exactly that name) as a model file.

    Parameters that are not plain values or arrays (a ``RandomState``, a
    callable ``init``) are not saved; the loaded model has their defaults
    instead, and the header lists them under ``params_not_saved``.
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
            arrays[attr] = np.ascontiguousarray(getattr(estimator, attr))
    for pname, value in param_arrays.items():
        arrays[PARAM_PREFIX + pname] = np.ascontiguousarray(value)
    scalars = {attr: spec.scalars[attr](getattr(estimator, attr)) for attr in spec.scalars}
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
    blob = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    # Written beside the target and renamed, so an interrupted save never
    # leaves a half-written model under the final name.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{HEADER_KEY: blob}, **arrays)
    return path


# ----------------------------------------------------------------- loading
def _read_member(npz, key, path):
    try:
        return npz[key]
    except ValueError as exc:  # object arrays: allow_pickle=False refuses them
        raise _fail(path, f"array {key!r} cannot be read safely ({exc}); "
                          "this is not a file kmgmm wrote") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as exc:
        raise _fail(path, f"array {key!r} is damaged or truncated ({exc})") from None


def _open_archive(path):
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except IsADirectoryError:
        raise _fail(path, "is a directory, not a model file") from None
    if magic != b"PK\x03\x04":
        raise _fail(path, "is not a kmgmm model file (not an .npz archive)")
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise _fail(path, f"is truncated or damaged ({exc}); write it again "
                          "with model.save or 'kmgmm fit'") from None


def _read_header(npz, path):
    if HEADER_KEY not in npz.files:
        raise _fail(path, "is an .npz archive but not a kmgmm model file "
                          f"(no {HEADER_KEY} header)")
    blob = _read_member(npz, HEADER_KEY, path)
    if blob.dtype != np.uint8 or blob.ndim != 1 or blob.size > MAX_HEADER_BYTES:
        raise _fail(path, "has a malformed kmgmm header")
    try:
        header = json.loads(blob.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"has a malformed kmgmm header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise _fail(path, "is not a kmgmm model file (wrong header)")
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail(path, f"has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"was written in model format version {version} by kmgmm "
            f"{header.get('kmgmm_version', '?')}; this kmgmm reads format versions up "
            f"to {FORMAT_VERSION}: upgrade kmgmm to load it")
    for key, kind in (("estimator", str), ("params", dict), ("scalars", dict),
                      ("arrays", dict)):
        if not isinstance(header.get(key), kind):
            raise _fail(path, f"has a malformed kmgmm header (bad {key!r})")
    return header


def _expected_shape(spec_shape, params, k, d):
    if callable(spec_shape):
        spec_shape = spec_shape(params)
        if spec_shape is None:
            return None
    return tuple({"k": k, "d": d}.get(s, s) for s in spec_shape)


def _shape_matches(shape, expected):
    return len(shape) == len(expected) and all(
        e == "n" or s == e for s, e in zip(shape, expected))


def read_header(path):
    """The JSON header of a model file, checked (for ``kmgmm info``)."""
    path = os.fspath(path)
    with _open_archive(path) as npz:
        return _read_header(npz, path)


def load_model(path):
    """Read a model file written by ``save`` and return the fitted estimator.

    Raises ValueError naming the file and the problem for a file that is not
    a kmgmm model, is truncated or damaged, comes from a newer format version,
    or whose arrays disagree in shape with each other or with the parameters.
    """
    path = os.fspath(path)
    with _open_archive(path) as npz:
        header = _read_header(npz, path)
        name = header["estimator"]
        spec = MODELS.get(name)
        if spec is None:
            raise _fail(path, f"holds a {name!r}, which this kmgmm does not know "
                              f"(it knows {', '.join(MODELS)})")
        try:
            cls = spec.estimator_class(name)
        except (ImportError, AttributeError):
            raise _fail(path, f"holds a {name}, which this build of kmgmm does not "
                              "provide") from None
        params = dict(header["params"])
        valid = set(cls._param_names())
        unknown = sorted(set(params) - valid)
        if unknown:
            raise _fail(path, f"has parameters {unknown} that {name} does not take; "
                              "it was written by a different kmgmm version")
        if any(not isinstance(v, _JSON_SCALARS) for v in params.values()):
            raise _fail(path, "has a malformed kmgmm header (a parameter is not a "
                              "plain value)")

        expected_members = {HEADER_KEY}
        arrays = {}
        for key in header["arrays"]:
            is_param = key.startswith(PARAM_PREFIX)
            if is_param:
                if key[len(PARAM_PREFIX):] not in valid:
                    raise _fail(path, f"has an unexpected array {key!r}")
            elif key not in spec.arrays:
                raise _fail(path, f"has an unexpected array {key!r} for a {name}")
            if key not in npz.files:
                raise _fail(path, f"is truncated or damaged: array {key!r} is missing")
            expected_members.add(key)
        extra = sorted(set(npz.files) - expected_members)
        if extra:
            raise _fail(path, f"has unexpected members {extra}; it was not written "
                              "by kmgmm")
        for attr in spec.arrays:
            if attr not in header["arrays"] and attr not in spec.optional_arrays:
                raise _fail(path, f"is incomplete: the {name} array {attr!r} is missing")
        for key, meta in header["arrays"].items():
            arr = _read_member(npz, key, path)
            if not isinstance(meta, dict) or list(arr.shape) != meta.get("shape") \
                    or arr.dtype.str != meta.get("dtype"):
                raise _fail(path, f"array {key!r} does not match its header "
                                  f"(shape {arr.shape}, dtype {arr.dtype})")
            if arr.dtype.kind not in "biuf":
                raise _fail(path, f"array {key!r} is not numeric ({arr.dtype})")
            arrays[key] = arr

    scalars = header["scalars"]
    for attr, kind in spec.scalars.items():
        value = scalars.get(attr)
        ok = (isinstance(value, bool) if kind is bool else
              isinstance(value, int) and not isinstance(value, bool) if kind is int else
              isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise _fail(path, f"has a missing or invalid {attr!r} in its header")

    k = params.get(spec.k_param, cls().get_params()[spec.k_param])
    d = scalars["n_features_in_"]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or d < 1:
        raise _fail(path, f"has an invalid {spec.k_param} or n_features_in_")
    for attr, spec_shape in spec.arrays.items():
        if attr not in arrays:
            continue
        expected = _expected_shape(spec_shape, params, k, d)
        if expected is None:
            raise _fail(path, f"has parameters that give no shape for {attr!r}")
        arr = arrays[attr]
        if not _shape_matches(arr.shape, expected):
            shown = tuple("any" if e == "n" else e for e in expected)
            raise _fail(path, f"arrays disagree in shape: {attr} is {arr.shape}, "
                              f"expected {shown} for {spec.k_param}={k} and "
                              f"n_features_in_={d}")
        if arr.dtype.kind != "f" or not np.isfinite(arr).all():
            raise _fail(path, f"array {attr!r} must hold finite floating-point values")

    for pname, arr in list(arrays.items()):
        if pname.startswith(PARAM_PREFIX):
            params[pname[len(PARAM_PREFIX):]] = arr
    estimator = cls(**params)
    for attr in spec.arrays:
        if attr in arrays:
            setattr(estimator, attr, arrays[attr])
    for attr, kind in spec.scalars.items():
        setattr(estimator, attr, kind(scalars[attr]))
    names = header.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != d or \
                not all(isinstance(n, str) for n in names):
            raise _fail(path, "has feature names that disagree with n_features_in_")
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    return estimator


def load(path):
    """Load a model written by ``model.save(path)`` or ``kmgmm fit``.

    The file is read with ``allow_pickle=False``: loading never runs code
    from it.  Raises ValueError for a file that is not a kmgmm model, is
    truncated, comes from a newer kmgmm, or whose arrays disagree in shape.
    """
    return load_model(path)
