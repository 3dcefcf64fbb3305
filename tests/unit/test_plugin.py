"""The plug-in contract: what train.py / inference.py return is checked, with messages that
name the file."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.config import load_config
from mlcycle.errors import PluginContractError
from mlcycle.plugin import load_plugin
from mlcycle.prior_shift import PriorShifted
from tests.conftest import MODEL_DIR

CFG = load_config(MODEL_DIR / "model_config.yml")
FEATURES = pd.DataFrame({"x": [1, 2, 3]})


def make_plugin(tmp_path, train_body="return object()", predict_body="return None"):
    (tmp_path / "train.py").write_text(f"def train(features, target, params):\n    {train_body}\n")
    (tmp_path / "inference.py").write_text(
        f"import numpy as np, pandas as pd\ndef predict(model, features):\n    {predict_body}\n"
    )
    return load_plugin(CFG, tmp_path)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("return pd.DataFrame({'booked': [1.0] * 3})", "one probability column per class"),
        (
            "return pd.DataFrame("
            "{'booked': [0.5] * 2, 'cancelled': [0.5] * 2, 'fulfilled': [0.0] * 2})",
            "one row per input row (3)",
        ),
        (
            "return pd.DataFrame("
            "{'booked': [0.9] * 3, 'cancelled': [0.5] * 3, 'fulfilled': [0.0] * 3})",
            "rows that sum to 1",
        ),
        (
            "return pd.DataFrame("
            "{'booked': [np.nan] * 3, 'cancelled': [0.5] * 3, 'fulfilled': [0.5] * 3})",
            "finite probabilities",
        ),
        ("return np.zeros((3, 3))", "DataFrame of class probabilities"),
        (
            "return ['booked', 'maybe', 'booked']",
            "labels from ['booked', 'cancelled', 'fulfilled']",
        ),
        ("return ['booked']", "one label per row (3)"),
        ("return 42", "got int"),
    ],
)
def test_bad_predict_output_names_file_function_and_expectation(tmp_path, body, expected):
    plugin = make_plugin(tmp_path, predict_body=body)
    with pytest.raises(PluginContractError) as err:
        plugin.predict(object(), FEATURES)
    assert str(tmp_path / "inference.py") in str(err.value) and "predict()" in str(err.value)
    assert expected in str(err.value)


def test_probabilities_are_reordered_to_config_classes_and_labels_derived(tmp_path):
    body = (
        "return pd.DataFrame({'fulfilled': [0.1, 0.7, 0.2], 'booked': [0.8, 0.2, 0.2], "
        "'cancelled': [0.1, 0.1, 0.6]})"
    )
    out = make_plugin(tmp_path, predict_body=body).predict(object(), FEATURES)
    assert list(out.proba.columns) == ["booked", "cancelled", "fulfilled"]
    assert out.labels.tolist() == ["booked", "fulfilled", "cancelled"]


def test_a_reweighted_model_is_predicted_by_the_plugin_then_shifted(tmp_path):
    body = (
        "return pd.DataFrame({'fulfilled': [0.1, 0.7, 0.2], 'booked': [0.8, 0.2, 0.2], "
        "'cancelled': [0.1, 0.1, 0.6]})"
    )
    plugin = make_plugin(tmp_path, predict_body=body)
    # Offsets in another class order than the config's: matched by name.
    model = PriorShifted("inner", ("cancelled", "booked", "fulfilled"), (np.log(8), 0.0, 0.0))
    out = plugin.predict(model, FEATURES)
    assert list(out.proba.columns) == ["booked", "cancelled", "fulfilled"]
    assert out.proba["cancelled"].round(4).tolist() == [0.4706, 0.4706, 0.9231]
    assert np.allclose(out.proba.sum(axis=1), 1.0)
    assert out.labels.tolist() == ["booked", "cancelled", "cancelled"]

    labels_only = make_plugin(tmp_path, predict_body="return np.array(['booked'] * 3)")
    with pytest.raises(PluginContractError, match="labels only"):
        labels_only.predict(model, FEATURES)


def test_label_only_predict_is_accepted_without_probabilities(tmp_path):
    out = make_plugin(
        tmp_path, predict_body="return np.array(['booked', 'fulfilled', 'booked'])"
    ).predict(object(), FEATURES)
    assert out.proba is None and out.labels.tolist() == ["booked", "fulfilled", "booked"]


def test_train_must_return_a_serialisable_model(tmp_path):
    with pytest.raises(
        PluginContractError, match="train\\(\\) must return a fitted model object; got None"
    ):
        make_plugin(tmp_path, train_body="return None").train(FEATURES, pd.Series([1, 2, 3]), {})
    with pytest.raises(PluginContractError, match="return a picklable model"):
        make_plugin(tmp_path, train_body="return lambda x: x").train(
            FEATURES, pd.Series([1, 2, 3]), {}
        )


def test_missing_file_or_function_is_named(tmp_path):
    (tmp_path / "train.py").write_text("def fit(features, target, params):\n    pass\n")
    (tmp_path / "inference.py").write_text("def predict(model, features):\n    pass\n")
    with pytest.raises(
        PluginContractError,
        match="train.py: train\\(\\) must be a function defined at module level",
    ):
        load_plugin(CFG, tmp_path)
    (tmp_path / "train.py").unlink()
    with pytest.raises(PluginContractError, match="no such file"):
        load_plugin(CFG, tmp_path)


def test_a_reweighted_pipeline_shows_the_inner_pipeline_model_inputs(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]})
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    pipeline.fit(features, ["booked", "cancelled", "booked", "cancelled"])
    plugin = make_plugin(tmp_path)
    reweighted = PriorShifted(pipeline, tuple(CFG.classes), (0.0, 1.0, 0.0))
    inputs = plugin.model_inputs(reweighted, features)
    assert inputs is not None
    pd.testing.assert_frame_equal(inputs, plugin.model_inputs(pipeline, features))
