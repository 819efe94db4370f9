"""The ``kmgmm`` command: demo, fit, predict, info, bench, select (``_cli_select.py``).

Exit status: 0 on success, 2 for a mistake in the command or its files (one
line on stderr, no traceback), 130 when stopped by Ctrl-C, 1 when an output
cannot be written (a full disk: one line, nothing written) or for an internal
failure (a bug: the traceback is printed).

Every output is written beside its target and renamed into place (see
``kmgmm._atomic_write``), never through a memory map; an output may not be
any input of the command, nor another output.
"""
import os
import sys
import time
import traceback
import warnings

import numpy as np

from ._atomic_write import OutputPathError
from ._data_files import (
    STDIN, ArrayWriter, DataFileError, check_output_path, check_output_suffix, column_names,
    read_table,
)
from ._cli_common import (
    WriteFailed, _check_distinct, _emit, _load_sample_weight, _warnings_to_stderr,
    _write_failed, _write_fit_outputs, gmm_params,
)
from ._cli_parser import build_parser
from ._cli_select import cmd_select
from ._exceptions import UsageError
from ._progress import IterationClock, Interrupted, ProgressLine, StopRequest, describe

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_WRITE_FAILED = 1
DEFAULT_CHUNK_BYTES = 32 << 20


# ------------------------------------------------------------------- fit
def _build_estimator(args):
    if args.mini_batch:
        from ._cli_minibatch import build_minibatch

        return build_minibatch(args)
    for option, value in (("--batch-size", args.batch_size), ("--passes", args.passes),
                          ("--learning-decay", args.learning_decay),
                          ("--learning-offset", args.learning_offset),
                          ("--resume", args.resume)):
        if value is not None:
            raise UsageError(f"fit: {option} applies only with --mini-batch")
    if args.model == "kmeans":
        for option, value in (("--covariance-type", args.covariance_type),
                              ("--assignment", args.assignment),
                              ("--variance", args.variance),
                              ("--reg-covar", args.reg_covar)):
            if value is not None:
                raise UsageError(f"fit: {option} applies only to --model gmm")
        from ._kmeans import INITS, KMeans

        if args.init is not None and args.init not in INITS:
            raise UsageError(f"fit: --init {args.init} is not a k-means initialisation; "
                             f"use one of {', '.join(INITS)}")
        params = dict(n_clusters=args.k, random_state=args.seed, n_threads=args.threads)
        if args.algorithm is not None:
            params["algorithm"] = args.algorithm
        if args.init is not None:
            params["init"] = args.init
        cls = KMeans
    else:
        from ._gmm import GaussianMixture

        cls = GaussianMixture
        params = gmm_params(args)
    for option in ("max_iter", "tol", "n_init"):
        value = getattr(args, option)
        if value is not None:
            params[option] = value
    return cls(**params)


def _read_data(args):
    """(X, feature names or None) of the command's DATA, with its options."""
    dtype = None if getattr(args, "dtype", None) is None else np.dtype(args.dtype)
    return read_table(args.data, columns=getattr(args, "columns", None),
                      delimiter=getattr(args, "delimiter", None), dtype=dtype)


def _objective_name(estimator):
    return "inertia" if hasattr(estimator, "n_clusters") else "lower bound"


