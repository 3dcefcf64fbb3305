"""A batch larger than MLCYCLE_SHARD_BYTES scored by several invocations of the infer function:
the planning invocation's self-invokes are run as the shard invocations Lambda would start
(each through the handler, against the emulator's S3)."""

import io
import json

import pandas as pd

from tests.integration.helpers import (
    SCHEDULED,
    keys,
    read_csv,
    refuting_report,
    sample_batch_files,
    upload_batch,
)
from tests.integration.test_cycle import s3_event


def _score(batch_id: str, buckets) -> dict:
    from handlers import infer

    event = s3_event(buckets.data, f"incoming/{batch_id}/hotels.csv")
    return infer.handler(event, None)["results"][0]


def _run_shards(sent: list, order=None) -> list[dict]:
    from handlers import infer

    requests = [sent[i] for i in (order or range(len(sent)))]
    sent.clear()
    return [infer.handler(request, None) for request in requests]


def _manifest(s3, buckets, batch_id: str) -> dict:
    body = s3.get_object(Bucket=buckets.predictions, Key=f"predictions/{batch_id}/_SUCCESS")
    return json.loads(body["Body"].read())


def test_a_sharded_batch_publishes_the_same_predictions_as_one_invocation(
    trained, buckets, s3, monkeypatch, self_invokes
):
    files = sample_batch_files()
    upload_batch(s3, buckets.data, "single", files)
    upload_batch(s3, buckets.data, "sharded", files)
    single = _score("single", buckets)
    assert single["status"] == "published" and self_invokes == []

    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 4))
    # hotels indexed on disk once by the planner and shared (the single run held them in memory)
    monkeypatch.setenv("MLCYCLE_ATTRIBUTE_MEMORY_ROWS", "100")
    planned = _score("sharded", buckets)
    assert planned["status"] == "sharded" and planned["shards"] >= 4
    assert len(self_invokes) == planned["shards"]
    assert keys(s3, buckets.predictions, "predictions/sharded/_SUCCESS") == []
    # Shards finish in any order; the last to report publishes.
    results = _run_shards(self_invokes, order=[3, 0, 2, 1, *range(4, len(self_invokes))])
    assert [r["status"] for r in results[:-1]] == ["shard_scored"] * (len(results) - 1)
    assert results[-1]["status"] == "published"

    manifest = _manifest(s3, buckets, "sharded")
    one = read_csv(s3, buckets.predictions, single["predictions_key"])
    parts = pd.concat(
        [read_csv(s3, buckets.predictions, key) for key in manifest["parts"]], ignore_index=True
    )
    assert len(manifest["parts"]) == planned["shards"] and manifest["rows"] == len(one)
    pd.testing.assert_frame_equal(parts.drop(columns="batch_id"), one.drop(columns="batch_id"))
    single_manifest = _manifest(s3, buckets, "single")
    for field in ("predicted_counts", "join_coverage", "schema_violations"):
        assert manifest[field] == single_manifest[field], field
    stats, expected = manifest["statistics"], single_manifest["statistics"]
    for field in ("rows", "matched", "nulls", "counts", "classes", "confidence"):
        assert stats[field] == expected[field], field
    assert manifest["gate"]["level"] == single_manifest["gate"]["level"]
    plan = json.loads(
        s3.get_object(
            Bucket=buckets.predictions,
            Key=f"predictions/sharded/shards/{planned['plan']}/plan.json",
        )["Body"].read()
    )
    assert [a["name"] for a in plan["attributes"]] == ["hotels"]
    # the work files are gone, the parts and the record of each shard stay
    work = keys(s3, buckets.predictions, "predictions/sharded/shards/")
    assert not [k for k in work if k.endswith(".bin") or k.endswith("_LEASE")]
    assert sum(k.endswith(".json") for k in work) == planned["shards"] + 1

    # The monitor reads the parts as one batch: the same report as the single run's.
    from handlers import monitor

    [watched] = monitor.handler({"batch_id": "sharded"}, None)["results"]
    [reference] = monitor.handler({"batch_id": "single"}, None)["results"]
    assert watched["status"] == "monitored"
    assert watched["metrics"] == reference["metrics"] and watched["metrics"]["RowCount"] == 500

    # Re-deliveries change nothing: the S3 event, and a shard request retried by Lambda.
    assert _score("sharded", buckets)["status"] == "already_published"
    from handlers import infer

    again = infer.handler(
        {
            "action": "score_shard",
            "batch_id": "sharded",
            "plan": manifest["shards"]["plan"],
            "shard": 0,
        },
        None,
    )
    assert again["status"] == "already_published"
    assert keys(s3, buckets.predictions, "predictions/sharded/_SUCCESS") == [
        "predictions/sharded/_SUCCESS"
    ]
    versions = s3.list_object_versions(
        Bucket=buckets.predictions, Prefix="predictions/sharded/_SUCCESS"
    )["Versions"]
    assert len(versions) == 1


