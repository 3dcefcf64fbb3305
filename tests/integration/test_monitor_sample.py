"""A batch above `monitoring.sample_rows` is monitored on a key-hash sample of its rows: counts
are the batch's, the label-free rules judge the statistics infer counted over every row, and
the inputs, predictions and labels of the sample stay aligned (real S3 on moto_server)."""

import json
from dataclasses import replace

from data.generate import make_batch
from tests.integration.test_monitoring_flow import _csv, publish


def _report(s3, buckets, batch_id: str, sample_rows: int) -> dict:
    from handlers import runtime
    from mlcycle.monitor import monitor_batch

    cfg = replace(runtime.config(), monitor_sample_rows=sample_rows)
    result = monitor_batch(cfg, runtime.store(), buckets, batch_id)
    assert result["status"] == "monitored", result
    body = s3.get_object(Bucket=buckets.monitoring, Key=f"reports/{batch_id}.json")["Body"]
    return json.loads(body.read())


def test_a_large_batch_is_monitored_on_a_sample_of_its_rows(trained, buckets, s3):
    batch = make_batch("2026-01-05", 4000, seed=5)
    publish("big", batch, buckets, s3)
    s3.put_object(Bucket=buckets.data, Key="labels/big.csv", Body=_csv(batch.labels))

    whole = _report(s3, buckets, "big", 1_000_000)
    sampled = _report(s3, buckets, "big", 1000)

    assert "sample" not in whole and whole["quality"]["row_count"] == 4000
    assert sampled["quality"]["row_count"] == sampled["business"]["rows"] == 4000
    assert sampled["business"]["volume_ratio"] == whole["business"]["volume_ratio"]
    assert sampled["sample"]["of"] == 4000 and 800 <= sampled["sample"]["rows"] <= 1200
    # every sampled prediction found its label: the three files were filtered alike
    assert sampled["performance"]["realised"]["label_coverage"] == 1.0
    realised = [r["performance"]["realised"]["accuracy"] for r in (whole, sampled)]
    assert abs(realised[0] - realised[1]) < 0.05, realised
    rules = [{n: v["level"] for n, v in r["rules"]["verdicts"].items()} for r in (whole, sampled)]
    label_free = [n for n, level in rules[0].items() if not n.startswith(("Realised", "Early"))]
    assert {n: rules[1][n] for n in label_free} == {n: rules[0][n] for n in label_free}
