"""
Title: The GANomaly family side by side, each trained until its validation AUROC is flat
Description: Leave-one-digit-out on MNIST for every model, and Berg et al.'s
contaminated multi-class setting on MNIST and on pooled PIPED paper types.

Every run trains in chunks of `--every-steps` steps and scores the validation split
after each chunk; it stops once `--patience` chunks in a row gained no more than
`--min-delta` validation AUROC (`benchmarks.budget.train_until_flat`), keeps the
weights of the best chunk, and only then scores the test split, once. The budget of
each run is therefore read from its own validation curve, which is printed and saved
with it; nothing is selected on test.

Tables (`--tables`):

1. `leave_one_out`: MNIST, the paper's protocol (train on the other digits of the
   train split; validation: 10% of those held back plus the held-out digit's train
   images; test: the test split), for every model and each of `--digits`.
2. `contamination_mnist`: Berg et al.'s setting on MNIST: digits 0-4 normal, 5-9
   anomalous, a fraction p of the training set anomalous
   (`ganomaly_keras.data.contaminated_normal_classes`), for GANomaly, skip-GANomaly
   and the simultaneous-encoder model.
3. `contamination_piped`: the same on PIPED (`--piped DIR`): the normal images of every
   paper type pooled, their impurity images the anomalies
   (`ganomaly_keras.data.contaminated_folders`).

Every model's paper scores and the map-based scores of `ganomaly_keras.scoring.terms`
(`available_scores`, standardised against the training images) are reported from the
same trained model. The direction of the latent-norm cue is not
assumed: its validation AUROC says which way it points, and a row gives the test AUROC
of the latent norm taken in the direction validation chose.

`--models SkipGANomaly-official-D-loss` adds skip-GANomaly with the official code's
discriminator loss (`discriminator_latent_weight=0.5`: D narrows the feature gap too)
to the contamination tables.

To fit a table into about 90 minutes on 2 cores, the images are subsampled (seeded,
the same subsets for every model): `--max-train-images`, `--max-validation-images`,
`--max-test-images`; and `--digits` picks the held-out digits. Steps are not cut: they
come from the curves, up to `--max-steps`.

Every result is written to `--out` (runs/family/results.json) as soon as it is
measured, and a rerun with the same file and budget skips what is already there.

Usage:
    python -m benchmarks.family --mnist mnist.npz --tables leave_one_out \
        --digits 0 1 2 --out family.json
    python -m benchmarks.family --mnist mnist.npz --piped ../shared/data/piped \
        --tables contamination_mnist contamination_piped --out contamination.json
"""

import argparse
import json
import os
import time

from ganomaly_keras import configure_tensorflow

configure_tensorflow()  # before TensorFlow loads

import keras
import numpy as np

from benchmarks.budget import train_until_flat
from ganomaly_keras.data import (
    Split,
    contaminated_folders,
    contaminated_normal_classes,
    load_npz,
    load_split,
    paper_leave_one_class_out,
)
from ganomaly_keras.metrics.evaluation import ranking_metrics
from ganomaly_keras.models import DETECTORS
from ganomaly_keras.results import ResultsStore, markdown_table

MODELS = {cls.__name__: (cls, {}) for cls in DETECTORS.values()}
# Variants run only when named in --models: skip-GANomaly with the official code's
# discriminator loss, which narrows the feature gap too (samet-akcay/skip-ganomaly).
VARIANTS = {"SkipGANomaly-official-D-loss": (MODELS["SkipGANomaly"][0],
                                             {"discriminator_latent_weight": 0.5})}
BERG_MODELS = ("GANomaly", "SkipGANomaly", "SimultaneousEncoderGAN", *VARIANTS)
TABLES = ("leave_one_out", "contamination_mnist", "contamination_piped")
NORMAL_DIGITS = (0, 1, 2, 3, 4)


def subsample(split, limit, seed):
    """At most `limit` images of `split`, drawn with `seed` (all when limit is 0)."""
    if not limit or len(split.labels) <= limit:
        return split
    keep = np.sort(np.random.default_rng(seed).permutation(len(split.labels))[:limit])
    return Split(split.images[keep], split.labels[keep])


