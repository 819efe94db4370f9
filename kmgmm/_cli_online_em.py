"""``kmgmm fit --model gmm --mini-batch``: a Gaussian mixture by online EM
(``GaussianMixture.partial_fit``) on a data file of any size, read a block of
rows at a time (``_gmm_stream``), with a progress line per step and Ctrl-C
keeping the model of the steps done (marked unconverged)."""
import time
import warnings

from ._cli_common import gmm_params, streamed_fit_lines
from ._exceptions import UsageError
from ._progress import Interrupted, ProgressLine, StopRequest

ONLINE_BATCH_SIZE = 4096


def build_online_em(args):
    """The GaussianMixture the command's options describe, for online EM."""
    for option in ("max_iter", "tol"):
        if getattr(args, option) is not None:
            raise UsageError(f"fit: --{option.replace('_', '-')} does not apply to "
                             "--mini-batch --model gmm: online EM takes one step per "
                             "batch and never stops by itself; --passes sets how long "
                             "it runs")
    from ._gmm import GaussianMixture

    if args.resume is not None:
        return _resumed(args)
    params = gmm_params(args)
    for name in ("n_init", "learning_decay", "learning_offset"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return GaussianMixture(**params)


def _resumed(args):
    """The GaussianMixture of the model file ``--resume`` names, with the
    command's --threads and learning options."""
    from ._gmm import GaussianMixture
    from ._model_files import load_model

    for option in ("covariance_type", "init", "n_init", "assignment", "variance",
                   "reg_covar", "algorithm"):
        if getattr(args, option) is not None:
            raise UsageError(f"fit: --{option.replace('_', '-')} does not apply with "
                             f"--resume: the model {args.resume} has its own")
    try:
        gm = load_model(args.resume)
    except ValueError as exc:
        raise UsageError(f"fit: --resume: {exc}") from None
    if type(gm) is not GaussianMixture:
        raise UsageError(f"fit: --resume {args.resume} holds a {type(gm).__name__}; "
                         "online EM continues a GaussianMixture")
    k = gm.means_.shape[0]
    if args.k != k:
        raise UsageError(f"fit: -k {args.k} does not match the {k} components of "
                         f"{args.resume}; give -k {k}")
    params = {"n_threads": args.threads}
    for name in ("learning_decay", "learning_offset"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return gm.set_params(**params)


def fit_online_em(args, X, sample_weight, estimator, write_outputs, report_warnings):
    """Fit, write the model (and the labels, computed in one more pass, with
    ``--labels``).  Returns (summary, lines) for the command to print, or
    (None, message) when Ctrl-C stopped the fit and the model of the steps
    done was written (without labels)."""
    from ._gmm_stream import fit_gmm_stream, labels_and_score

    passes = args.passes or 1
    batch_size = args.batch_size or ONLINE_BATCH_SIZE
    progress = ProgressLine(enabled=not args.quiet)
    interrupted = None
    resumed = args.resume is not None
    steps_before = getattr(estimator, "n_steps_", 0) if resumed else 0
    with StopRequest() as stop:
        def on_step(n_pass, step, n_steps, log_likelihood):
            where = "seeding" if n_pass == 0 else f"pass {n_pass}/{passes}"
            progress.update(f"kmgmm fit: {where}  step {step}/{n_steps}  "
                            f"batch mean log-likelihood {log_likelihood:.6g}  "
                            f"elapsed {progress.elapsed():.1f} s",
                            force=step in (1, n_steps))
            stop.check(f"pass {n_pass}, step {step}")

        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if resumed:
                if X.shape[1] != estimator.n_features_in_:
                    raise UsageError(
                        f"fit: {args.data} has {X.shape[1]} features but the model "
                        f"{args.resume} was fitted on {estimator.n_features_in_}")
                # The data's columns are the model's (unnamed batches would warn).
                names = estimator.__dict__.pop("feature_names_in_", None)
            try:
                result = fit_gmm_stream(estimator, X, sample_weight, batch_size=batch_size,
                                        passes=passes, callback=on_step,
                                        random_state=args.seed)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"fit: {args.data}: {exc}") from None
            except Interrupted as exc:
                if not getattr(estimator, "n_steps_", 0):
                    raise
                interrupted = exc.where
                estimator.converged_ = False
            finally:
                progress.close()
                if resumed and names is not None:
                    estimator.feature_names_in_ = names
        seconds = time.perf_counter() - start
        report_warnings(caught)
        labels = None
        if args.labels is not None and interrupted is None:
            labels, exact = labels_and_score(
                estimator, X, sample_weight, check=lambda row: stop.check(f"row {row}"))
        write_outputs(estimator, args.output, None if labels is None else args.labels,
                      labels)
    n_steps = int(estimator.n_steps_)
    if interrupted is not None:
        return None, (f"interrupted at {interrupted}; the model of the {n_steps} steps "
                      f"done is written to {args.output} (marked not converged)")
    value = exact if labels is not None else result["estimate"]
    summary = {
        "command": "fit",
        "model": "GaussianMixture",
        "algorithm": "online EM",
        "params": {k: v for k, v in estimator.get_params().items()
                   if isinstance(v, (int, float, str, bool, type(None)))},
        "seed": args.seed,
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "dtype": str(X.dtype),
        "batch_size": batch_size,
        "passes": passes,
        "seeding_rows": result["seeding_rows"],
        "resumed_from": args.resume,
        "n_steps_before": steps_before,
        "n_steps": n_steps,
        "converged": None,
        "objective": "mean log-likelihood",
        "objective_value": value,
        "objective_exact": labels is not None,
        "seconds": seconds,
        "seconds_per_step": seconds / max(result["steps"], 1),
        "model_file": args.output,
        "labels_file": args.labels,
    }
    lines = [
        (f"GaussianMixture ({estimator.covariance_type}, online EM) with {args.k} "
         f"components on {X.shape[0]} x {X.shape[1]} {X.dtype} from {args.data}"),
        (f"  initialised on {result['seeding_rows']} rows drawn at random (the first "
         f"step), then {passes} pass(es) in batches of {batch_size} rows: "
         f"{result['steps']} steps in {seconds:.3f} s"
         if result["seeding_rows"] else
         f"  continued {args.resume} ({steps_before} steps before): {passes} pass(es) "
         f"in batches of {batch_size} rows: {result['steps']} steps in {seconds:.3f} s"),
    ]
    return summary, streamed_fit_lines(lines, f"  mean log-likelihood {value:.6g}", args,
                                       exact=labels is not None)
