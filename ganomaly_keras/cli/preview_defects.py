"""`ganomaly-keras preview-defects`: a grid of synthetic defects on a folder's normal
images, to look at before training on them."""

import os
import sys


def run(args):
    import numpy as np
    from PIL import Image

    from ganomaly_keras.data.folders import NORMAL_FOLDERS, detect_layout, list_images
    from ganomaly_keras.data.images import read_pixels, to_model_input
    from ganomaly_keras.data.synthetic_defects import synthetic_defects

    folder = os.path.join(args.folder, "train", NORMAL_FOLDERS[detect_layout(args.folder)])
    paths = list_images(folder)[: args.count]
    size = (args.size, args.size)
    channels = 3
    images = to_model_input(np.stack([read_pixels(p, size, channels)[0] for p in paths]))
    corrupted, masks = synthetic_defects(images, [args.seed, 0], probability=1.0)
    rows = []
    for image, bad, mask in zip(images, corrupted.numpy(), masks.numpy()):
        mask_rgb = np.repeat(mask[..., None], 3, axis=-1) * 2.0 - 1.0
        rows.append(np.concatenate([image, bad, mask_rgb], axis=1))
    grid = np.round((np.concatenate(rows, axis=0) + 1.0) * 127.5).astype(np.uint8)
    Image.fromarray(grid).save(args.out)
    print(f"{args.out}: {len(paths)} rows of image, image with a synthetic defect, mask",
          file=sys.stderr)
