"""The model store.

Immutable versions, sha256-verified loading, aliases that never lose an update.
"""

import threading

import pytest

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
