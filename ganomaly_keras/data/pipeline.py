"""The training input: what `fit` takes for a split's training images.

Arrays pass as they are unless a step budget, texture augmentation or a working size
asks for a `tf.data` pipeline; folders always stream, decoded by the one image path
(`ganomaly_keras.data.decoding`).
"""

from ganomaly_keras.data.images import image_channels


def training_input(train, spec, batch_size, shuffle=True, repeat=False, augment=False):
    """What `fit` takes for a `splits()["train"]`.

    Arrays pass as they are; folders become a streaming shuffled dataset of batches.
    With `repeat` (a step budget), `augment` (texture augmentations, see
    `ganomaly_keras.data.augmentation`) or a `working_size` (random `image_size`
    patches of working-size images), arrays become a seeded shuffled dataset too,
    repeated endlessly with `repeat`.
    """
    import tensorflow as tf

    from ganomaly_keras.data.augmentation import augment_dataset
    from ganomaly_keras.data.decoding import image_dataset
    from ganomaly_keras.data.folders import FileSplit

    if isinstance(train, FileSplit):
        dataset = image_dataset(
            train, spec.load_size, spec.channels or image_channels(train.paths[0]),
            batch_size, shuffle=shuffle, seed=spec.seed, on_error=spec.on_error,
        )
    elif repeat or augment or spec.working_size:
        dataset = tf.data.Dataset.from_tensor_slices(train)
        if shuffle:
            dataset = dataset.shuffle(len(train), seed=spec.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    else:
        return train
    if repeat:
        dataset = dataset.repeat()
    if spec.working_size and spec.working_size != spec.image_size:
        from ganomaly_keras.scoring.tiling import random_patches

        dataset = dataset.map(
            lambda images: random_patches(images, spec.image_size),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if augment:
        dataset = augment_dataset(dataset, seed=spec.seed)
    return dataset
