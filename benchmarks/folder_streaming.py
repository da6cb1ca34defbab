"""Memory and speed of training from a large folder, against training from memory.

`run_folder_benchmark` (behind `ganomaly-keras benchmark folder`) writes a folder of
`images` generated PNGs (32x32 grayscale textures, seeded) into `work_dir`, then
trains GANomaly on it in two ways, each in a fresh child process so that peak memory
is that process's own:

- "streamed": `image_dataset` over the file paths (shuffled paths, parallel decode);
- "in_memory": every image decoded into a NumPy array first, then `fit(x)`.

Each child reports its peak resident memory (`ru_maxrss`) and its training
throughput over `steps` timed updates after a warm-up. The two alternate (streamed,
in memory, streamed, ...) `pairs` times, and the report gives each pair's ratio and
their median. Results are written to `<out_dir>/results.json` after every
measurement; a rerun with the same settings skips what was measured already.
"""

import json
import os
import resource
import statistics
import sys
import time

import numpy as np

from benchmarks.measurement import measure_in_child, speed_flags
from ganomaly_keras import arguments
from ganomaly_keras.results import ResultsStore
from ganomaly_keras.results import markdown_table as results_table

MODES = ("streamed", "in_memory")
IMAGE_SIZE = 32


def make_folder(folder, images, seed=0):
    """`images` seeded 32x32 grayscale PNG textures in `folder` (kept between runs)."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    have = {n for n in os.listdir(folder) if n.endswith(".png")}
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (64, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i in range(images):
        name = f"{i:06d}.png"
        if name in have:
            continue
        noise = np.random.default_rng(seed + i + 1).integers(-20, 21, (IMAGE_SIZE, IMAGE_SIZE))
        pixels = np.clip(base[i % 64].astype(int) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, name + ".part"), format="PNG")
        os.replace(os.path.join(folder, name + ".part"), os.path.join(folder, name))
    return sorted(os.path.join(folder, f"{i:06d}.png") for i in range(images))


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def measure(mode, folder, steps, batch_size, warmup_steps=10):
    """Train in this process from `folder` by `mode`; returns the figures.

    Run it in a fresh process (`run_folder_benchmark` does): the peak memory it
    reports is the whole process's.
    """
    import keras

    from ganomaly_keras import GANomaly
    from ganomaly_keras.data.decoding import decode_files, image_dataset
    from ganomaly_keras.data.folders import list_images

    arguments.choice("mode", mode, MODES)
    paths = list_images(folder)
    keras.utils.set_random_seed(0)
    model = GANomaly(image_size=IMAGE_SIZE, channels=1)
    model.compile(jit_compile=False)
    start = time.perf_counter()
    if mode == "streamed":
        data = image_dataset(paths, IMAGE_SIZE, 1, batch_size, shuffle=True, seed=0).repeat()
        fit = dict(x=data)
    else:
        images = decode_files(paths, IMAGE_SIZE, 1).images
        fit = dict(x=images, batch_size=batch_size, shuffle=True)
    prepare_seconds = time.perf_counter() - start
    model.fit(**fit, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
    start = time.perf_counter()
    model.fit(**fit, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    return {
        "mode": mode,
        "images_in_folder": len(paths),
        "prepare_seconds": round(prepare_seconds, 2),
        "timed_steps": steps,
        "images_per_second": round(steps * batch_size / seconds, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def run_folder_benchmark(work_dir, out_dir, images=50_000, steps=100, batch_size=64, pairs=3):
    """Generate the folder, measure both modes alternately, report as measured.

    Args:
        work_dir: where the generated folder lives (`<work_dir>/images`); reused.
        out_dir: `results.json` (after every measurement) and `results.md`.
        images: PNG files in the folder.
        steps: timed training updates per measurement.
        batch_size: images per update.
        pairs: streamed/in-memory pairs, alternating.

    Returns:
        the report dict.
    """
    images = arguments.positive_integer("images", images)
    steps = arguments.positive_integer("steps", steps)
    batch_size = arguments.positive_integer("batch_size", batch_size)
    pairs = arguments.positive_integer("pairs", pairs)
    settings = {"images": images, "steps": steps, "batch_size": batch_size, "pairs": pairs}
    store = ResultsStore(os.path.join(out_dir, "results.json"),
                         dict(settings, cpu_flags=speed_flags()), announce=True)
    folder = os.path.join(work_dir, "images")
    start = time.perf_counter()
    make_folder(folder, images)
    order = [mode for _ in range(pairs) for mode in MODES]
    measurements = [
        store.measure(f"{index + 1}/{len(order)} {mode}", lambda mode=mode: measure_in_child(
            "benchmarks.folder_streaming",
            {"mode": mode, "folder": folder, "steps": steps, "batch_size": batch_size},
        ))
        for index, mode in enumerate(order)
    ]
    report = {"settings": settings, "cpu_flags": speed_flags(), "measurements": measurements,
              "folder_seconds": round(time.perf_counter() - start, 1)}
    report["summary"] = summarize(report["measurements"])
    store.data["report"] = report
    store.save()
    with open(os.path.join(out_dir, "results.md"), "w") as handle:
        handle.write(markdown_table(report))
    return report


def summarize(measurements):
    streamed = [m for m in measurements if m["mode"] == "streamed"]
    memory = [m for m in measurements if m["mode"] == "in_memory"]
    ratios = [s["images_per_second"] / m["images_per_second"] for s, m in zip(streamed, memory)]
    return {
        "streamed_median_images_per_second": _median(streamed),
        "in_memory_median_images_per_second": _median(memory),
        "throughput_ratios": [round(r, 3) for r in ratios],
        "median_throughput_ratio": round(statistics.median(ratios), 3) if ratios else None,
        "streamed_peak_rss_mb": max(m["peak_rss_mb"] for m in streamed) if streamed else None,
        "in_memory_peak_rss_mb": max(m["peak_rss_mb"] for m in memory) if memory else None,
    }


def _median(measurements):
    values = [m["images_per_second"] for m in measurements]
    return round(statistics.median(values), 1) if values else None


def markdown_table(report):
    s = report["settings"]
    rows = [
        [i + 1, m["mode"], m["images_per_second"], f"{m['peak_rss_mb']:.0f}", m["prepare_seconds"]]
        for i, m in enumerate(report["measurements"])
    ]
    summary = report.get("summary", {})
    return (
        f"Folder of {s['images']:,} PNGs (32x32x1), GANomaly, batch {s['batch_size']}, "
        f"{s['steps']} timed steps per measurement; CPU flags {report['cpu_flags']}.\n\n"
        + results_table(["#", "mode", "images/s", "peak RSS (MB)", "data preparation (s)"], rows)
        + f"\nStreamed / in-memory throughput, per pair: {summary.get('throughput_ratios')}; "
        f"median {summary.get('median_throughput_ratio')}. Median images/s: streamed "
        f"{summary.get('streamed_median_images_per_second')}, in memory "
        f"{summary.get('in_memory_median_images_per_second')}. Peak RSS streamed "
        f"{summary.get('streamed_peak_rss_mb')} MB, in memory "
        f"{summary.get('in_memory_peak_rss_mb')} MB.\n"
    )


if __name__ == "__main__":
    print(json.dumps(measure(**json.loads(sys.argv[1]))))
