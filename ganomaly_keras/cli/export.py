"""`ganomaly-keras export`: write a saved model in every format it supports."""

import os

from ganomaly_keras.cli import common


def run(args):
    from ganomaly_keras.deploy.export import export_model, supported_formats

    path, model = common.load(args.model)
    formats = args.formats or supported_formats(model)
    run_dir = os.path.dirname(os.path.abspath(path))
    known_data = common.data_given(args) or os.path.exists(os.path.join(run_dir, "config.json"))
    splits = None
    if "tflite_int8" in formats or known_data:
        splits = common.spec_for(args, model, path).splits()
    paths = export_model(
        model, args.out, formats=formats,
        representative_data=splits["train_sample"] if splits else None,
        # The data the model came from, so that verify_export tests it on its own
        # test split (without it, verify_export falls back to the digits).
        training_data=splits["summary"] if splits and known_data else None,
    )
    common.print_json(paths)
