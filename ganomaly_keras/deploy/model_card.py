"""The `MODEL_CARD.md` of an export: its metadata, written for a reader."""

from ganomaly_keras.deploy.metadata import ExportMetadata

_SPLIT_NAMES = ("train", "validation", "test")


def _number(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _options(config):
    """The model's constructor options as a sentence: "latent size 100, width 64"."""
    shown = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    return ", ".join(f"{k.replace('_', ' ')} {_number(v)}" for k, v in shown.items() if v is not None)


def _training_sentence(training):
    if not training:
        return "No summary of the training data was given at export time."
    source = training.get("name") or training.get("path") or training.get("source")
    parts = [f"Trained on {training.get('source', 'the given')} data ({source})"]
    if training.get("protocol"):
        parts.append(f"with the {training['protocol']} protocol")
    if training.get("protocol") == "folder":
        parts.append("the folder's train/ images as normal, its test/ defect folders "
                     "as anomalies")
    elif training.get("normal_class") is not None:
        parts.append(f"class {training['normal_class']} as the only normal class")
    elif training.get("abnormal_class") is not None:
        parts.append(f"class {training['abnormal_class']} as the anomaly")
    sentence = ", ".join(parts) + "."
    splits = training.get("splits") or {}
    counts = [
        f"{name} {splits[name]['images']:,} images ({splits[name]['anomalous']:,} anomalous)"
        for name in _SPLIT_NAMES if name in splits
    ]
    if counts:
        sentence += " Splits: " + "; ".join(counts) + "."
    if training.get("contamination"):
        sentence += (
            f" A fraction {training['contamination']} of the training images are "
            "anomalies (contamination)."
        )
    return sentence


def _validation_sentence(validation):
    if not validation:
        return "No validation figures were given at export time."
    parts = [f"{k.replace('_', ' ')} {_number(v)}" for k, v in validation.items() if v is not None]
    return "On the validation split (never the test split): " + ", ".join(parts) + "."


def model_card(metadata):
    """A Markdown model card of an `ExportMetadata`.

    Args:
        metadata: the export's `ExportMetadata`.

    Returns:
        the card's text.
    """
    if not isinstance(metadata, ExportMetadata):
        raise ValueError(f"model_card takes an ExportMetadata; got {type(metadata).__name__}.")
    m = metadata
    height, width = m.image_shape
    size = f"{width}x{height}"
    tiling = (
        f" It scores the image as overlapping {m.tiling['tile_size']}-pixel tiles at a "
        f"stride of {m.tiling['stride']} and takes the worst tile." if m.tiling else ""
    )
    rows = "\n".join(
        f"| {name} | `{a['file']}` | {a['bytes']:,} | {a.get('batch', 'any')} |"
        for name, a in m.artefacts.items()
    )
    outputs = "\n".join(f"- `{k}`: {v}" for k, v in m.outputs.items())
    return f"""# Model card: {m.model_class} anomaly detector

Exported by ganomaly-keras {m.package_version} on {m.created}.

## What it does
This model scores one {size} {m.color} image for how unlike the normal training
images it is, and decides anomaly (1) or normal (0) with a threshold fitted on
validation data. It was trained on normal images only.{tiling}

## How it scores
The score, `{m.score_name}`, is {m.score_definition}. Higher means more anomalous.
It is scaled to 0..1 with the range of the validation scores ({_number(m.score_min)}
to {_number(m.score_max)}), and an image is an anomaly when its raw score is above
{_number(m.threshold)}.

## Input and outputs
Input `images`: uint8 pixels 0..255, shape (batch, {height}, {width}, {m.channels}),
{width} wide and {height} high. Read image files with `ganomaly_keras.data.images.read_pixels` (the
package's one image path: the model's channels, an antialiased bilinear resize), as
training did; the model scales the pixels itself.

{outputs}

## The model
{m.model_class} with {_options(m.model_config)}.

## Data
{_training_sentence(m.training_data)}

{_validation_sentence(m.validation)}

## Files
| format | file | bytes | batch |
|---|---|---|---|
{rows}

## Limitations
An anomaly here means "unlike the training images": images from another camera,
lighting or resolution can score high without a defect. Re-fit the threshold on
validation images from the deployment site. Quantised (int8) files score slightly
differently from float32; `export/verify_export.py` measures by how much.
"""
