"""Structure-aware residual maps: where a reconstruction differs in structure, not
in pixel values.

On a textured surface a reconstruction is never pixel-exact, so `|x - x_hat|` lights
up the texture as much as the defect. Comparing local structure does better (Bergmann
et al. 2018 for SSIM; Zavrtanik et al. 2021 for the multi-scale gradient magnitude
similarity):

- `ssim_map`: `(1 - SSIM) / 2` per pixel, SSIM over 7x7 Gaussian windows (sigma 1.5)
  of the images' grayscale, in [0, 1];
- `msgms_map`: `1 - GMS` averaged over three scales (full, half, quarter
  resolution), GMS the gradient magnitude similarity of Sobel gradients, in [0, 1].

Both are convolutions, average pooling and resizes: builtin LiteRT operators, so they
export. Images are float in [-1, 1].
"""

import numpy as np
import tensorflow as tf

SSIM_WINDOW, SSIM_SIGMA = 7, 1.5
# SSIM's constants for a dynamic range of 2 ([-1, 1]).
C1, C2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
# GMS's constant (for [-1, 1] images; 0.0026 for [0, 1] in Xue et al. 2014, times 4).
GMS_C = 0.0104
SCALES = 3


def _gray(x):
    return tf.reduce_mean(tf.cast(x, tf.float32), axis=-1, keepdims=True)


def _gaussian_kernel(size=SSIM_WINDOW, sigma=SSIM_SIGMA):
    grid = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(grid**2) / (2 * sigma**2))
    kernel = np.outer(weights, weights)
    return tf.constant((kernel / kernel.sum())[:, :, None, None], tf.float32)


def _filter(x, kernel):
    pad = kernel.shape[0] // 2
    x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="SYMMETRIC")
    return tf.nn.conv2d(x, kernel, 1, "VALID")


def ssim_map(x, x_hat):
    """`(1 - SSIM(x, x_hat)) / 2` per pixel, `(batch, h, w)`, in [0, 1]."""
    a, b, kernel = _gray(x), _gray(x_hat), _gaussian_kernel()
    mu_a, mu_b = _filter(a, kernel), _filter(b, kernel)
    var_a = _filter(a * a, kernel) - mu_a * mu_a
    var_b = _filter(b * b, kernel) - mu_b * mu_b
    cov = _filter(a * b, kernel) - mu_a * mu_b
    ssim = ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) / (
        (mu_a * mu_a + mu_b * mu_b + C1) * (var_a + var_b + C2)
    )
    return tf.clip_by_value((1.0 - ssim[..., 0]) / 2.0, 0.0, 1.0)


_SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32)[:, :, None, None] / 4
_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32)[:, :, None, None] / 4


def _gradient_magnitude(x):
    gx = _filter(x, tf.constant(_SOBEL_X))
    gy = _filter(x, tf.constant(_SOBEL_Y))
    return tf.sqrt(gx * gx + gy * gy + 1e-12)


def msgms_map(x, x_hat, scales=SCALES):
    """`1 - GMS(x, x_hat)` averaged over `scales` resolutions, `(batch, h, w)`."""
    a, b = _gray(x), _gray(x_hat)
    height, width = a.shape[1], a.shape[2]
    total = 0.0
    for scale in range(scales):
        if scale:
            a = tf.nn.avg_pool2d(a, 2, 2, "VALID")
            b = tf.nn.avg_pool2d(b, 2, 2, "VALID")
        ga, gb = _gradient_magnitude(a), _gradient_magnitude(b)
        gms = (2 * ga * gb + GMS_C) / (ga * ga + gb * gb + GMS_C)
        total += tf.image.resize(1.0 - gms, (height, width), method="bilinear")
    return tf.clip_by_value(total[..., 0] / scales, 0.0, 1.0)
