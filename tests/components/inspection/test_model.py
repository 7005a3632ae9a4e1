"""The shipped defect model behind the component's preprocessing: the same scores as the
training preprocessing, on every variant, and good decisions on held-out parts."""

from __future__ import annotations

import numpy as np
import pytest

from components.common.image_preprocess import Preprocessor
from components.common.model_manifest import Manifest
from components.common.preprocessing import part_images_v1
from components.inspection.cameras.parts import part_dataset
from components.inspection.config import ModelConfig
from components.inspection.decision import decide
from components.inspection.model import DefectModel, load_defect_model
from models.heldout import PARTS_HELDOUT

VARIANTS = Manifest.load().variants("part_defect")


@pytest.mark.parametrize("variant", VARIANTS)
def test_component_preprocessing_scores_like_the_training_preprocessing(variant: str) -> None:
    model = load_defect_model(ModelConfig(variant=variant))
    images, _, _ = part_dataset(seed=4242, count=40)
    reference = model.runtime.predict(part_images_v1(images))[:, 0]
    pre = Preprocessor(model.runtime.inputs[0], model.image_input, use_opencv=False)
    ours = np.array([model.probability(pre(image)) for image in images])
    # Quantized inputs may differ by one step in a few pixels; the scores barely move.
    np.testing.assert_allclose(ours, reference, atol=0.02)


def test_held_out_f1_through_the_component_matches_the_manifest(int8_model: DefectModel) -> None:
    """The component's preprocessing costs the model nothing: on the manifest's own held-out
    parts, at the manifest's threshold, F1 is the manifest's (within one part's worth)."""
    images, labels, _ = part_dataset(**PARTS_HELDOUT)  # type: ignore[arg-type]
    pre = Preprocessor(int8_model.runtime.inputs[0], int8_model.image_input)
    threshold = int8_model.score_threshold
    rejected = np.array(
        [decide(int8_model.probability(pre(image)), threshold, threshold) == "reject" for image in images]
    )
    truth = labels.astype(bool)
    tp, fp, fn = np.sum(rejected & truth), np.sum(rejected & ~truth), np.sum(~rejected & truth)
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert int8_model.spec is not None
    assert f1 >= int8_model.spec.metrics["f1"] - 0.002
