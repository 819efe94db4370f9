"""``kmgmm fit --model gmm --mini-batch``: a Gaussian mixture by online EM
(``GaussianMixture.partial_fit``) on a data file of any size, read a block of
rows at a time (``_gmm_stream``), with a progress line per step and Ctrl-C
keeping the model of the steps done (marked unconverged)."""
import time
import warnings

from ._cli_common import gmm_params
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

    params = gmm_params(args)
    for name in ("n_init", "learning_decay", "learning_offset"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return GaussianMixture(**params)


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
            try:
                result = fit_gmm_stream(estimator, X, sample_weight, batch_size=batch_size,
                                        passes=passes, callback=on_step)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"fit: {args.data}: {exc}") from None
            except Interrupted as exc:
                if not getattr(estimator, "n_steps_", 0):
                    raise
                interrupted = exc.where
                estimator.converged_ = False
            finally:
                progress.close()
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
         f"  {passes} pass(es) in batches of {batch_size} rows: {result['steps']} steps "
         f"in {seconds:.3f} s"),
        f"  mean log-likelihood {value:.6g}" + (
            "" if labels is not None else
            " (from the batches, an estimate; --labels computes it exactly)"),
        f"  model written to {args.output}",
    ]
    if args.labels is not None:
        lines.append(f"  labels written to {args.labels}")
    return summary, lines
