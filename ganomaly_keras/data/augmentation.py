"""Optional training augmentations for textures and surfaces (off by default).

Inspection images of textures (paper, fabric, wood, tiles, metal) look the same
flipped or turned by 90 degrees, and vary a little in lighting. Augmenting the normal
training images with those changes teaches the model that they are normal, which
helps when a folder holds only a few dozen good images. Do not use it for objects
whose orientation matters (a flipped screw or a transistor rotated by 90 degrees is a
defect) or where brightness itself signals a defect.

Every transform is a Keras preprocessing layer, applied to float batches in [-1, 1]
and kept in range:

- `RandomFlip("horizontal_and_vertical")` and `RandomTranspose`: together, the eight
  flips and 90-degree rotations of a square image;
- `RandomBrightness` and `RandomContrast` with a factor of `lighting` (0.1).
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="ganomaly_keras")
class RandomTranspose(keras.layers.Layer):
    """Swaps height and width of each square image of a batch with probability 0.5.

    With random horizontal and vertical flips, this gives every 90-degree rotation.

    Args:
        seed: optional int.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        batch = keras.ops.shape(images)[0]
        swap = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < 0.5
        return keras.ops.where(swap, keras.ops.transpose(images, (0, 2, 1, 3)), images)

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed)
        return config


def texture_augmentation(lighting=0.1, seed=None):
    """A `keras.Sequential` of the texture augmentations for images in [-1, 1].

    Args:
        lighting: brightness and contrast factor (0 turns them off).
        seed: optional int.
    """
    if not 0 <= lighting < 1:
        raise ValueError(f"lighting must be in [0, 1); got {lighting}.")
    layers = [
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        RandomTranspose(seed=seed),
    ]
    if lighting:
        layers += [
            keras.layers.RandomBrightness(lighting, value_range=(-1.0, 1.0), seed=seed),
            keras.layers.RandomContrast(lighting, value_range=(-1.0, 1.0), seed=seed),
        ]
    return keras.Sequential(layers, name="texture_augmentation")


def augment_dataset(dataset, lighting=0.1, seed=None):
    """`dataset` of image batches with `texture_augmentation` applied, in [-1, 1]."""
    augment = texture_augmentation(lighting, seed)

    def apply(images):
        return tf.clip_by_value(augment(images, training=True), -1.0, 1.0)

    return dataset.map(apply, num_parallel_calls=tf.data.AUTOTUNE)
