"""Family "trust": a model is loaded only if training signed it with the KMS key.

The attacker here can write the models bucket but cannot use the signing key. Every case
tampers with the test's own copy of the champion and asserts the outcome: the version is
refused before anything is deserialised (a crafted pickle that would leave a marker file
never runs), the batch is held with an integrity reason, nothing is published and the
champion alias stays where it was.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import pickle
from pathlib import Path

import boto3
import joblib
import pytest

from mlcycle.errors import ModelIntegrityError
from mlcycle.objectstore import ObjectStore
from mlcycle.registry import ModelRegistry, sha256_hex
from tests.reliability.evidence import (
    MODEL,
    SAMPLE_ROWS,
    current_keys,
    get_json,
    new_batch_id,
    publish,
    s3_event,
    snapshot,
    upload_sample,
    versions,
)

META = f"models/{MODEL}/v0001/metadata.json"
FILE = f"models/{MODEL}/v0001/model.joblib"
ALIASES = f"models/{MODEL}/aliases.json"


class _RunsWhenUnpickled:
    """Pickles to a call of exec(): unpickling it writes `marker`. It stands for any code an
    attacker would run inside the function."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('ran')",))


def crafted_pickle(marker: Path) -> bytes:
    return pickle.dumps(_RunsWhenUnpickled(marker))


@pytest.fixture
def s3(own_models):
    return boto3.client("s3")


@pytest.fixture
def registry(own_models):
    return ModelRegistry(ObjectStore(boto3.client("s3")), own_models.models, MODEL)


def _metadata(s3, bucket: str, key: str = META) -> dict:
    return get_json(s3, bucket, key)


def _put_json(s3, bucket: str, key: str, doc: dict) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(doc, indent=1).encode())


def _plant_pickle(s3, bucket: str, marker: Path) -> dict:
    """What an attacker with write access does: a new model file, its sha256 in the metadata,
    the signature left as it was. Returns the metadata as planted."""
    blob = crafted_pickle(marker)
    s3.put_object(Bucket=bucket, Key=FILE, Body=blob)
    meta = _metadata(s3, bucket)
    meta.update(model_sha256=sha256_hex(blob), model_bytes=len(blob))
    _put_json(s3, bucket, META, meta)
    return meta


def _infer_held(s3, buckets, label: str) -> dict:
    """Upload a batch, run infer on its S3 event; assert it was held and nothing published."""
    from handlers import infer

    batch_id = new_batch_id(label)
    [result] = infer.handler(upload_sample(s3, buckets, batch_id), None)["results"]
    assert result["status"] == "held", result
    assert current_keys(s3, buckets.data, f"incoming/{batch_id}/") == []
    assert current_keys(s3, buckets.data, f"held/{batch_id}/") == [
        f"held/{batch_id}/bookings.csv",
        f"held/{batch_id}/held.json",
        f"held/{batch_id}/hotels.csv",
    ]
    note = get_json(s3, buckets.data, f"held/{batch_id}/held.json")
    assert note["reason"].startswith("model integrity: ")
    assert current_keys(s3, buckets.predictions) == []
    return {**result, "note": note, "batch_id": batch_id}


