"""The model store.

Immutable versions, sha256-verified loading, aliases that never lose an update.
"""

import gzip
import io
import pickle
import threading

import joblib
import numpy as np
import pytest

from mlcycle import registry as registry_module
from mlcycle.errors import ModelIntegrityError
from mlcycle.objectstore import ObjectStore
from mlcycle.registry import Decision, ModelRegistry


@pytest.fixture
def registry(buckets):
    return ModelRegistry(ObjectStore(), buckets.models, "m")


def always(reason="ok"):
    return lambda champion: Decision(True, reason)


def test_versions_are_numbered_and_immutable(registry, s3, buckets):
    v1, meta1 = registry.register({"weights": [1, 2]}, {"metrics": {"accuracy": 0.5}})
    v2, _ = registry.register({"weights": [3]}, {})
    assert (v1, v2) == ("v0001", "v0002") and registry.versions() == ["v0001", "v0002"]
    assert registry.load(v1) == {"weights": [1, 2]} and meta1["metrics"] == {"accuracy": 0.5}
    from mlcycle.objectstore import PreconditionFailed

    with pytest.raises(PreconditionFailed):
        ObjectStore().put_bytes(
            buckets.models, "models/m/v0001/model.joblib", b"overwrite", if_none_match=True
        )


def test_a_model_file_is_a_compressed_pickle_and_files_joblib_wrote_still_load(
    registry, s3, buckets, monkeypatch
):
    model = {"trees": [np.arange(i, i + 50, dtype="float64") for i in range(600)]}
    version, _ = registry.register(model, {})
    raw = s3.get_object(Bucket=buckets.models, Key=f"models/m/{version}/model.joblib")["Body"]
    raw = raw.read()
    for read in (pickle.loads(gzip.decompress(raw)), joblib.load(io.BytesIO(raw))):
        assert len(read["trees"]) == 600
        assert all(np.array_equal(a, b) for a, b in zip(read["trees"], model["trees"], strict=True))

    def joblib_file(obj) -> bytes:  # how versions were written before
        buf = io.BytesIO()
        joblib.dump(obj, buf, compress=3)
        return buf.getvalue()

    monkeypatch.setattr(registry_module, "model_bytes", joblib_file)
    older, _ = registry.register(model, {})
    loaded = ModelRegistry(ObjectStore(), buckets.models, "m").load(older)
    assert len(loaded["trees"]) == 600 and np.array_equal(loaded["trees"][-1], model["trees"][-1])


def test_tampered_model_file_is_refused(registry, s3, buckets):
    version, _ = registry.register({"weights": [1]}, {})
    s3.put_object(
        Bucket=buckets.models,
        Key=f"models/m/{version}/model.joblib",
        Body=b"not the model we stored",
    )
    with pytest.raises(ModelIntegrityError, match="does not match metadata"):
        ModelRegistry(ObjectStore(), buckets.models, "m").load(version)


def test_promotion_sets_champion_and_previous(registry):
    v1, _ = registry.register("a", {})
    v2, _ = registry.register("b", {})
    registry.promote(v1, always())
    registry.promote(v2, always())
    aliases, _ = registry.aliases()
    assert aliases["champion"] == v2 and aliases["previous"] == v1


def test_a_promotion_that_loses_the_race_decides_again_against_the_new_champion(registry):
    v1, _ = registry.register("a", {})
    v2, _ = registry.register("b", {})
    rival = ModelRegistry(ObjectStore(), registry.bucket, "m")
    seen = []

    def decide(champion):
        seen.append(champion)
        if len(seen) == 1:  # another trainer promotes between our read and our write
            rival.promote(v1, always("rival"))
        return Decision(champion != v1, "only beats an empty slot")

    decision = registry.promote(v2, decide)
    assert seen == [None, v1]
    assert decision.promote is False
    assert registry.champion() == v1


def test_concurrent_promotions_never_lose_an_update(registry):
    versions = [registry.register(str(i), {})[0] for i in range(6)]
    barrier = threading.Barrier(len(versions))

    def promote(v):
        barrier.wait()
        ModelRegistry(ObjectStore(), registry.bucket, "m").promote(v, always())

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    aliases, _ = registry.aliases()
    promoted = [h["champion"] for h in aliases["history"]]
    assert sorted(promoted) == versions  # every promotion landed exactly once
    chain = [h["previous"] for h in aliases["history"]]
    assert (
        chain == [None] + promoted[:-1]
    )  # each saw the one before it: no write was based on stale aliases
    assert aliases["champion"] == promoted[-1]
