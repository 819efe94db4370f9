"""What the ``kmgmm`` commands share: the exit statuses' exceptions, the check
that no output is an input, the summary printed (or JSON), the sample-weight
file, warnings to stderr, and writing a model (and labels) all or nothing."""
import json
import os
import sys

import numpy as np

from ._atomic_write import AtomicFile, OutputPathError
from ._data_files import ArrayWriter, load_data
from ._exceptions import UsageError


class WriteFailed(Exception):
    """An output could not be written, e.g. on a full disk (exit status 1)."""


def _write_failed(exc):
    """WriteFailed from the OSError of a failed write (its message names the file)."""
    return WriteFailed(exc.strerror or str(exc) or type(exc).__name__)


def _file_identity(path):
    """What makes two paths the same file: device and inode when it exists,
    else the absolute path with its directory's links resolved."""
    try:
        st = os.stat(path)
    except OSError:
        directory, name = os.path.split(os.path.abspath(path))
        return ("path", os.path.normcase(os.path.join(os.path.realpath(directory),
                                                      name)))
    return ("inode", st.st_dev, st.st_ino)


def _check_distinct(command, inputs, outputs):
    """Refuse an output that is an input of the command or another output.

    ``inputs`` and ``outputs`` are (what, path) pairs; a None path is absent.
    """
    seen = [(what, path, _file_identity(path)) for what, path in inputs
            if path is not None]
    for what, path in outputs:
        if path is None:
            continue
        identity = _file_identity(path)
        for other_what, other_path, other in seen:
            if identity == other:
                raise UsageError(
                    f"{command}: {what} {path} is the same file as {other_what} "
                    f"{other_path}; writing it would destroy that: choose another "
                    "name")
        seen.append((what, path, identity))


def _emit(obj, as_json, lines):
    if as_json:
        print(json.dumps(obj, indent=2, default=_json_default))
    else:
        for line in lines:
            print(line)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _load_sample_weight(path, n_samples):
    sw = load_data(path, name="sample weight")
    if sw.shape[1] != 1:
        raise UsageError(f"{path}: sample weights must be one column, got "
                         f"{sw.shape[1]} columns")
    if sw.shape[0] != n_samples:
        raise UsageError(f"{path}: has {sw.shape[0]} sample weights but the data has "
                         f"{n_samples} rows; give one weight per row")
    return np.asarray(sw[:, 0], dtype=np.float64)


def gmm_params(args):
    """The GaussianMixture parameters of ``kmgmm fit --model gmm``'s options
    (without --max-iter, --tol and --n-init), checked."""
    from ._params import INIT_PARAMS

    if args.algorithm is not None:
        raise UsageError("fit: --algorithm applies only to --model kmeans")
    if args.init is not None and args.init not in INIT_PARAMS:
        raise UsageError(f"fit: --init {args.init} is not a mixture initialisation; "
                         f"use one of {', '.join(INIT_PARAMS)}")
    covariance_type = args.covariance_type or "full"
    if covariance_type == "fixed" and args.variance is None:
        raise UsageError("fit: --covariance-type fixed needs --variance V "
                         "(every component's covariance is V times the identity)")
    if covariance_type != "fixed" and args.variance is not None:
        raise UsageError("fit: --variance applies only to --covariance-type fixed")
    params = {"n_components": args.k, "covariance_type": covariance_type,
              "assignment": args.assignment or "soft", "random_state": args.seed,
              "n_threads": args.threads}
    if args.variance is not None:
        params["variance"] = args.variance
    if args.init is not None:
        params["init_params"] = args.init
    if args.reg_covar is not None:
        params["reg_covar"] = args.reg_covar
    return params


def _warnings_to_stderr(caught):
    for w in caught:
        message = str(w.message).splitlines()[0] if str(w.message) else ""
        print(f"kmgmm: warning: {message}", file=sys.stderr)


def _write_fit_outputs(estimator, model_path, labels_path, labels):
    """Write the model and the labels: both, or (on a failed write) neither."""
    from ._model_files import model_file_members, write_model_file

    members = model_file_members(estimator)
    try:
        with AtomicFile(model_path, what="model file") as model_out:
            write_model_file(members, model_out)
            if labels_path is None:
                model_out.commit()
                return
            labels = np.asarray(labels, dtype=np.int32)
            with ArrayWriter(labels_path, labels.shape, labels.dtype,
                             what="labels") as labels_out:
                labels_out.write(0, labels)
                # Both on disk before either is renamed into place.
                model_out.finish()
                labels_out.finish()
                model_out.commit()
                labels_out.commit()
    except OutputPathError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise _write_failed(exc) from None


def streamed_fit_lines(lines, objective, args, exact):
    """The closing lines of a streamed fit's report: the objective (an
    estimate from the batches unless ``exact``) and the files written."""
    lines.append(objective + ("" if exact else
                              " (from the batches, an estimate; --labels computes it exactly)"))
    lines.append(f"  model written to {args.output}")
    if args.labels is not None:
        lines.append(f"  labels written to {args.labels}")
    return lines
