"""The original assignment's files and config go through the whole path unchanged.

Their labels are random (no model beats the prior), and no test_A hotel is in
test_B: the point is shape and edge cases, so promotion is forced and the join
coverage must be reported as 0.0 while every row is still scored.
"""

import json

import pytest

from tests.conftest import MODEL_DIR, VIO_DATA
from tests.integration.helpers import read_csv

pytestmark = pytest.mark.skipif(not VIO_DATA.is_dir(), reason="../shared/vio-data is not present")


def test_original_files_train_and_score_all_rows_with_zero_coverage(buckets, s3, breaker_calls):
    import dataclasses

    from mlcycle.config import load_config
    from mlcycle.monitoring.rules import parse_settings
    from mlcycle.objectstore import ObjectStore
    from mlcycle.plugin import load_plugin
    from mlcycle.scoring import score_batch
    from mlcycle.training import run_training

    cfg = load_config(VIO_DATA / "model_config.yml")
    assert (
        [s.name for s in cfg.sources] == ["A", "B"]
        and cfg.target == "status"
        and cfg.join_key == "hotel_id"
    )
    s3.upload_file(str(VIO_DATA / "train_A.csv"), buckets.data, "training/A/train_A.csv")
    s3.upload_file(str(VIO_DATA / "train_B.csv"), buckets.data, "training/B/train_B.csv")
    s3.upload_file(str(VIO_DATA / "test_A.csv"), buckets.data, "incoming/vio-test/A.csv")
    s3.upload_file(str(VIO_DATA / "test_B.csv"), buckets.data, "incoming/vio-test/B.csv")
    store, plugin = ObjectStore(), load_plugin(cfg, MODEL_DIR)

    gated = run_training(cfg, plugin, store, buckets)
    assert gated["status"] == "stored_not_promoted" and "class-prior baseline" in gated["reason"]
    assert gated["join_coverage"]["B"] == pytest.approx(417 / 2000)
    forced = run_training(
        cfg, plugin, store, buckets, force=True, reason="shape test on random labels", actor="test"
    )
    assert forced["status"] == "promoted" and forced["champion"] == "v0002"

    # No test_A hotel is in test_B while a fifth of the training rows found theirs: the gate
    # holds the batch before publication, as it must for a source that delivers nothing.
    held = score_batch(cfg, plugin, store, buckets, "vio-test")
    assert held["status"] == "held" and "JoinCoverage" in held["gate"]["trips"], held
    assert breaker_calls[0][1]["rules"] == held["gate"]["trips"]
    s3.copy_object(
        Bucket=buckets.data,
        Key="incoming/vio-test/A.csv",
        CopySource={"Bucket": buckets.data, "Key": "held/vio-test/A.csv"},
    )
    s3.copy_object(
        Bucket=buckets.data,
        Key="incoming/vio-test/B.csv",
        CopySource={"Bucket": buckets.data, "Key": "held/vio-test/B.csv"},
    )
    # An operator who knows the hotels feed is empty by design turns the rules off in config.
    off = {"enabled": False}
    cfg = dataclasses.replace(
        cfg, rules=parse_settings({"rules": {"JoinCoverage": off, "NullRate": off}})
    )
    result = score_batch(cfg, plugin, store, buckets, "vio-test")
    assert result["status"] == "published" and result["rows"] == 100, result
    assert result["join_coverage"] == {"B": 0.0}
    assert any("extra columns ignored: ['status']" in n for n in result["notes"])
    out = read_csv(s3, buckets.predictions, "predictions/vio-test/predictions.csv")
    assert len(out) == 100 and out["hotel_id"].nunique() == 100
    manifest = json.loads(
        s3.get_object(Bucket=buckets.predictions, Key="predictions/vio-test/_SUCCESS")[
            "Body"
        ].read()
    )
    assert manifest["rows"] == 100 and manifest["join_coverage_min"] == 0.0
