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
import json
import math
import os
import stat
import warnings
import zipfile
from typing import Any

import numpy as np

from ._atomic_write import AtomicFile
from ._model_online import check_online, online_members, restore_online
from ._model_spec import (  # noqa: F401 (names the tests and the command line use)
    _COMPRESSIONS,
    _DAMAGE,
    _FLOAT_DTYPES,
    _HEADER_DTYPE,
    _JSON_SCALARS,
    _NPY_HEADER_LIMIT,
    _READ_CHUNK,
    _UNSUPPORTED_FLAGS,
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER_KEY,
    MAX_HEADER_BYTES,
    MAX_MEMBERS,
    MAX_MODEL_BYTES,
    MODELS,
    ONLINE_FORMAT_VERSION,
    PARAM_PREFIX,
    _check_fitted,
    _check_params,
    _fail,
    _Invalid,
    _plan,
)

#: The format version of a file without an online-EM state (older kmgmm reads it).
BASE_FORMAT_VERSION = 1

# Parameters of the size of the training data, used only to start a fit.
_TRAINING_ONLY = frozenset({"resp_init"})

#: Parameters that say how a fit runs, not what it is: not written, so that
#: files stay readable by a kmgmm that predates them.
RUNTIME_PARAMS = ("callback",)


def _split_params(estimator):
    """JSON-able parameters, array parameters, and the names of those dropped."""
    plain, arrays, dropped = {}, {}, []
    for name, value in estimator.get_params().items():
        if name in RUNTIME_PARAMS:
            continue    # how a fit reports, not what it fitted: never written
        if name in _TRAINING_ONLY:
            if value is not None:
                dropped.append(name)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
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
    # ascontiguousarray would make a 0-d value (a scalar attribute) 1-d.
    return arr.copy() if arr.ndim == 0 else np.ascontiguousarray(arr)


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
               if a not in spec.optional_arrays + spec.optional_scalars
               and not hasattr(estimator, a)]
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
    online, n_steps = online_members(estimator) if spec.online_arrays else ({}, None)
    arrays.update(online)
    try:
        scalars = {attr: spec.scalars[attr](getattr(estimator, attr))
                   for attr in spec.scalars if hasattr(estimator, attr)}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot save this {name}: a fitted value is invalid "
                         f"({exc}); fit it again") from None
    if spec.online_arrays:
        scalars.pop("n_steps_", None)
        if online:
            scalars["n_steps_"] = n_steps
    header = {
        "format": FORMAT_NAME,
        "format_version": ONLINE_FORMAT_VERSION if online else BASE_FORMAT_VERSION,
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
        if attr in plan.scalars:
            setattr(estimator, attr, kind(plan.scalars[attr]))
    names = header.get("feature_names_in")
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    online = {key: arr for key, arr in arrays.items() if key in plan.spec.online_arrays}
    if online:
        try:
            state = check_online(estimator, online, plan.scalars["n_steps_"])
        except _Invalid as exc:
            raise _fail(path, str(exc)) from None
        restore_online(estimator, state)
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


def load(path: str | os.PathLike[str]) -> Any:
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
