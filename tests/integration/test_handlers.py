"""Handlers parse strictly and change nothing on a refused payload; the wiring they rely on."""

import json
import shutil

import pytest

from mlcycle.errors import EventError
from mlcycle.invoke import MissingSetting
from tests.conftest import MODEL_DIR
from tests.integration.helpers import keys, upload_training


def test_a_refused_train_payload_trains_nothing(buckets, s3):
    from handlers import train

    upload_training(s3, buckets.data)
    for payload in (
        {"force": "false"},
        {"action": "retrain"},
        ["not", "an", "object"],
        {"recent_batches": "2"},
    ):
        with pytest.raises(EventError):
            train.handler(payload, None)
    assert keys(s3, buckets.models) == []


def test_refused_breaker_payloads_change_no_state(buckets, s3):
    from handlers import breaker

    before = s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"]
    for payload in (
        {"action": "probation_report", "batch_id": "b1", "healthy": "false"},
        {"action": "model_promoted", "version": 2},
        {"action": "open", "reason": "x", "extra": 1},
    ):
        with pytest.raises(EventError):
            breaker.handler(payload, None)
    assert s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"] == before
    assert keys(s3, buckets.monitoring) == ["breaker/state.json"]


def test_a_missing_function_variable_fails_the_invocation(buckets, s3, monkeypatch):
    """The breaker must hear of a promotion.

    No silent skip when the deployment forgot to say where it is.
    """
    from handlers import train
    from mlcycle import storage
    from mlcycle.breaker.state import OPEN, initial_state
    from mlcycle.objectstore import ObjectStore

    monkeypatch.delenv("BREAKER_FUNCTION_NAME", raising=False)
    ObjectStore().put_json(
        buckets.monitoring, storage.BREAKER_STATE_KEY, {**initial_state(), "state": OPEN}
    )
    upload_training(s3, buckets.data)
    with pytest.raises(MissingSetting, match="BREAKER_FUNCTION_NAME"):
        train.handler({}, None)  # the breaker is OPEN: the promotion must reach it


def test_the_config_fingerprint_hashes_the_file_that_was_loaded(buckets, s3, monkeypatch, tmp_path):
    from handlers import runtime, train
    from mlcycle.training import code_version

    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "other.yml").write_text(
        (folder / "model_config.yml").read_text() + "# another file\n"
    )
    monkeypatch.setenv("MODEL_DIR", str(folder))
    monkeypatch.setenv("MODEL_CONFIG", "other.yml")
    for cached in (runtime.config, runtime.plugin):
        cached.cache_clear()
    try:
        upload_training(s3, buckets.data)
        result = train.handler({}, None)
        meta = json.loads(
            s3.get_object(
                Bucket=buckets.models,
                Key=f"models/booking_status/{result['version']}/metadata.json",
            )["Body"].read()
        )
        plugin = runtime.plugin()
        assert meta["code_version"] == code_version(plugin, folder / "other.yml")
        assert meta["code_version"] != code_version(plugin, folder / "model_config.yml")
    finally:
        for cached in (runtime.config, runtime.plugin):
            cached.cache_clear()


def test_a_promotion_claim_for_a_version_that_is_not_the_champion_changes_nothing(
    trained, buckets, s3
):
    from handlers import breaker
    from mlcycle import storage
    from mlcycle.breaker.state import OPEN, initial_state
    from mlcycle.objectstore import ObjectStore

    ObjectStore().put_json(
        buckets.monitoring,
        storage.BREAKER_STATE_KEY,
        {**initial_state(), "state": OPEN, "revision": 1},
    )
    before = s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"]
    result = breaker.handler({"action": "model_promoted", "version": "v0099"}, None)
    assert result["changed"] is False and result["effects"] == [
        "refused: v0099 is not the champion"
    ]
    assert s3.get_object(Bucket=buckets.monitoring, Key="breaker/state.json")["ETag"] == before