def test_a_key_repeated_in_another_shard_quarantines_the_whole_batch(
    trained, buckets, s3, monkeypatch, self_invokes
):
    files = sample_batch_files()
    lines = files["bookings"].decode().splitlines()
    first_key = lines[1].split(",")[0]
    last = lines[-2].split(",")
    lines[-2] = ",".join([first_key, *last[1:]])  # the second-to-last row repeats the first's key
    upload_batch(s3, buckets.data, "dup", {**files, "bookings": ("\n".join(lines) + "\n").encode()})
    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 4))

    assert _score("dup", buckets)["status"] == "sharded"
    final = _run_shards(self_invokes)[-1]
    assert final["status"] == "quarantined"
    reason = final["reason"]
    assert (reason["column"], reason["rule"]) == ("hotel_id", "unique")
    assert reason["lines"] == [len(lines) - 1]  # the file's line of the repeat
    assert keys(s3, buckets.predictions, "predictions/dup/_SUCCESS") == []
    assert not [k for k in keys(s3, buckets.predictions, "predictions/dup/") if k.endswith(".csv")]


def test_a_shard_that_never_reports_fails_the_batch_at_the_deadline(
    trained, buckets, s3, monkeypatch, self_invokes
):
    import datetime as dt

    import mlcycle.shard_finish as shard_finish
    from handlers import infer
    from mlcycle.clock import now

    files = sample_batch_files()
    upload_batch(s3, buckets.data, "lost", files)
    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))
    monkeypatch.setenv("MLCYCLE_SHARD_DEADLINE_S", "600")
    assert _score("lost", buckets)["status"] == "sharded"
    lost = self_invokes.pop()  # Lambda never delivers the last shard
    assert {r["status"] for r in _run_shards(self_invokes)} == {"shard_scored"}
    assert infer.handler(SCHEDULED, None)["counts"].get("in_progress") == 1  # within the deadline

    later = now() + dt.timedelta(seconds=601)
    monkeypatch.setattr(shard_finish, "now", lambda: later)
    result = infer.handler(SCHEDULED, None)["results"][0]
    assert result["status"] == "quarantined"
    assert result["reason"]["rule"] == "every shard reports within the deadline"
    assert f"[{lost['shard']}]" in result["reason"]["detail"]
    assert "600 s" in result["reason"]["detail"]
    assert not [k for k in keys(s3, buckets.predictions, "predictions/lost/") if k.endswith(".csv")]


def test_a_bad_value_in_one_shard_quarantines_the_batch_with_that_shard_s_reason(
    trained, buckets, s3, monkeypatch, self_invokes
):
    files = sample_batch_files()
    lines = files["bookings"].decode().splitlines()
    row = lines[-3].split(",")
    row[1] = "soon"  # day_distance is an integer
    lines[-3] = ",".join(row)
    upload_batch(s3, buckets.data, "bad", {**files, "bookings": ("\n".join(lines) + "\n").encode()})
    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))
    assert _score("bad", buckets)["status"] == "sharded"
    final = _run_shards(self_invokes)[-1]
    assert final["status"] == "quarantined"
    assert final["reason"]["column"] == "day_distance"
    assert final["reason"]["lines"] == [len(lines) - 2]
    assert final["reason"]["shard"] == 2  # the last of three shards held the bad row


def test_on_probation_a_large_batch_is_sharded_too_and_a_refuted_candidate_s_parts_go(
    trained, buckets, s3, monkeypatch, self_invokes, breaker_asks
):
    """A batch scored by a candidate (held batches re-scored, or one arriving while HALF_OPEN)
    takes the same sharded path; its probation output is the parts, published as they are on
    a healthy verdict and removed, plan and all, when the candidate is refuted."""
    from handlers import breaker, runtime
    from mlcycle.breaker import effects

    files = sample_batch_files()
    for batch_id in ("single", "healthy", "refuted"):
        upload_batch(s3, buckets.data, batch_id, files)
    breaker.handler({"action": "open", "reason": "test", "actor": "alice"}, None)
    breaker.handler({"action": "model_promoted", "version": "v0001"}, None)
    single = _score("single", buckets)
    assert single["status"] == "published" and single["probation"] is True

    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))
    for batch_id in ("healthy", "refuted"):
        assert _score(batch_id, buckets)["status"] == "sharded"
        final = _run_shards(self_invokes)[-1]
        assert final["status"] == "published" and final["probation"] is True, final
    body = s3.get_object(Bucket=buckets.predictions, Key="probation/healthy/_SUCCESS")["Body"]
    manifest = json.loads(body.read())
    one = read_csv(s3, buckets.predictions, "probation/single/predictions.csv")
    parts = pd.concat([read_csv(s3, buckets.predictions, k) for k in manifest["parts"]])
    assert len(manifest["parts"]) >= 3 and manifest["probation"] is True
    pd.testing.assert_frame_equal(
        parts.drop(columns="batch_id").reset_index(drop=True), one.drop(columns="batch_id")
    )

    # A healthy verdict publishes the parts as they stand.
    assert effects.release_probation(runtime.store(), buckets, ["healthy"]) == ["healthy"]
    published = _manifest(s3, buckets, "healthy")
    assert published["probation"] is False and len(published["parts"]) == len(manifest["parts"])
    # copies of its own, so nothing a probation cleanup deletes is ever published
    assert not set(published["parts"]) & set(manifest["parts"])
    copied = pd.concat([read_csv(s3, buckets.predictions, k) for k in published["parts"]])
    pd.testing.assert_frame_equal(copied, parts)

    # Refuted: the unpublished batches it scored go back to held/, their outputs gone.
    report = refuting_report("single")
    assert breaker.handler(report, None)["state"]["state"] == "OPEN"
    assert keys(s3, buckets.predictions, "probation/refuted/") == []
    assert keys(s3, buckets.predictions, "predictions/refuted/") == []
    assert keys(s3, buckets.data, "held/refuted/") and keys(s3, buckets.data, "held/single/")
    # A cleanup that races the publication (the batch judged healthy and refuted at once)
    # takes the probation plan and its parts, never what was published.
    actions = effects.AwsBreakerActions(runtime.store(), buckets, "booking_status")
    actions.return_to_held("healthy", report)
    assert (
        keys(s3, buckets.predictions, f"predictions/healthy/shards/{manifest['shards']['plan']}/")
        == []
    )
    again = pd.concat([read_csv(s3, buckets.predictions, k) for k in published["parts"]])
    pd.testing.assert_frame_equal(again, parts)


