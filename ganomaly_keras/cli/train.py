"""`ganomaly-keras train`: train, select on validation, calibrate, test once, export."""

import sys

from ganomaly_keras.cli import common


def _training_budget(args):
    """`(epochs, steps, batch_size, score)`: as given, else the inspection defaults
    for a folder, else 15 epochs of 64 with the model's paper score."""
    from ganomaly_keras.training.defaults import INSPECTION_DEFAULTS

    inspecting = bool(args.folder)
    epochs, steps = args.epochs, args.steps  # both given: train_run refuses it
    if epochs is None and steps is None and inspecting:
        steps = INSPECTION_DEFAULTS["steps"]  # otherwise train_run's 15 epochs
    batch_size = args.batch_size or (INSPECTION_DEFAULTS["batch_size"] if inspecting else 64)
    score = args.score or (INSPECTION_DEFAULTS["score"] if inspecting else None)
    return epochs, steps, batch_size, score


def run(args):
    from ganomaly_keras.cli.parser import given_model_options
    from ganomaly_keras.deploy.export import EXPORT_FORMATS
    from ganomaly_keras.training.run import train_run

    epochs, steps, batch_size, score = _training_budget(args)
    given = given_model_options(args)
    if args.folder:
        from ganomaly_keras.training.defaults import inspection_model_options

        given = inspection_model_options(args.model, given)
    if score is not None:
        given["score"] = score
    metrics = train_run(
        args.run_dir,
        common.spec_from_args(args),
        given,
        detector=args.model,
        epochs=epochs,
        steps=steps,
        validation_every=args.validation_every,
        augment=args.augment,
        batch_size=batch_size,
        jit_compile=args.jit_compile,
        export_formats=() if args.no_export else (args.formats or EXPORT_FORMATS),
        overwrite=args.overwrite,
        verbose=args.verbose,
        deterministic=args.deterministic,
        strategy=args.strategy,
        precision=args.precision,
        steps_per_execution=args.steps_per_execution,
    )
    common.print_json({k: metrics[k] for k in ("selected_epoch", "score", "validation", "test")})
    print(f"run directory: {args.run_dir}", file=sys.stderr)
