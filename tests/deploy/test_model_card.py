"""deploy/model_card.py: the card is prose with the model's own options."""


def test_the_model_card_is_prose_with_the_models_own_options():
    from ganomaly_keras.deploy.metadata import ExportMetadata
    from ganomaly_keras.deploy.model_card import model_card

    card = model_card(ExportMetadata(
        model_class="EGBAD", model_config={"joint_units": 512, "latent_size": 100},
        image_size=32, channels=1, score_name="paper", score_definition="0.9 * (a) + 0.1 * (b)",
        map_smoothing=3, score_min=0.0, score_max=1.0, threshold=0.4, outputs={},
        training_data={"source": "digits", "abnormal_class": 0,
                       "splits": {"train": {"images": 900, "anomalous": 0}}},
        artefacts={},
    ))
    assert "EGBAD with joint units 512, latent size 100." in card
    assert "is 0.9 * (a) + 0.1 * (b)" in card
    assert "class 0 as the anomaly" in card and "train 900 images" in card
    assert "contextual" not in card and "{" not in card

