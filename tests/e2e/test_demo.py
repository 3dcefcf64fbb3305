"""The short demo (one incident, 8 days) as part of make test: the product's story must hold."""

import json

import pytest

from demo import runner
from demo.scenario import Incident, Scenario

SHORT = Scenario(days=8, seed=7, incidents=(Incident("source_outage", 3, 3),))


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return runner.run(SHORT, out), out


def test_short_demo_catches_the_outage_before_publication_and_loses_nothing(short_demo):
    report, out = short_demo
    [incident] = report["incidents"]
    assert incident["type"] == "source_outage"
    assert incident["detected_day"] == incident["day"] == incident["breaker_opened_day"]
    outage = report["days"][incident["day"] - 1]
    assert outage["batch_status"] == "held" and outage["verdicts"]["JoinCoverage"] == 2
    opened = report["breaker_events"][0]
    assert (opened["from"], opened["to"], opened["actor"]) == ("CLOSED", "OPEN", "gate")
    assert incident["harmful"] and incident["rows_published_while_harmful"] == 0
    assert incident["detected_by"].startswith("gate: day-03 JoinCoverage")
    assert incident["action"].startswith("held at the gate: day-03; breaker opened day 3 (gate)")
    assert [t["batches"] for t in report["trips"]] == [["day-03"]]
    assert report["published_bad_batches"] == report["bad_rows_published"] == 0
    assert report["published_bad_predictions_after_trip"] == 0
    assert report["false_trips"] == 0 and report["label_delay_days"] == 3
    assert report["outcome"]["lost"] == 0 and sum(report["outcome"].values()) == 8
    assert len(report["days"]) == 8
    first = report["champion_versions"][0]
    assert first["version"] == "v0001" and first["clean_day_accuracy"] > 0.55  # prior: 0.34
    assert report["accuracy_estimate_mae"] is not None and report["accuracy_estimate_mae"] < 0.1
    assert json.loads((out / "report.json").read_text())["days"][2]["incident"] == "source_outage"
    html = (out / "report.html").read_text()
    assert (
        "source_outage" in html.replace(" ", "_") and (out / "report.png").stat().st_size > 10_000
    )


def test_short_demo_recovers_from_the_outage(short_demo):
    report, _ = short_demo
    [incident] = report["incidents"]
    assert incident["recovered_day"] is not None and incident["recovered_day"] > incident["day"]
    moves = [(e["from"], e["to"]) for e in report["breaker_events"] if e["from"] != e["to"]]
    assert moves[:3] == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]
    assert report["held_good_batches"] == 0, report["held_good_batch_ids"]
