"""The benchmark's report as Markdown: the machine, then one table per section
(training throughput against the PyTorch comparator, scoring latency, MNIST AUROC per
training precision)."""

import numpy as np

from ganomaly_keras.results import markdown_table

# How far a training precision's test AUROC may fall from float32's (issue 14's bound).
AUROC_TOLERANCE = 0.01


def markdown_report(report):
    """The report as Markdown: the machine, then one table per section."""
    machine = report["machine"]
    lines = [
        f"Machine: {machine['processor']}, {machine['cpus']} CPUs, CPU flags "
        f"{' '.join(machine['cpu_flags']) or 'none listed'}; TensorFlow {machine['tensorflow']}, "
        f"Keras {machine['keras']}. Precision choices: "
        + ", ".join(f"{k} -> {v}" for k, v in report["precisions"].items()) + ".",
        "",
        f"matmul peak (float32, this machine): {report['matmul_peak_gflops']:.1f} GFLOP/s",
        "",
    ]
    if "training" in report:
        lines += _training_table(report["training"], report["matmul_peak_gflops"])
    if "latency" in report:
        lines += _latency_table(report["latency"])
    if "mnist" in report:
        lines += _mnist_table(report["mnist"])
    return "\n".join(lines)


def _ratio(versus):
    """"1.23x (1.10-1.30)": a median ratio and its quartiles across rounds; "" for none."""
    if not versus:
        return ""
    q1, q3 = np.quantile(versus["per_round"], [0.25, 0.75])
    return f"{versus['median']:.2f}x ({q1:.2f}-{q3:.2f})"


def _training_table(section, peak):
    flops = section["flops_per_image"]["training"]
    setting = section["setting"]
    lines = [
        f"Training, {setting['image_size']}x{setting['image_size']}x1, batch "
        f"{setting['batch_size']}; "
        f"{len(section['rounds'])} rounds of one timed {setting['steps']}-step epoch per "
        f"candidate, interleaved between warmed-up worker processes (A B, B A, ...); "
        f"{flops / 1e9:.3f} GFLOP per image:",
        "",
    ]
    rows = []
    for candidate in section["candidates"]:
        values = [r[candidate]["images_per_s"] for r in section["rounds"]]
        median = section["median_images_per_s"][candidate]
        rows.append([
            candidate, f"{median:.1f} ({min(values):.0f}-{max(values):.0f})",
            f"{median * flops / 1e9 / peak:.2f}",
            _ratio(section.get("vs_first", {}).get(candidate)),
            _ratio(section.get("vs_torch", {}).get(candidate)),
        ])
    lines.append(markdown_table(
        ["candidate", "images/s, median (lowest-highest)", "fraction of matmul peak",
         f"vs {section['candidates'][0]}, median ratio (quartiles)",
         "vs PyTorch, median ratio (quartiles)"], rows,
    ))
    if "torch_parameters_match_design" in section:
        lines.append(f"\nPyTorch comparator's parameter counts equal docs/design.md's table: "
                     f"{section['torch_parameters_match_design']}.")
    return lines + [""]


def _latency_table(section):
    versus = section.get("speedup_vs_torch", {})
    lines = [
        f"Scoring latency (32x32x1), median of {len(section['rounds'])} alternating rounds; "
        "TFLite on one thread, Keras, SavedModel and PyTorch on all:",
        "",
    ]
    rows = []
    for name, row in section["median"].items():
        ratio = versus.get(name)
        rows.append([name, f"{row['batch1_ms']:.3f}", f"{row['batch64_ms']:.3f}"] + (
            [f"{ratio['batch1_ms']:.2f}x", f"{ratio['batch64_ms']:.2f}x"] if ratio else ["", ""]
        ))
    lines.append(markdown_table(
        ["runtime", "ms/image, batch 1", "ms/image, batch 64", "PyTorch / this, batch 1",
         "PyTorch / this, batch 64"], rows,
    ))
    return lines + [""]


def _mnist_table(section):
    policies = section["policies"]
    lines = [
        f"MNIST leave-one-digit-out, {section['epochs']} epochs, seed {section['seed']} "
        "(epoch selected on validation AUROC, test scored once):",
        "",
    ]
    table = [
        [digit] + [cell for p in policies for cell in (f"{row[p]['test_auroc']:.3f}", row[p]["minutes"])]
        for digit, row in section["per_digit"].items()
    ]
    rows = list(section["per_digit"].values())
    means = [np.mean([row[p]["test_auroc"] for row in rows]) for p in policies]
    table.append(["mean"] + [cell for m in means for cell in (f"{m:.3f}", "")])
    lines.append(markdown_table(
        ["digit"] + [h for p in policies for h in (f"test AUROC, {p}", f"minutes, {p}")], table
    ))
    others = [p for p in policies if p != "float32"] if "float32" in policies else []
    for policy in others:
        gap = max(abs(row[policy]["test_auroc"] - row["float32"]["test_auroc"]) for row in rows)
        lines.append(
            f"\n{policy} against float32: largest test AUROC difference {gap:.3f} over "
            f"{len(rows)} digits ({'within' if gap <= AUROC_TOLERANCE else 'outside'} "
            f"{AUROC_TOLERANCE})."
        )
    return lines + [""]
