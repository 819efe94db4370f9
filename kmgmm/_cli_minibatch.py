"""``kmgmm fit --mini-batch``: MiniBatchKMeans on a data file of any size,
read a block of rows at a time (``_minibatch_stream``), with a progress line
per step and Ctrl-C keeping the model of the steps done.  With ``--model
gmm`` it runs online EM instead (``_cli_online_em``)."""
import time
import warnings

from ._cli_common import streamed_fit_lines
from ._exceptions import UsageError
from ._progress import Interrupted, ProgressLine, StopRequest

MINI_BATCH_SIZE = 4096


def build_minibatch(args):
    """The MiniBatchKMeans the command's options describe."""
    if args.model != "kmeans":
        from ._cli_online_em import build_online_em

        return build_online_em(args)
    for option in ("covariance_type", "assignment", "variance", "max_iter", "tol",
                   "learning_decay", "learning_offset", "reg_covar", "resume"):
        if getattr(args, option) is not None:
            raise UsageError(f"fit: --{option.replace('_', '-')} does not apply to "
                             "--mini-batch k-means (its options are --batch-size and "
                             "--passes)")
    from ._minibatch import MiniBatchKMeans

    return MiniBatchKMeans(args.k, random_state=args.seed, n_threads=args.threads,
                           batch_size=args.batch_size or MINI_BATCH_SIZE,
                           n_init=args.n_init or "auto", compute_labels=False)


def fit_minibatch(args, X, sample_weight, estimator, write_outputs, report_warnings):
    """Fit, write the model (and the labels, computed in one more pass, with
    ``--labels``).  Returns (summary, lines) for the command to print, or
    (None, message) when Ctrl-C stopped the fit and the model of the steps
    done was written (without labels)."""
    if not hasattr(estimator, "n_clusters"):
        from ._cli_online_em import fit_online_em

        return fit_online_em(args, X, sample_weight, estimator, write_outputs,
                             report_warnings)
    from ._minibatch_stream import fit_stream, labels_and_inertia

    passes = args.passes or 1
    progress = ProgressLine(enabled=not args.quiet)
    interrupted = None
    with StopRequest() as stop:
        def on_step(n_pass, step, n_steps, inertia):
            progress.update(f"kmgmm fit: pass {n_pass}/{passes}  step {step}/{n_steps}  "
                            f"batch inertia per row {inertia:.6g}  "
                            f"elapsed {progress.elapsed():.1f} s", force=step == n_steps)
            stop.check(f"pass {n_pass}, step {step}")

        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit_stream(estimator, X, sample_weight, passes=passes, callback=on_step)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"fit: {args.data}: {exc}") from None
            except Interrupted as exc:
                if not getattr(estimator, "n_steps_", 0):
                    raise
                interrupted = exc.where
            finally:
                progress.close()
        seconds = time.perf_counter() - start
        report_warnings(caught)
        labels = None
        if args.labels is not None and interrupted is None:
            labels, estimator.inertia_ = labels_and_inertia(
                estimator, X, sample_weight, check=lambda row: stop.check(f"row {row}"))
        write_outputs(estimator, args.output, None if labels is None else args.labels,
                      labels)
    if interrupted is not None:
        return None, (f"interrupted at {interrupted}; the model of the "
                      f"{estimator.n_steps_} steps done is written to {args.output}")
    n_steps = int(estimator.n_steps_)
    summary = {
        "command": "fit",
        "model": "MiniBatchKMeans",
        "params": {k: v for k, v in estimator.get_params().items()
                   if isinstance(v, (int, float, str, bool, type(None)))},
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "dtype": str(X.dtype),
        "n_iter": int(estimator.n_iter_),
        "n_steps": n_steps,
        "converged": None,
        "objective": "inertia",
        "objective_value": float(estimator.inertia_),
        "objective_exact": labels is not None,
        "seconds": seconds,
        "seconds_per_step": seconds / max(n_steps, 1),
        "model_file": args.output,
        "labels_file": args.labels,
    }
    lines = [
        (f"MiniBatchKMeans with {args.k} clusters on {X.shape[0]} x {X.shape[1]} "
         f"{X.dtype} from {args.data}"),
        (f"  {estimator.n_iter_} pass(es), {n_steps} steps of {estimator.batch_size} "
         f"rows in {seconds:.3f} s"),
    ]
    return summary, streamed_fit_lines(lines, f"  inertia {estimator.inertia_:.6g}", args,
                                       exact=labels is not None)
