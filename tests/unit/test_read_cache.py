"""Sources a warm function keeps: S3 is asked every time, only the parse is saved."""

import pytest

from mlcycle import sources
from mlcycle.errors import DataContractError
from mlcycle.objectstore import PreconditionFailed
from mlcycle.read_cache import ReadCache
from tests.unit.breaker_world import BUCKETS

KEY = "incoming/b-1/hotels.csv"
HOTELS = b"hotel_id,country_code\nh1,DE\nh2,FR\n"


@pytest.fixture
def kept(world, monkeypatch):
    """(store, config, cache, how many times a file was parsed)."""
    store, _, cfg = world
    parses = []
    read_all = sources.SourceReader.read_all
    monkeypatch.setattr(
        sources.SourceReader, "read_all", lambda self: parses.append(self.file) or read_all(self)
    )
    return store, cfg, ReadCache(budget_bytes=10**6), parses


def _put(store, body: bytes, key: str = KEY) -> dict:
    return store.s3.put_object(Bucket=BUCKETS.data, Key=key, Body=body)


def _spec(cfg):
    return next(s for s in cfg.sources if s.name == "hotels")


def _countries(cache, store, cfg) -> list[str]:
    frame, _ = cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    return list(frame["country_code"])


def test_an_unchanged_object_is_parsed_once_and_each_caller_gets_its_own_copy(kept):
    store, cfg, cache, parses = kept
    _put(store, HOTELS)
    first, _ = cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    first.loc[0, "country_code"] = "XX"
    assert _countries(cache, store, cfg) == ["DE", "FR"]
    assert len(parses) == 1


def test_a_replaced_object_is_read_anew(kept):
    store, cfg, cache, parses = kept
    _put(store, HOTELS)
    assert _countries(cache, store, cfg) == ["DE", "FR"]
    _put(store, HOTELS.replace(b"FR", b"IT"))
    assert _countries(cache, store, cfg) == ["DE", "IT"]
    assert len(parses) == 2


def test_a_deleted_object_is_not_served_from_memory(kept):
    store, cfg, cache, _ = kept
    _put(store, HOTELS)
    cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    store.delete(BUCKETS.data, KEY)
    with pytest.raises(Exception, match="NoSuchKey"):
        cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)


def test_a_pinned_read_of_a_changed_object_fails_though_the_recorded_one_was_kept(kept):
    store, cfg, cache, _ = kept
    etag = _put(store, HOTELS)["ETag"]
    pinned = store.pinned({(BUCKETS.data, KEY): {"etag": etag, "version_id": None}})
    cache.read(pinned, BUCKETS.data, KEY, _spec(cfg), cfg)
    _put(store, HOTELS.replace(b"FR", b"IT"))
    with pytest.raises(PreconditionFailed):
        cache.read(pinned, BUCKETS.data, KEY, _spec(cfg), cfg)


def test_a_pinned_version_is_kept_apart_from_the_current_object(kept):
    store, cfg, cache, parses = kept
    store.s3.put_bucket_versioning(
        Bucket=BUCKETS.data, VersioningConfiguration={"Status": "Enabled"}
    )
    version = _put(store, HOTELS)["VersionId"]
    _put(store, HOTELS.replace(b"FR", b"IT"))
    pinned = store.pinned({(BUCKETS.data, KEY): {"etag": None, "version_id": version}})
    for _ in range(2):
        assert _countries(cache, pinned, cfg) == ["DE", "FR"]
        assert _countries(cache, store, cfg) == ["DE", "IT"]
    assert len(parses) == 2


def test_a_file_the_contract_refuses_is_refused_every_time(kept):
    store, cfg, cache, parses = kept
    _put(store, b"hotel_id,country_code\nh1,DE\nh1,FR\n")
    for _ in range(2):
        with pytest.raises(DataContractError, match="unique"):
            cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    assert len(parses) == 2


def test_the_least_recently_used_source_goes_first_beyond_the_budget(kept):
    store, cfg, _, parses = kept
    keys = [f"incoming/b-{i}/hotels.csv" for i in range(3)]
    for key in keys:
        _put(store, HOTELS, key)
    one, _ = ReadCache(budget_bytes=10**6).read(store, BUCKETS.data, keys[0], _spec(cfg), cfg)
    size = int(one.memory_usage(deep=True, index=True).sum())
    cache = ReadCache(budget_bytes=2 * size)
    parses.clear()
    for key in (keys[0], keys[1], keys[0], keys[2], keys[0], keys[1]):
        cache.read(store, BUCKETS.data, key, _spec(cfg), cfg)
    # keys[1] was the least recently used when keys[2] came; keys[0] stayed in.
    assert parses == [f"s3://{BUCKETS.data}/{k}" for k in (keys[0], keys[1], keys[2], keys[1])]
    assert cache.used <= cache.budget


def test_a_source_larger_than_the_budget_is_not_kept(kept):
    store, cfg, _, parses = kept
    _put(store, HOTELS)
    cache = ReadCache(budget_bytes=10)
    for _ in range(2):
        cache.read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    assert len(parses) == 2 and cache.used == 0


def _joined(cache, store, cfg, made: list) -> tuple:
    part = cache.checked(store, BUCKETS.data, KEY, _spec(cfg), cfg)

    def join():
        made.append(part.identity)
        return part.frame.assign(matched=True), {"hotels": 1.0}

    return cache.joined("test join", (part,), join)


def test_a_join_of_unchanged_sources_is_made_once_and_each_caller_gets_its_own_copy(kept):
    store, cfg, cache, parses = kept
    _put(store, HOTELS)
    made: list = []
    first, coverage = _joined(cache, store, cfg, made)
    first.loc[0, "country_code"] = "XX"
    coverage["hotels"] = 0.0
    again, coverage = _joined(cache, store, cfg, made)
    assert list(again["country_code"]) == ["DE", "FR"] and coverage == {"hotels": 1.0}
    assert len(made) == len(parses) == 1


def test_a_join_is_made_again_when_one_of_its_sources_changed(kept):
    store, cfg, cache, _ = kept
    _put(store, HOTELS)
    made: list = []
    _joined(cache, store, cfg, made)
    _put(store, HOTELS.replace(b"FR", b"IT"))
    again, _ = _joined(cache, store, cfg, made)
    assert list(again["country_code"]) == ["DE", "IT"]
    assert len(made) == 2 and made[0] != made[1]


def test_a_join_and_its_sources_share_the_budget(kept):
    store, cfg, _, _ = kept
    _put(store, HOTELS)
    frame, _ = ReadCache(budget_bytes=10**6).read(store, BUCKETS.data, KEY, _spec(cfg), cfg)
    size = int(frame.memory_usage(deep=True, index=True).sum())
    cache = ReadCache(budget_bytes=size + 10)  # room for the source, not for its join too
    made: list = []
    for _ in range(2):
        _joined(cache, store, cfg, made)
    assert cache.used <= cache.budget and len(made) == 2
