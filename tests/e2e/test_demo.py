"""The short demo (one incident, 8 days) as part of make test: the product's story must hold."""

import json

from demo import runner


def test_short_demo_catches_the_outage_and_loses_nothing(tmp_path):
    report = runner.run(days=8, seed=7, out_dir=tmp_path)

    [incident] = report["incidents"]
    assert incident["type"] == "source_outage"
    assert incident["detected_day"] == incident["day"] == incident["breaker_opened_day"]
    assert incident["recovered_day"] is not None and incident["recovered_day"] > incident["day"]
    assert report["published_bad_predictions_after_trip"] == 0
    assert report["false_trips"] == 0
    assert report["outcome"]["lost"] == 0 and sum(report["outcome"].values()) == 8
    assert len(report["days"]) == 8 and report["champion_versions"][0]["version"] == "v0001"
    assert report["accuracy_estimate_mae"] is not None and report["accuracy_estimate_mae"] < 0.1
    moves = [(e["from"], e["to"]) for e in report["breaker_events"] if e["from"] != e["to"]]
    assert moves[:3] == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]
    assert (
        json.loads((tmp_path / "report.json").read_text())["days"][2]["incident"] == "source_outage"
    )
    html = (tmp_path / "report.html").read_text()
    assert (
        "source_outage" in html.replace(" ", "_")
        and (tmp_path / "report.png").stat().st_size > 10_000
    )
