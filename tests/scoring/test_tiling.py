"""scoring/tiling.py: tiles reassemble the image, tiled scoring is the network's on
each tile, and bad working sizes name the fix."""


import numpy as np
import pytest

from ganomaly_keras import GANomaly
from ganomaly_keras.data.spec import DataSpec
from tests.settings import TINY


@pytest.mark.parametrize("shape, count", [((48, 48), 25), ((32, 56), 3 * 6)])
def test_tiles_reassemble_into_the_image(shape, count):
    """Square and rectangular images: offsets 0, 8, ... along each side."""
    from ganomaly_keras.scoring import tiling

    x = np.random.default_rng(0).uniform(-1, 1, (2, *shape, 3)).astype("float32")
    tiles = tiling.extract_tiles(x, shape, 16)
    assert tiles.shape == (count * 2, 16, 16, 3)
    np.testing.assert_allclose(np.asarray(tiling.assemble(tiles, shape, 16)), x, atol=1e-6)


def test_working_sizes_are_sides_or_width_by_height():
    from ganomaly_keras.scoring import tiling

    assert tiling.working_shape("256x640", 64) == (640, 256)  # 256 wide, 640 tall
    assert tiling.working_shape(128, 64) == (128, 128)
    assert tiling.validate_working_size((640, 256), 64) == [640, 256]
    assert tiling.validate_working_size([96, 96], 64) == 96
    # KolektorSDD-like parts (500 wide, about 1,250 tall): aspect kept, long side 640.
    assert tiling.derived_shape([(1250, 500), (1241, 500), (1262, 500)], 64) == (640, 256)
    assert tiling.derived_shape([(128, 128)], 64) == (128, 128)  # never scaled up
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        tiling.working_shape("wide", 64)


def test_tiled_scoring_equals_the_single_pass_model_on_each_tile(rng):
    """Each tile is scored as the untiled model scores that crop; the map is the
    average of the tiles' maps where they overlap, and the paper score the worst tile."""
    x = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
    tiled = GANomaly(image_size=16, channels=1, working_size=32, seed=0, **TINY)
    single = GANomaly(image_size=16, channels=1, seed=0, **TINY)
    # The same networks; only the stored map statistics differ in shape (unused here).
    for target, source in zip(single.weights, tiled.weights):
        if target.shape == source.shape:
            target.assign(source)
    # A tile that covers the whole image is the single pass itself.
    crops = [x[:, y : y + 16, c : c + 16] for y in (0, 8, 16) for c in (0, 8, 16)]
    expected_map = np.zeros((2, 32, 32))
    coverage = np.zeros((32, 32))
    for (y, c), crop in zip([(y, c) for y in (0, 8, 16) for c in (0, 8, 16)], crops):
        expected_map[:, y : y + 16, c : c + 16] += single.predict_maps(crop)
        coverage[y : y + 16, c : c + 16] += 1
    np.testing.assert_allclose(tiled.predict_maps(x), expected_map / coverage, rtol=1e-5, atol=1e-6)
    worst_tile = np.max([single.predict(crop, verbose=0) for crop in crops], axis=0)
    np.testing.assert_allclose(tiled.predict(x, verbose=0), worst_tile, rtol=1e-5, atol=1e-7)
    assert tiled.reconstruct(x).shape == x.shape


def test_a_rectangular_working_size_scores_and_maps_at_its_shape(rng):
    x = rng.uniform(-1, 1, (3, 32, 48, 1)).astype("float32")  # 48 wide, 32 high
    model = GANomaly(image_size=16, channels=1, working_size=(32, 48), seed=0, **TINY)
    assert model.input_hw == (32, 48) and model.tiled
    scores, maps = model.predict_outputs(x)
    assert scores.shape == (3,) and maps.shape == (3, 32, 48)
    np.testing.assert_allclose(model.predict(x, verbose=0), scores, rtol=1e-6)
    clone = GANomaly.from_config(model.get_config())
    assert clone.input_hw == (32, 48)
    with pytest.raises(ValueError, match="must be 32 high and 48 wide"):
        model(x[:, :, :32])


def test_bad_working_sizes_name_the_fix():
    with pytest.raises(ValueError, match="patch .*image_size 32.* larger than the working size 16"):
        GANomaly(image_size=32, channels=1, working_size=16, **TINY)
    # Tiles of 16 move by 8: 40 and 48 fit, 44 does not.
    with pytest.raises(ValueError, match="working_size 44 does not fit .* use 40 or 48"):
        GANomaly(image_size=16, channels=1, working_size=44, **TINY)
    with pytest.raises(ValueError, match="use 40 or 48"):
        DataSpec(image_size=16, working_size=44)