@pytest.fixture
def log_records():
    """The records the platform logs (its JSON handler writes to the stdout it found first)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep, platform = Keep(), logging.getLogger("mlcycle")
    platform.addHandler(keep)
    yield records
    platform.removeHandler(keep)


# --- a crafted model file -----------------------------------------------------------------


def test_crafted_pickle_with_updated_sha256_is_refused_before_it_runs(
    own_models, s3, tmp_path, log_records
):
    # Control: deserialising this pickle does run the attacker's code.
    control = tmp_path / "control-ran"
    joblib.load(io.BytesIO(crafted_pickle(control)))
    assert control.read_text() == "ran"
    marker = tmp_path / "attack-ran"
    _plant_pickle(s3, own_models.models, marker)
    aliases = s3.head_object(Bucket=own_models.models, Key=ALIASES)["ETag"]

    held = _infer_held(s3, own_models, "crafted")

    assert not marker.exists()
    assert "signature does not verify" in held["note"]["reason"]
    assert s3.head_object(Bucket=own_models.models, Key=ALIASES)["ETag"] == aliases
    assert get_json(s3, own_models.models, ALIASES)["champion"] == "v0001"
    [refused] = [r for r in log_records if r.getMessage() == "model version refused"]
    assert refused.levelname == "ERROR" and refused.fields["model_version"] == "v0001"


def test_swapped_model_file_with_untouched_metadata_is_refused(own_models, s3, tmp_path):
    marker = tmp_path / "ran"
    s3.put_object(Bucket=own_models.models, Key=FILE, Body=crafted_pickle(marker))

    held = _infer_held(s3, own_models, "swapped")

    assert not marker.exists()
    assert "does not match" in held["note"]["reason"]


# --- edited metadata ----------------------------------------------------------------------


def _shift_profile(meta: dict) -> None:
    profile = meta["reference_profile"]
    profile["predictions"]["classes"] = list(reversed(profile["predictions"]["classes"]))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(_shift_profile, id="reference-profile"),
        pytest.param(lambda m: m.update(classes=["booked", "fulfilled"]), id="classes"),
        pytest.param(lambda m: m["metrics"].update(log_loss=0.01), id="metrics"),
        pytest.param(lambda m: m.update(model_sha256="0" * 64), id="model-sha256"),
        pytest.param(lambda m: m.update(version="v0009"), id="version-field"),
    ],
)
def test_edited_metadata_is_refused(own_models, s3, registry, edit):
    meta = _metadata(s3, own_models.models)
    edit(meta)
    _put_json(s3, own_models.models, META, meta)

    with pytest.raises(ModelIntegrityError, match="signature does not verify"):
        registry.metadata("v0001")
    held = _infer_held(s3, own_models, "edited")
    assert "v0001" in held["note"]["reason"]


# --- signatures that are not training's ---------------------------------------------------


def _register_second_version(registry) -> tuple[str, dict]:
    """A second version registered (and signed) the way training does."""
    model = registry.load("v0001")
    meta = registry.metadata("v0001")
    kept = {k: v for k, v in meta.items() if k not in ("name", "version", "signature")}
    return registry.register(model, kept)


def test_signature_copied_from_another_version_is_refused(own_models, s3, registry):
    version, stored = _register_second_version(registry)
    assert version == "v0002" and registry.metadata("v0002")["signature"] == stored["signature"]
    meta = _metadata(s3, own_models.models)
    meta["signature"] = stored["signature"]
    _put_json(s3, own_models.models, META, meta)

    fresh = ModelRegistry(ObjectStore(s3), own_models.models, MODEL)  # no loaded-model cache
    with pytest.raises(ModelIntegrityError, match="signature does not verify"):
        fresh.load("v0001")
    _infer_held(s3, own_models, "copied-signature")


def test_signed_version_replayed_under_another_number_is_refused(own_models, s3, registry):
    """Model file and signed metadata copied whole into v0007, which the alias now names:
    the signature binds the version it was made for."""
    for name in ("model.joblib", "metadata.json"):
        s3.copy_object(
            Bucket=own_models.models,
            Key=f"models/{MODEL}/v0007/{name}",
            CopySource={"Bucket": own_models.models, "Key": f"models/{MODEL}/v0001/{name}"},
        )
    aliases = get_json(s3, own_models.models, ALIASES)
    _put_json(s3, own_models.models, ALIASES, {**aliases, "champion": "v0007"})

    held = _infer_held(s3, own_models, "replayed")

    assert "models/booking_status/v0007" in held["note"]["reason"]
    registry.load("v0001")  # the original still verifies where it was signed


def test_signed_version_copied_under_another_model_name_is_refused(own_models, s3):
    for name in ("model.joblib", "metadata.json"):
        s3.copy_object(
            Bucket=own_models.models,
            Key=f"models/other_model/v0001/{name}",
            CopySource={"Bucket": own_models.models, "Key": f"models/{MODEL}/v0001/{name}"},
        )
    other = ModelRegistry(ObjectStore(s3), own_models.models, "other_model")

    with pytest.raises(ModelIntegrityError, match="models/other_model/v0001"):
        other.load("v0001")


def test_signature_made_with_another_kms_key_is_refused(own_models, s3, tmp_path, monkeypatch):
    from mlcycle import signing

    marker = tmp_path / "ran"
    meta = _plant_pickle(s3, own_models.models, marker)
    attacker_key = boto3.client("kms").create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")
    with monkeypatch.context() as attacker:
        attacker.setenv(signing.KEY_VARIABLE, attacker_key["KeyMetadata"]["Arn"])
        meta["signature"] = signing.sign(MODEL, "v0001", meta)
    _put_json(s3, own_models.models, META, meta)
    # The planted signature is valid, but for the attacker's key, not for ours.
    with monkeypatch.context() as attacker:
        attacker.setenv(signing.KEY_VARIABLE, attacker_key["KeyMetadata"]["Arn"])
        signing.verify(MODEL, "v0001", meta)

    held = _infer_held(s3, own_models, "other-key")

    assert not marker.exists()
    assert "signature does not verify" in held["note"]["reason"]


GARBAGE = base64.b64encode(bytes(range(72))).decode()


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        pytest.param("signed-by-training", "unsigned", id="not-a-record"),
        pytest.param({}, "unsigned", id="empty-record"),
        pytest.param({"value": 42}, "unsigned", id="value-not-text"),
        pytest.param({"value": "%%not base64%%"}, "does not verify", id="value-not-base64"),
        pytest.param({"value": GARBAGE}, "does not verify", id="value-random-bytes"),
        pytest.param(
            {"value": ""},
            "does not verify",
            id="value-empty",
        ),
    ],
)
def test_missing_or_garbage_signature_is_refused(own_models, s3, tmp_path, signature, message):
    marker = tmp_path / "ran"
    meta = _plant_pickle(s3, own_models.models, marker)
    meta["signature"] = signature
    _put_json(s3, own_models.models, META, meta)

    held = _infer_held(s3, own_models, "garbage-signature")

    assert message in held["note"]["reason"]
    assert not marker.exists()


# --- unsigned versions and their one-off migration (a train action) --------------------------

SIGN_UNSIGNED = {"action": "sign_unsigned", "actor": "ops"}


def _strip_signature(s3, bucket: str) -> dict:
    meta = _metadata(s3, bucket)
    del meta["signature"]
    _put_json(s3, bucket, META, meta)
    return meta


def test_unsigned_legacy_version_is_refused_until_the_migration_signs_it(own_models, s3, registry):
    from handlers import infer, train

    meta = _strip_signature(s3, own_models.models)

    held = _infer_held(s3, own_models, "legacy")
    assert "unsigned" in held["note"]["reason"]
    assert '{"action": "sign_unsigned"}' in held["note"]["reason"]

    assert train.handler(SIGN_UNSIGNED, None) == {"status": "signed", "versions": ["v0001"]}
    signed = _metadata(s3, own_models.models)
    assert {k: v for k, v in signed.items() if k != "signature"} == meta
    registry.load("v0001")

    # The held batch was kept, and is published once an operator re-scores held batches.
    replay = infer.handler({"action": "score_held", "probation": False}, None)
    [result] = replay["results"]
    assert result["status"] == "published" and result["batch_id"] == held["batch_id"]
    assert result["rows"] == SAMPLE_ROWS
    assert len(versions(s3, own_models.predictions, f"predictions/{held['batch_id']}/_SUCCESS"))


def test_migration_refuses_a_file_that_no_longer_matches_its_sha256(own_models, s3, tmp_path):
    from handlers import train

    _strip_signature(s3, own_models.models)
    marker = tmp_path / "ran"
    s3.put_object(Bucket=own_models.models, Key=FILE, Body=crafted_pickle(marker))
    before = snapshot(s3, own_models.models)

    result = train.handler(SIGN_UNSIGNED, None)

    assert (result["status"], result["error_type"]) == ("rejected", "ModelIntegrityError")
    assert "does not match the sha256" in result["error"]
    assert snapshot(s3, own_models.models) == before
    assert "signature" not in _metadata(s3, own_models.models)
    assert not marker.exists()


def test_migration_leaves_signed_versions_alone(own_models, s3):
    from handlers import train

    before = snapshot(s3, own_models.models)

    assert train.handler(SIGN_UNSIGNED, None) == {"status": "signed", "versions": []}
    assert snapshot(s3, own_models.models) == before


# --- the monitor trusts only signed metadata ------------------------------------------------


def _published_then_tampered(s3, buckets) -> str:
    batch_id = new_batch_id("monitored")
    publish(s3, buckets, batch_id)
    meta = _metadata(s3, buckets.models)
    _shift_profile(meta)
    _put_json(s3, buckets.models, META, meta)
    return batch_id


def test_monitor_refuses_tampered_metadata_on_request_and_on_s3_event(own_models, s3):
    from handlers import monitor

    batch_id = _published_then_tampered(s3, own_models)

    with pytest.raises(ModelIntegrityError, match="signature does not verify"):
        monitor.handler({"batch_id": batch_id}, None)
    event = s3_event(s3, own_models.predictions, f"predictions/{batch_id}/_SUCCESS")
    with pytest.raises(ModelIntegrityError):
        monitor.handler(event, None)

    assert current_keys(s3, own_models.monitoring, "reports/") == []  # no report, no run marker


def test_monitor_sweep_reports_tampered_metadata_as_an_error_and_writes_no_report(own_models, s3):
    from handlers import monitor
    from tests.integration.helpers import SCHEDULED

    batch_id = _published_then_tampered(s3, own_models)

    result = monitor.handler(SCHEDULED, None)

    [outcome] = result["results"]
    assert outcome["status"] == "error" and outcome["batch_id"] == batch_id
    assert outcome["error"].startswith("ModelIntegrityError: ")
    assert current_keys(s3, own_models.monitoring, "reports/") == []


# --- the key itself -----------------------------------------------------------------------


def test_signing_key_unset_refuses_every_load(own_models, s3, registry, tmp_path, monkeypatch):
    """A deployment that lost its key setting cannot verify: it holds, it never trusts."""
    from handlers import infer

    marker = tmp_path / "ran"
    _plant_pickle(s3, own_models.models, marker)
    monkeypatch.delenv("MODEL_SIGNING_KEY_ID")

    with pytest.raises(ModelIntegrityError, match="MODEL_SIGNING_KEY_ID"):
        registry.load("v0001")
    batch_id = new_batch_id("no-key")
    [result] = infer.handler(upload_sample(s3, own_models, batch_id), None)["results"]

    assert result["status"] == "held" and "MODEL_SIGNING_KEY_ID" in result["error"]
    assert not marker.exists()
    assert current_keys(s3, own_models.predictions) == []
    assert current_keys(s3, own_models.data, f"incoming/{batch_id}/") == []
    assert current_keys(s3, own_models.data, f"held/{batch_id}/") == [
        f"held/{batch_id}/bookings.csv",
        f"held/{batch_id}/held.json",
        f"held/{batch_id}/hotels.csv",
    ]
