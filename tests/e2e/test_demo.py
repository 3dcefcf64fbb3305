"""The short demo (one incident, 8 days) as part of make test: the product's story must hold."""

import json

import pytest

from demo import runner
from demo.scenario import Incident, Scenario

# The hotels file breaks on day 3 and its source re-sends the complete file on day 4.
SHORT = Scenario(days=8, seed=7, incidents=(Incident("source_outage", 3, 3, corrected_after=1),))


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return runner.run(SHORT, out), out


def test_short_demo_catches_the_outage_before_publication_and_loses_nothing(short_demo):
    report, out = short_demo
    [incident] = report["incidents"]
    assert incident["type"] == "source_outage" and incident["harmful"]
    assert incident["detected_day"] == incident["day"] == 3
    assert incident["detected_by"].startswith("gate: day-03 JoinCoverage")
    [gate] = report["days"][2]["signals"]
    assert gate["by"] == "gate" and gate["held"] and "JoinCoverage" in gate["trips"]
    assert incident["rows_published_while_harmful"] == 0
    assert report["published_bad_batches"] == report["bad_rows_published"] == 0
    assert report["published_bad_predictions_after_trip"] == 0
    assert report["false_trips"] == 0 and report["label_delay_days"] == 3
    assert report["outcome"]["lost"] == 0 and sum(report["outcome"].values()) == 8
    # A day without a batch follows the last one; it gets no row of its own.
    assert len(report["days"]) == 8 and report["settings"]["drain_days"] == 1
    first = report["champion_versions"][0]
    assert first["version"] == "v0001" and first["clean_day_accuracy"] > 0.55  # prior: 0.34
    assert report["accuracy_estimate_mae"] is not None and report["accuracy_estimate_mae"] < 0.1
    assert json.loads((out / "report.json").read_text())["days"][2]["incident"] == "source_outage"
    html = (out / "report.html").read_text()
    assert (
        "source_outage" in html.replace(" ", "_") and (out / "report.png").stat().st_size > 10_000
    )


def test_short_demo_publishes_the_corrected_files_with_the_same_champion(short_demo):
    report, _ = short_demo
    [incident] = report["incidents"]
    outage = report["days"][2]
    publication = outage["publication"]
    assert outage["corrected_day"] == 4 and publication["corrected"]
    assert (publication["day"], publication["model_version"]) == (4, outage["champion_at_upload"])
    assert incident["action"].startswith("held at the gate, published from corrected files")
    assert incident["recovered_day"] == 4
    # An integrity incident is the input's fault: the model is kept, nothing opens.
    assert incident["breaker_opened_day"] is None and report["trips"] == []
    assert report["held_good_batches"] == 0, report["held_good_batch_ids"]