def limited(splits, args):
    return (
        subsample(splits["train"], args.max_train_images, args.seed),
        subsample(splits["validation"], args.max_validation_images, args.seed),
        subsample(splits["test"], args.max_test_images, args.seed),
    )


def auroc(labels, scores):
    return ranking_metrics(scores, labels)["auroc"]


def train_and_test(name, train, validation, test, args):
    """One run: train until the validation curve is flat, then score test once."""
    keras.utils.set_random_seed(args.seed)
    channels = train.images.shape[-1]
    cls, options = {**MODELS, **VARIANTS}[name]
    model = cls(image_size=args.image_size, channels=channels, seed=args.seed, **options)
    model.compile()
    start = time.perf_counter()
    result = train_until_flat(
        model, train.images, validation.images, validation.labels,
        every_steps=args.every_steps, max_steps=args.max_steps, min_delta=args.min_delta,
        patience=args.patience, batch_size=64, seed=args.seed,
    )
    # The map-based scores standardise against the training images, contaminated or
    # not, as a user's would be; then every paper and map score of the budget's
    # weights on validation (which chooses the latent norm's direction) and on test.
    model.fit_normal_statistics(subsample(train, 2000, args.seed).images)
    for split, key in ((validation, "validation_auroc_by_score"), (test, "test_auroc_by_score")):
        terms = model.predict_terms(split.images, model.available_scores)
        result[key] = {s: auroc(split.labels, v) for s, v in terms.items()}
    result["score"] = model.score
    result["test_auroc"] = result["test_auroc_by_score"][model.score]
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["images"] = {"train": len(train.labels), "train_anomalies": int(train.labels.sum()),
                        "validation": len(validation.labels), "test": len(test.labels)}
    return result


def curve_line(result):
    points = " ".join(f"{r['step']}:{r['auroc']:.3f}" for r in result["curve"])
    state = "flat" if result["flattened"] else "not flat by --max-steps"
    return (f"validation curve {points} -> budget {result['budget_steps']} steps ({state}); "
            f"test AUROC {result['test_auroc']:.3f}, {result['seconds']:.0f} s")


def score_rows(name, runs):
    """(label, test AUROCs) rows of one model: its score, then its other paper scores,
    then, where it has one, the latent norm in the direction validation chose."""
    first, main = runs[0]["test_auroc_by_score"], runs[0]["score"]
    rows = [(name, [r["test_auroc"] for r in runs])]
    for score in first:
        if score != main:
            rows.append((f"{name}, {score} score", [r["test_auroc_by_score"][score] for r in runs]))
    if "latent_norm" in first:
        directed = []
        for r in runs:
            reversed_ = r["validation_auroc_by_score"]["latent_norm"] < 0.5
            value = r["test_auroc_by_score"]["latent_norm"]
            directed.append(1 - value if reversed_ else value)
        rows.append((f"{name}, latent_norm in the direction chosen on validation", directed))
    return rows


def markdown(results, table, columns, header):
    rows = []
    for name, row in results.get(table, {}).items():
        if any(str(c) not in row for c in columns):
            continue
        runs = [row[str(c)] for c in columns]
        steps = ", ".join(str(r["budget_steps"]) + ("" if r["flattened"] else "*") for r in runs)
        seconds = f"{sum(r['seconds'] for r in runs):.0f}"
        for i, (label, values) in enumerate(score_rows(name, runs)):
            rows.append([label] + [f"{v:.3f}" for v in values] + [f"{np.mean(values):.3f}"]
                        + ([steps, seconds] if i == 0 else ["(same models)", ""]))
    return markdown_table(
        ["model"] + [header(c) for c in columns] + ["mean", "budget steps", "seconds"], rows
    )


