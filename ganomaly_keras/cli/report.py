"""`ganomaly-keras report`: rebuild a finished run's `report.html`."""

import sys


def run(args):
    import os

    from ganomaly_keras.training.directory import RunError
    from ganomaly_keras.training.report import build_report
    from ganomaly_keras.training.test_scores import TEST_SCORES

    for needed in ("metrics.json", "model.keras", TEST_SCORES):
        if not os.path.exists(os.path.join(args.run_dir, needed)):
            raise RunError(
                f"{args.run_dir} holds no {needed}: report needs a finished run "
                "(ganomaly-keras train writes it)."
            )
    print(build_report(args.run_dir))
    print("open it in a browser; it needs nothing else", file=sys.stderr)
