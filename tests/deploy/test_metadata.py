"""deploy/metadata.py: the schema round-trips and reads back from a folder."""


def test_metadata_round_trips_and_reads_back_from_a_folder(tmp_path):
    from ganomaly_keras.deploy.metadata import ExportMetadata, read_metadata

    written = ExportMetadata(
        model_class="GANomaly", model_config={"latent_size": 8}, image_size=32, channels=3,
        score_name="latent_mse", score_definition="d", map_smoothing=3, score_min=0.1,
        score_max=0.9, threshold=0.5, outputs={"anomaly_score": "raw"},
        artefacts={"tflite_float32": {"file": "model_float32.tflite", "bytes": 1}},
    )
    written.write(tmp_path)
    read = read_metadata(tmp_path)
    assert read == written
    assert read.artefact("x/model_float32.tflite") == {"file": "model_float32.tflite", "bytes": 1}
    assert read.color == "rgb"