def directions(results, table):
    """What validation says about the latent norm's direction, run by run."""
    found = []
    for column, run in results.get(table, {}).get("SimultaneousEncoderGAN", {}).items():
        value = run["validation_auroc_by_score"].get("latent_norm")
        if value is not None:
            found.append(f"{column}: {value:.3f} ({'larger' if value >= 0.5 else 'smaller'} norm = anomaly)")
    return "; ".join(found)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", required=True, help="mnist.npz in Keras' layout")
    parser.add_argument("--piped", help="PIPED's folder of paper types (contamination_piped)")
    parser.add_argument("--tables", nargs="+", choices=TABLES, default=list(TABLES[:2]))
    parser.add_argument("--digits", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        choices=list(MODELS) + list(VARIANTS))
    parser.add_argument("--contamination", type=float, nargs="+", default=[0.0, 0.01, 0.05, 0.1, 0.2])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--every-steps", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=800)
    parser.add_argument("--patience", type=int, default=2)
    parser.add_argument("--min-delta", type=float, default=0.005)
    parser.add_argument("--max-train-images", type=int, default=10000)
    parser.add_argument("--max-validation-images", type=int, default=1000)
    parser.add_argument("--max-test-images", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/family/results.json",
                        help="the results file: written after every run, resumed from")
    args = parser.parse_args()
    if "contamination_piped" in args.tables and not args.piped:
        parser.error("contamination_piped needs --piped DIR")

    budget = {key: getattr(args, key) for key in (
        "image_size", "every_steps", "max_steps", "patience", "min_delta", "max_train_images",
        "max_validation_images", "max_test_images", "seed")}
    budget["batch_size"] = 64
    store = ResultsStore(args.out, budget, on_mismatch="refuse")
    (x_train, c_train), (x_test, c_test) = load_npz(args.mnist, args.image_size, 1)

    def run(table, name, column, splits):
        result = store.measure((table, name, str(column)),
                               lambda: train_and_test(name, *splits, args))
        print(f"{table} {column} {name}: {curve_line(result)}", flush=True)

    if "leave_one_out" in args.tables:
        for digit in args.digits:
            splits = limited(paper_leave_one_class_out((x_train, c_train), (x_test, c_test),
                                                       digit, seed=args.seed), args)
            for name in args.models:
                run("leave_one_out", name, digit, splits)
    berg = [name for name in BERG_MODELS if name in args.models]
    if "contamination_mnist" in args.tables:
        images, classes = np.concatenate([x_train, x_test]), np.concatenate([c_train, c_test])
        for p in args.contamination:
            splits = limited(contaminated_normal_classes(images, classes, NORMAL_DIGITS, p,
                                                         seed=args.seed), args)
            for name in berg:
                run("contamination_mnist", name, p, splits)
    if "contamination_piped" in args.tables:
        roots = sorted(os.path.join(args.piped, d) for d in os.listdir(args.piped)
                       if os.path.isdir(os.path.join(args.piped, d, "train")))
        for p in args.contamination:
            files = contaminated_folders(roots, p, seed=args.seed)
            splits = [Split(*load_split(files[s], args.image_size, 3))
                      for s in ("train", "validation", "test")]
            for name in berg:
                run("contamination_piped", name, p, splits)

    print(f"\nBudget: {json.dumps(budget)}; budget steps marked * did not flatten by max_steps.\n")
    tables = {
        "leave_one_out": ("Leave-one-digit-out (MNIST), test AUROC at each run's budget",
                          args.digits, lambda d: f"digit {d}"),
        "contamination_mnist": ("Contamination, MNIST digits 0-4 normal, 5-9 anomalous",
                                args.contamination, lambda p: f"p = {p}"),
        "contamination_piped": ("Contamination, PIPED: all paper types' normal images pooled, "
                                "impurities anomalous", args.contamination, lambda p: f"p = {p}"),
    }
    results = store.results
    for table in args.tables:
        title, columns, header = tables[table]
        print(f"{title}:\n\n{markdown(results, table, columns, header)}\n")
        found = directions(results, table)
        if found:
            print(f"Latent-norm validation AUROC of the simultaneous-encoder model: {found}\n")


if __name__ == "__main__":
    main()