def _cmd_fit(args):
    if args.sample_weight == STDIN:
        raise UsageError("fit: --sample-weight cannot be read from standard input")
    X, names = _read_data(args)
    n_samples, n_features = X.shape
    where = "standard input" if args.data == STDIN else args.data
    if args.k > n_samples:
        raise UsageError(f"fit: -k {args.k} is larger than the number of rows in "
                         f"{where} ({n_samples}); lower -k or pass more data")
    _check_distinct("fit", [("the data", None if args.data == STDIN else args.data),
                            ("the sample weights", args.sample_weight)],
                    [("the model (-o)", args.output), ("the labels (--labels)",
                                                       args.labels)])
    check_output_path(args.output, what="model")
    if args.labels is not None:
        check_output_path(args.labels, what="labels")
        check_output_suffix(args.labels)
    sample_weight = None
    if args.sample_weight is not None:
        sample_weight = _load_sample_weight(args.sample_weight, n_samples)
    estimator = _build_estimator(args)
    if args.mini_batch:
        from ._cli_minibatch import fit_minibatch

        summary, lines = fit_minibatch(args, X, sample_weight, estimator,
                                       _write_fit_outputs, _warnings_to_stderr)
        if summary is None:         # stopped by Ctrl-C, the model so far written
            print(f"kmgmm: {lines}", file=sys.stderr)
            return EXIT_INTERRUPTED
        _emit(summary, args.json, lines)
        return EXIT_OK
    objective = _objective_name(estimator)
    progress = ProgressLine(enabled=not args.quiet)
    clock = IterationClock()

    with StopRequest() as stop:
        def on_progress(report):
            if report.stage == "fit" and report.n_iter:
                clock.tick(report.n_iter)
            progress.update(f"kmgmm fit: {describe(report, objective)}  "
                            f"elapsed {progress.elapsed():.1f} s",
                            force=report.n_iter == 0 or (report.stage == "fit"
                                                         and report.n_iter == 1))
            return stop.requested   # Ctrl-C: end the fit with the model so far

        estimator.set_params(callback=on_progress)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    estimator.fit(X, sample_weight=sample_weight)
                except (ValueError, TypeError) as exc:
                    raise UsageError(f"fit: {where}: {exc}") from None
        finally:
            progress.close()
            estimator.set_params(callback=None)
        seconds = time.perf_counter() - start
        interrupted = stop.requested
        _warnings_to_stderr(caught)
        if names is not None:
            # The file's column names become the model's feature names.
            estimator.feature_names_in_ = np.asarray(names, dtype=object)
        labels = None
        if args.labels is not None:
            labels = getattr(estimator, "labels_", None)
            if labels is None:
                labels = _predict_in_chunks(estimator, X, "predict", None,
                                            StopRequest(), ProgressLine(enabled=False))
        _write_fit_outputs(estimator, args.output, args.labels, labels)

    n_iter = int(estimator.n_iter_)
    value = float(estimator.inertia_ if objective == "inertia"
                  else estimator.lower_bound_)
    per_iter = clock.seconds_per_iteration(seconds, n_iter)
    converged = bool(estimator.converged_)
    summary = {
        "command": "fit",
        "model": type(estimator).__name__,
        "params": {k: v for k, v in estimator.get_params().items()
                   if isinstance(v, (int, float, str, bool, type(None)))},
        "seed": args.seed,
        "n_samples": n_samples,
        "n_features": n_features,
        "feature_names": names,
        "dtype": str(X.dtype),
        "n_iter": n_iter,
        "converged": converged,
        "interrupted": interrupted,
        "objective": objective,
        "objective_value": value,
        "seconds": seconds,
        "seconds_per_iteration": per_iter,
        "model_file": args.output,
        "labels_file": args.labels,
    }
    lines = [
        f"{summary['model']} with {args.k} clusters on {n_samples} x {n_features} "
        f"{X.dtype} from {where}, seed {args.seed}",
        f"  {n_iter} iterations in {seconds:.3f} s ({per_iter:.4g} s/iteration)"
        + (", converged" if converged else ", NOT converged"),
        f"  {objective} {value:.6g}",
        f"  model written to {args.output}",
    ]
    if args.labels is not None:
        lines.append(f"  labels written to {args.labels}")
    _emit(summary, args.json, lines)
    if interrupted:
        print(f"kmgmm: interrupted by Ctrl-C after {n_iter} iterations: the model so "
              f"far was written to {args.output}, marked as not converged "
              "(converged_ False)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


# --------------------------------------------------------------- predict
def default_chunk_rows(n_features, n_outputs):
    """Rows per chunk so that one chunk's input and output take ~32 MB."""
    per_row = 8 * (n_features + n_outputs)
    return int(min(max(DEFAULT_CHUNK_BYTES // per_row, 1024), 1 << 20))


def _predict_in_chunks(model, X, method, writer, stop, progress, chunk_rows=None):
    """Apply ``model.<method>`` to X chunk by chunk; write or return the result."""
    n_samples = X.shape[0]
    k = _n_clusters(model)
    if chunk_rows is None:
        chunk_rows = default_chunk_rows(X.shape[1], k if method == "predict_proba" else 1)
    predict = getattr(model, method)
    pieces = [] if writer is None else None
    counts = np.zeros(k, dtype=np.int64)
    for start in range(0, n_samples, chunk_rows):
        stop.check(f"row {start}")
        block = np.asarray(X[start:start + chunk_rows])
        try:
            out = predict(block)
        except ValueError as exc:
            raise ValueError(f"rows {start} to {start + len(block) - 1}: {exc}") from None
        if method == "predict":
            counts += np.bincount(out, minlength=k)[:k]
        if writer is None:
            pieces.append(out)
        else:
            writer.write(start, out)
        done = start + len(block)
        progress.update(f"kmgmm predict: {done}/{n_samples} rows  "
                        f"elapsed {progress.elapsed():.1f} s", force=done == n_samples)
    if writer is None:
        return np.concatenate(pieces)
    return counts


def _n_clusters(model):
    for name in ("n_clusters", "n_components"):
        if hasattr(model, name):
            return int(getattr(model, name))
    raise TypeError(f"cannot tell the number of clusters of {type(model).__name__}")


def _load_model_or_fail(path):
    """(model, header) of a model file; UsageError naming it if unreadable."""
    from ._model_files import load_model_and_header

    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = load_model_and_header(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _warnings_to_stderr(caught)
    return loaded


def _cmd_predict(args):
    _check_distinct("predict", [("the model", args.model),
                                ("the data", None if args.data == STDIN else args.data)],
                    [("the output (-o)", args.output)])
    model, _ = _load_model_or_fail(args.model)
    fitted = getattr(model, "feature_names_in_", None)
    if args.columns is None and fitted is not None:
        # A file with column names gives the model's columns by name (it may
        # hold others, an id say).
        names = column_names(args.data, args.delimiter)
        if names is not None:
            missing = [name for name in fitted if name not in names]
            if missing:
                raise UsageError(
                    f"predict: {args.data} has no column {missing[0]!r}, which the "
                    f"model in {args.model} was fitted on (its features: "
                    f"{', '.join(map(str, fitted))}); name the columns to use with "
                    "--columns")
            args.columns = [str(name) for name in fitted]
    X, _ = _read_data(args)
    n_samples, n_features = X.shape
    if n_features != model.n_features_in_:
        raise UsageError(f"{args.data}: has {n_features} features but the model in "
                         f"{args.model} was fitted on {model.n_features_in_}; pass "
                         "data with the same columns")
    method = "predict"
    k = _n_clusters(model)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise UsageError(f"predict: --proba needs a Gaussian mixture model; "
                             f"{type(model).__name__} assigns hard labels only")
        method = "predict_proba"
        shape = (n_samples, k)
        dtype = np.float32 if X.dtype == np.float32 else np.float64
    else:
        shape = (n_samples,)
        dtype = np.int32
    if args.threads is not None:
        model.set_params(n_threads=args.threads)
    check_output_path(args.output)
    progress = ProgressLine(enabled=not args.quiet)
    start = time.perf_counter()
    try:
        with StopRequest() as stop, ArrayWriter(args.output, shape, dtype) as writer, \
                warnings.catch_warnings():
            # A model fitted in Python on a DataFrame has feature names; data
            # files have none, and one warning per chunk would only be noise.
            warnings.filterwarnings("ignore",
                                    message="X does not have valid feature names")
            try:
                counts = _predict_in_chunks(model, X, method, writer, stop, progress,
                                            chunk_rows=args.chunk_size)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"predict: {args.data}: {exc}") from None
            finally:
                progress.close()
            writer.commit()
    except OSError as exc:
        raise _write_failed(exc) from None
    seconds = time.perf_counter() - start
    summary = {
        "command": "predict",
        "model": type(model).__name__,
        "n_samples": n_samples,
        "n_features": n_features,
        "output": args.output,
        "proba": bool(args.proba),
        "seconds": seconds,
    }
    lines = [f"{method} of {type(model).__name__} on {n_samples} rows of {args.data} "
             f"in {seconds:.3f} s, written to {args.output}"]
    if not args.proba:
        summary["cluster_sizes"] = counts.tolist()
        lines.append("  cluster sizes: " + " ".join(str(c) for c in counts))
    _emit(summary, args.json, lines)
    return EXIT_OK


# ------------------------------------------------------------------ info
def _cmd_info(args):
    model, header = _load_model_or_fail(args.model)
    info = {
        "file": args.model,
        "model": header["estimator"],
        "kmgmm_version": header.get("kmgmm_version"),
        "format_version": header["format_version"],
        "params": model.get_params(),
        "params_not_saved": header.get("params_not_saved", []),
        "fitted": header["scalars"],
        "arrays": header["arrays"],
    }
    if "feature_names_in" in header:
        info["feature_names_in"] = header["feature_names_in"]
    lines = [
        f"{args.model}: {info['model']} model, written by kmgmm "
        f"{info['kmgmm_version']} (model format {info['format_version']})",
        "parameters: " + ", ".join(f"{k}={v!r}" for k, v in sorted(info["params"].items())
                                   if not isinstance(v, np.ndarray)),
        "fitted: " + ", ".join(f"{k}={v!r}" for k, v in info["fitted"].items()),
        "arrays:",
    ]
    width = max(len(k) for k in info["arrays"])
    for key, meta in info["arrays"].items():
        lines.append(f"  {key:<{width}}  shape {tuple(meta['shape'])}  "
                     f"{np.dtype(meta['dtype']).name}")
    if info["params_not_saved"]:
        lines.append("not saved (defaults used on load): "
                     + ", ".join(info["params_not_saved"]))
    if "feature_names_in" in info:
        lines.append("features: " + ", ".join(info["feature_names_in"]))
    info["params"] = {k: v for k, v in info["params"].items()
                      if not isinstance(v, np.ndarray)}
    _emit(info, args.json, lines)
    return EXIT_OK


# ------------------------------------------------------------ demo, bench
def _cmd_demo(args):
    from ._demo import MIN_SAMPLES, run_demo

    if args.n_samples < MIN_SAMPLES:
        raise UsageError(f"demo: --n-samples {args.n_samples} is too small; use at "
                         f"least {MIN_SAMPLES}")
    if args.plot is not None:
        check_output_path(args.plot, what="plot")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("demo: --plot needs matplotlib; install it with "
                             "pip install 'kmgmm[plot]'") from None
    with StopRequest() as stop:
        return run_demo(n_samples=args.n_samples, seed=args.seed, n_threads=args.threads,
                        max_iter=args.max_iter, plot=args.plot, as_json=args.json,
                        quiet=args.quiet, stop=stop)


def _cmd_bench(args):
    from ._bench import run_bench

    with StopRequest() as stop:
        return run_bench(quick=args.quick, as_json=args.json, n_threads=args.threads,
                         quiet=args.quiet, stop=stop, scale=args.scale)


# ---------------------------------------------------------------- parser
def _cap_threads(args):
    """Lower a --threads above the thread cap to it, with a one-line warning."""
    from ._threads import max_threads

    threads = getattr(args, "threads", None)
    if threads is not None and threads > max_threads():
        print(f"kmgmm: warning: --threads {threads} is more threads than kmgmm "
              f"starts; using {max_threads()}", file=sys.stderr)
        args.threads = max_threads()


COMMANDS = {"demo": _cmd_demo, "fit": _cmd_fit, "predict": _cmd_predict,
            "info": _cmd_info, "bench": _cmd_bench, "select": cmd_select}


def main(argv=None):
    """Run the command line; returns the exit status."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        _cap_threads(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"kmgmm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (DataFileError, OutputPathError) as exc:
        print(f"kmgmm: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WriteFailed as exc:
        print(f"kmgmm: {exc}; nothing was written", file=sys.stderr)
        return EXIT_WRITE_FAILED
    except Interrupted as exc:
        print(f"kmgmm: interrupted at {exc.where or 'Ctrl-C'}; nothing written",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\nkmgmm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head): not an error worth a trace.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except MemoryError:
        print("kmgmm: out of memory; use a smaller --chunk-size or fewer rows",
              file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # a bug: show where it happened
        traceback.print_exc()
        print(f"kmgmm: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
