"""Pixel-level evaluation of anomaly maps against ground-truth masks.

Two figures, as in the MVTec AD benchmark (Bergmann et al., IJCV 2021):

- **pixel AUROC**: every pixel of every image is one sample, labelled by its mask
  (normal images count as all-zero masks); scikit-learn's `roc_auc_score` ranks them.
- **AUPRO**: the per-region overlap (PRO). Each connected defect region of each mask
  (`scipy.ndimage.label`, 8-connected) counts once, whatever its size. At a threshold
  t, PRO(t) is the mean over regions of the fraction of the region's pixels above t,
  and the false-positive rate is the fraction of normal pixels above t. AUPRO is the
  area under PRO against FPR from 0 to `max_fpr` (0.3), divided by `max_fpr`, so 1 is
  perfect and a random map gives about `max_fpr / 2`.

The curve is computed exactly: pixels are sorted by score once, each normal pixel adds
`1 / n_normal` to the FPR and each defect pixel of region r adds `1 / (R * |r|)` to
PRO; cumulative sums at each distinct score give every point of the curve.

Resolution: maps and masks must have the same shape. `resize_maps` brings maps (at
the model's resolution) up to the masks' resolution, bilinearly, so that small defects
are judged where they were annotated rather than after downsampling their masks.
"""

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

DEFAULT_MAX_FPR = 0.3
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _check_maps_and_masks(maps, masks):
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks)
    if maps.ndim == 2:
        maps, masks = maps[None], masks[None]
    if maps.ndim != 3:
        raise ValueError(
            f"anomaly maps must have shape (n, height, width); got {maps.shape}."
        )
    if masks.shape != maps.shape:
        raise ValueError(
            f"masks of shape {masks.shape} do not match anomaly maps of shape "
            f"{maps.shape}: bring the maps to the masks' resolution first "
            "(ganomaly_keras.metrics.pixel.resize_maps)."
        )
    if not np.all(np.isfinite(maps)):
        raise ValueError("anomaly maps contain NaN or infinite values.")
    values = np.unique(masks)
    if not set(values.tolist()) <= {0, 1}:
        raise ValueError(
            f"masks must be binary (0 = normal, 1 = defect); got values {values[:8]}. "
            "Threshold them (mask > 0) first."
        )
    return maps, masks.astype(bool)


def pixel_auroc(maps, masks):
    """AUROC over all pixels of `maps` `(n, h, w)` against binary `masks`.

    Returns:
        float, or None when the masks hold no defect pixel or no normal pixel.
    """
    maps, masks = _check_maps_and_masks(maps, masks)
    if masks.all() or not masks.any():
        return None
    return float(roc_auc_score(masks.ravel(), maps.ravel()))


def pro_curve(maps, masks):
    """The exact PRO curve: `(fpr, pro)` arrays, one point per distinct score,
    from the highest threshold down, starting at (0, 0)."""
    maps, masks = _check_maps_and_masks(maps, masks)
    regions = np.zeros(masks.shape, np.int64)
    count = 0
    for i, mask in enumerate(masks):
        labelled, found = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        regions[i] = np.where(labelled > 0, labelled + count, 0)
        count += found
    normal = ~masks
    n_normal = int(normal.sum())
    if count == 0 or n_normal == 0:
        raise ValueError(
            "AUPRO needs at least one defect region and one normal pixel in the masks."
        )
    sizes = np.bincount(regions.ravel(), minlength=count + 1).astype(np.float64)
    region_weight = np.zeros(count + 1)
    region_weight[1:] = 1.0 / (count * sizes[1:])
    scores = maps.ravel()
    order = np.argsort(-scores, kind="stable")
    scores = scores[order]
    fpr_step = normal.ravel()[order] / n_normal
    pro_step = region_weight[regions.ravel()[order]]
    fpr = np.cumsum(fpr_step)
    pro = np.cumsum(pro_step)
    # One point per distinct score: pixels with equal scores cross a threshold together.
    last_of_value = np.r_[scores[1:] != scores[:-1], True]
    return np.r_[0.0, fpr[last_of_value]], np.r_[0.0, pro[last_of_value]]


def aupro(maps, masks, max_fpr=DEFAULT_MAX_FPR):
    """Area under the PRO curve up to `max_fpr`, normalised to [0, 1].

    Args:
        maps: anomaly maps `(n, h, w)`, higher = more anomalous.
        masks: binary masks of the same shape (0 = normal, 1 = defect).
        max_fpr: the false-positive rate the area is integrated to (0.3 in MVTec AD).

    Returns:
        float, or None when the masks hold no defect region.
    """
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1]; got {max_fpr}.")
    maps, masks = _check_maps_and_masks(maps, masks)
    if not masks.any() or masks.all():
        return None
    fpr, pro = pro_curve(maps, masks)
    # The curve up to max_fpr, closed with the interpolated point at max_fpr.
    inside = fpr <= max_fpr
    end = np.interp(max_fpr, fpr, pro)
    x = np.r_[fpr[inside], max_fpr]
    y = np.r_[pro[inside], end]
    return float(np.trapezoid(y, x) / max_fpr)


def resize_maps(maps, shape):
    """Anomaly maps `(n, h, w)` resized bilinearly to `shape` `(H, W)`."""
    import tensorflow as tf

    maps = np.asarray(maps, np.float32)
    if maps.shape[1:] == tuple(shape):
        return maps
    resized = tf.image.resize(maps[..., None], tuple(shape), method="bilinear")
    return resized.numpy()[..., 0]


def pixel_metrics(maps, masks, max_fpr=DEFAULT_MAX_FPR):
    """`{"pixel_auroc", "aupro"}` of maps against masks of the same shape; None
    values where the masks hold no defect."""
    return {
        "pixel_auroc": pixel_auroc(maps, masks),
        "aupro": aupro(maps, masks, max_fpr),
    }