def test_a_forced_release_of_a_sharded_held_batch_completes_when_its_shards_are_done(
    trained, buckets, s3, monkeypatch, self_invokes, breaker_asks
):
    """The release returns at planning ("sharded"); the last shard sends the release again,
    which publishes the scored parts with the operator's mark, once."""
    from handlers import breaker, infer

    operator = {"reason": "test", "actor": "alice"}
    files = sample_batch_files()
    upload_batch(s3, buckets.data, "big", files)
    breaker.handler({"action": "open", **operator}, None)
    assert _score("big", buckets)["status"] == "held"

    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))
    breaker.handler({"action": "release", "batch_id": "big", "force": True, **operator}, None)
    release = {"action": "release", "batch_id": "big"}
    assert breaker_asks[-1] == release
    [planned] = infer.handler(release, None)["results"]
    assert planned["status"] == "sharded" and planned["shards"] >= 3, planned
    assert "predictions/big/_SUCCESS" not in keys(s3, buckets.predictions, "predictions/big/")

    _run_shards(self_invokes)
    assert self_invokes == [release]  # the last shard repeats the release
    [released] = _run_shards(self_invokes)[0]["results"]
    assert released["status"] == "published" and released["model_version"] == "v0001", released
    manifest = _manifest(s3, buckets, "big")
    assert manifest["release"]["force"] is True and manifest["release"]["actor"] == "alice"
    assert manifest["probation"] is False and len(manifest["parts"]) == planned["shards"]
    parts = pd.concat([read_csv(s3, buckets.predictions, k) for k in manifest["parts"]])
    assert len(parts) == manifest["rows"] == len(pd.read_csv(io.BytesIO(files["bookings"])))

    etag = s3.head_object(Bucket=buckets.predictions, Key="predictions/big/_SUCCESS")["ETag"]
    [again] = infer.handler(release, None)["results"]  # a re-delivered continuation
    assert again["status"] == "held" and again["reason"].startswith("no release order")
    after = s3.head_object(Bucket=buckets.predictions, Key="predictions/big/_SUCCESS")["ETag"]
    assert after == etag


def test_the_hold_limit_s_fallback_of_a_sharded_batch_completes_at_the_sweep_its_shards_send(
    trained, buckets, s3, monkeypatch, self_invokes, breaker_asks
):
    import datetime as dt
    from dataclasses import replace

    from handlers import breaker, runtime
    from mlcycle import events
    from mlcycle.breaker import holds
    from mlcycle.inference import handle

    files = sample_batch_files()
    upload_batch(s3, buckets.data, "big", files)
    breaker.handler({"action": "open", "reason": "test", "actor": "alice"}, None)
    assert _score("big", buckets)["status"] == "held"
    cfg = runtime.config()
    cfg = replace(cfg, breaker=replace(cfg.breaker, hold_fallback="publish"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    monkeypatch.setattr(holds, "now", lambda: later)
    monkeypatch.setenv("MLCYCLE_SHARD_BYTES", str(len(files["bookings"]) // 3))

    def sweep() -> dict:
        swept = handle(cfg, runtime.plugin(), runtime.store(), buckets, events.SweepHolds())
        return {r["batch_id"]: r for r in swept["results"]}

    assert sweep()["big"]["status"] == "sharded"
    _run_shards(self_invokes)
    assert self_invokes == [{"action": "sweep_holds"}]
    assert events.parse_infer_event(self_invokes[0]) == events.SweepHolds()
    assert sweep()["big"]["status"] == "published"
    manifest = _manifest(s3, buckets, "big")
    assert manifest["fallback"]["policy"] == "publish" and manifest["probation"] is False
    assert manifest["model_version"] == "v0001" and len(manifest["parts"]) >= 3
