"""`ganomaly-keras benchmark`: the quality suite over inspection folders (in the
package), and the speed and folder-streaming benchmarks of the repository's
`benchmarks/` folder (from a checkout)."""

import importlib
import os
import sys

from ganomaly_keras.cli import common


def repository_benchmark(name):
    """`benchmarks.<name>` of the repository this package is checked out in.

    The speed and folder benchmarks are not installed with the package; from a
    checkout (an editable install, or the source tree) they import from its
    `benchmarks/` folder.

    Raises:
        RuntimeError: naming how to run them, where no checkout holds them.
    """
    try:
        return importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        if error.name not in ("benchmarks", f"benchmarks.{name}"):
            raise
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(os.path.join(checkout, "benchmarks", f"{name}.py")):
        raise RuntimeError(
            f"the {name} benchmark lives in the repository's benchmarks/ folder, which is "
            "not installed with the package: run it from a checkout of ganomaly-keras "
            f"(python -m benchmarks.{name}, or ganomaly-keras benchmark there)."
        )
    sys.path.insert(0, checkout)
    return importlib.import_module(f"benchmarks.{name}")


def run(args):
    if args.kind == "quality":
        return quality_benchmark(args)
    if args.kind == "folder":
        return folder_benchmark(args)
    run_benchmark = repository_benchmark("speed").run_benchmark
    markdown_report = repository_benchmark("speed_report").markdown_report
    report = run_benchmark(
        out_dir=args.out_dir or "runs/benchmark", pairs=args.pairs,
        training_steps=args.steps or 10, training_rounds=args.rounds,
        precisions=args.precisions, against_torch=args.against_torch, mnist=args.mnist,
        digits=args.digits, epochs=args.epochs, jit_compile=args.jit_compile,
        steps_per_execution=args.steps_per_execution, skip_training=args.skip_training,
        skip_latency=args.skip_latency,
    )
    if args.out:
        from ganomaly_keras.saving import write_json_atomically

        write_json_atomically(args.out, report)
    common.print_json(report)
    print(markdown_report(report))


def folder_benchmark(args):
    folder_streaming = repository_benchmark("folder_streaming")
    out_dir = args.out_dir or "runs/folder_benchmark"
    report = folder_streaming.run_folder_benchmark(
        args.work_dir or os.path.join(out_dir, "data"), out_dir, images=args.images,
        steps=args.steps or 100, batch_size=args.batch_size or 64, pairs=args.pairs,
    )
    print(folder_streaming.markdown_table(report))


def quality_benchmark(args):
    from ganomaly_keras.cli.parser import given_model_options
    from ganomaly_keras.training.defaults import INSPECTION_DEFAULTS, inspection_model_options
    from ganomaly_keras.training.quality_suite import (
        markdown_table,
        run_quality_benchmark,
    )

    if not args.folder_suite:
        raise ValueError("benchmark quality needs --folder-suite DIR (e.g. PIPED's folder).")
    report = run_quality_benchmark(
        args.folder_suite,
        args.out_dir or "runs/quality",
        detector=args.model,
        model_options=inspection_model_options(args.model, given_model_options(args)),
        steps=args.steps or INSPECTION_DEFAULTS["steps"],
        image_size=args.image_size or INSPECTION_DEFAULTS["image_size"],
        batch_size=args.batch_size or INSPECTION_DEFAULTS["batch_size"],
        augment=args.augment,
        folders=args.folders,
        working_size=args.working_size or INSPECTION_DEFAULTS["working_size"],
    )
    print(markdown_table(report))
