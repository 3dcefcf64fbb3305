"""The demo's scorekeeping on a hand-built run: ten days, an outage the gate holds until its
corrected files come, a false alarm about a clean batch, a batch held in vain, and concept
drift published before its labels show it."""

import pytest

from demo.scenario import Incident, Scenario
from demo.scorekeeping import Score
from demo.truth import Truth

SCENARIO = Scenario(
    days=10,
    incidents=(Incident("source_outage", 3, 3, 0.07), Incident("concept_drift", 7, 10, 2.0)),
)
CHAMPION_AT_UPLOAD = {**dict.fromkeys(range(1, 4), "v1"), **dict.fromkeys(range(4, 10), "v2")}
STATE = {3: "OPEN", 4: "HALF_OPEN", 6: "OPEN", 8: "OPEN", 9: "HALF_OPEN"}
# (publication day, version) of each published batch: day-06 arrived while the false alarm
# held everything and waited two days; day-08 and day-09 waited for the drift's recovery.
PUBLISHED = {1: (1, "v1"), 2: (2, "v1"), 3: (4, "v2"), 4: (4, "v2"), 5: (5, "v2")}
PUBLISHED |= {6: (8, "v2"), 7: (7, "v2")}
PUBLISHED |= {8: (10, "v3"), 9: (10, "v3"), 10: (10, "v3")}


def signal(batch, by, trips, live=True, held=False, labels=False, version=None):
    return {
        "batch_id": batch,
        "by": by,
        "trips": trips,
        "warnings": [],
        "reasons": {rule: "0.07 vs normal 0.97" for rule in trips},
        "model_version": version,
        "probation": False,
        "held": held,
        "live": live,
        "labels": labels,
    }


SIGNALS = {
    3: [signal("day-03", "gate", ["JoinCoverage", "NullRate"], held=True)],
    # A clean batch's complete labels trip a rule: the alarm is false, and it is no detection
    # of the drift that starts the next day.
    6: [signal("day-04", "monitor", ["PositiveRateGap"], labels=True, version="v2")],
    # A retired model's trip on an incident batch reaches no alarm; the live one's does.
    8: [
        signal("day-02", "monitor", ["EarlyPositiveRate"], live=False, version="v1"),
        signal("day-07", "monitor", ["EarlyPositiveRate"], labels=True, version="v2"),
    ],
}


def event(day, actor, cause, frm="CLOSED", to="OPEN"):
    return {"day": day, "actor": actor, "cause": cause, "from": frm, "to": to}


EVENTS = [
    event(3, "gate", {"source": "gate", "batch_id": "day-03", "rules": ["JoinCoverage"]}),
    event(4, "train", {"reason": "promoted"}, "OPEN", "HALF_OPEN"),
    event(5, "monitor", {"reason": "probation passed"}, "HALF_OPEN", "CLOSED"),
    event(6, "alarm:gap", {"reason": "alarm", "rule": "PositiveRateGap"}),
    event(7, "operator", {"reason": "closed by hand"}, "OPEN", "CLOSED"),
    event(8, "alarm:early", {"reason": "alarm", "rule": "EarlyPositiveRate"}),
    event(9, "train", {"reason": "promoted"}, "OPEN", "HALF_OPEN"),
    event(10, "monitor", {"reason": "probation passed"}, "HALF_OPEN", "CLOSED"),
]


class FakeOracle:
    """The outage broke integrity; drifted batches cost v1 and v2 accuracy, not v3."""

    def truth(self, day, version):
        if day == 3:
            return Truth(True, "integrity broken (source_outage)")
        if 7 <= day <= 10:
            return Truth(version in ("v1", "v2"), "accuracy", version, 0.55, 0.70)
        return Truth(False, "clean day")

    def clean_day_accuracy(self, version, days):
        return {"v1": 0.70, "v2": 0.69, "v3": 0.71}[version] if days else None


def day_record(day):
    publication = None
    if day in PUBLISHED:
        when, version = PUBLISHED[day]
        publication = {"day": when, "model_version": version, "rows": 2000, "warnings": []}
        publication["corrected"] = day == 3  # the outage's batch, from the files re-sent on day 4
    incident = SCENARIO.incident_on(day)
    return {
        "day": day,
        "batch_id": f"day-{day:02d}",
        "incident": incident.type if incident else None,
        "champion": CHAMPION_AT_UPLOAD.get(day + 1, "v3"),
        "champion_at_upload": CHAMPION_AT_UPLOAD.get(day, "v3"),
        "breaker_state": STATE.get(day, "CLOSED"),
        "batch_status": "published_after_hold" if day == 3 else "published",
        "corrected_day": 4 if day == 3 else None,
        "publication": publication,
        "signals": SIGNALS.get(day, []),
    }


def scored(days):
    return Score(SCENARIO, days, EVENTS, FakeOracle()).totals()


@pytest.fixture(scope="module")
def score():
    return scored([day_record(d) for d in range(1, 11)])


def test_a_trip_about_a_clean_batch_is_one_false_trip(score):
    assert score["false_trips"] == 1
    [false] = [t for t in score["trips"] if t["false"]]
    assert (false["day"], false["batches"], false["rules"]) == (6, ["day-04"], ["PositiveRateGap"])
    assert [t["batches"] for t in score["trips"]] == [["day-03"], ["day-04"], ["day-07"]]


def test_a_harmful_batch_published_before_detection_is_counted(score):
    assert score["published_bad_batches"] == 1 and score["published_bad_batch_ids"] == ["day-07"]
    assert score["bad_rows_published"] == 2000
    drift = score["incidents"][1]
    assert drift["rows_published_while_harmful"] == 2000
    # day-08 and day-09 were harmful to v2, and published by the recovered v3: not bad.


def test_a_good_batch_held_two_days_is_counted_and_harmful_ones_are_not(score):
    assert score["held_good_batches"] == 1 and score["held_good_batch_ids"] == ["day-06"]


def days_of(incident):
    return incident["detected_day"], incident["breaker_opened_day"], incident["recovered_day"]


def test_each_incident_is_credited_only_to_its_own_batches(score):
    outage, drift = score["incidents"]
    assert outage["harmful"] and outage["truth"]["day-03"]["why"].startswith("integrity")
    assert days_of(outage) == (3, 3, 5)
    assert outage["detected_by"].startswith("gate: day-03 JoinCoverage (0.07 vs normal 0.97)")
    assert outage["action"] == (
        "held at the gate, published from corrected files (v2): day-03; "
        "breaker opened day 3 (gate), retrain v1 -> v2, closed day 5"
    )
    assert outage["rows_published_while_harmful"] == 0
    assert drift["harmful"] and drift["batches"] == ["day-07", "day-08", "day-09", "day-10"]
    assert days_of(drift) == (8, 8, 10)
    assert drift["detected_by"].startswith("monitor with labels: day-07 EarlyPositiveRate")
    assert "published: day-07" in drift["action"]
    assert "published after a hold (v3): day-08, day-09" in drift["action"]
    assert drift["action"].endswith("retrain v2 -> v3, closed day 10")


def test_champions_are_runs_of_the_model_each_batch_met_with_clean_day_accuracy(score):
    assert score["champion_versions"] == [
        {"version": "v1", "from_day": 1, "to_day": 3, "clean_day_accuracy": 0.70},
        {
            "version": "v2",
            "from_day": 4,
            "to_day": 9,
            "clean_day_accuracy": 0.69,
            "previous": "v1",
            "previous_clean_day_accuracy": 0.70,
        },
        {
            "version": "v3",
            "from_day": 10,
            "to_day": 10,
            "clean_day_accuracy": 0.71,
            "previous": "v2",
            "previous_clean_day_accuracy": 0.69,
        },
    ]
    assert score["label_delay_days"] == 3


def test_corrected_files_are_a_good_batch_that_must_not_wait_and_broken_ones_are_bad():
    late, broken = [day_record(d) for d in range(1, 11)], [day_record(d) for d in range(1, 11)]
    late[2]["publication"]["day"] = 6  # two days after its corrected files came
    broken[2]["publication"] = {**broken[2]["publication"], "corrected": False, "day": 3}
    assert scored(late)["held_good_batch_ids"] == ["day-03", "day-06"]
    assert scored(late)["published_bad_batches"] == 1
    published_broken = scored(broken)
    assert published_broken["published_bad_batch_ids"] == ["day-03", "day-07"]
    assert published_broken["incidents"][0]["rows_published_while_harmful"] == 2000
    # The corrected revision then came, and was never published.
    assert published_broken["held_good_batch_ids"] == ["day-03", "day-06"]


HELD_FOR_FILES = event(
    3, "gate", {"batch_id": "day-03", "action": "held for corrected inputs"}, "CLOSED", "CLOSED"
)


def test_an_outage_held_for_its_files_without_opening_recovers_when_they_are_published():
    days = [day_record(d) for d in range(1, 11)]
    score = Score(SCENARIO, days, [HELD_FOR_FILES, *EVENTS[3:]], FakeOracle()).totals()
    outage = score["incidents"][0]
    assert days_of(outage) == (3, None, 4)
    assert outage["action"] == "held at the gate, published from corrected files (v2): day-03"
    assert [t["batches"] for t in score["trips"]] == [["day-04"], ["day-07"]]


def test_a_trip_on_the_corrected_files_of_an_outage_batch_is_false_and_not_the_outage_s():
    days = [day_record(d) for d in range(1, 11)]
    days[4]["signals"] = [signal("day-03", "monitor", ["EstimatedAccuracy"], version="v2")]
    alarm = event(5, "alarm:estimate", {"reason": "alarm", "rule": "EstimatedAccuracy"})
    score = Score(SCENARIO, days, [HELD_FOR_FILES, alarm, *EVENTS[3:]], FakeOracle()).totals()
    on_corrected = score["trips"][0]
    assert on_corrected["day"] == 5 and on_corrected["batches"] == ["day-03"]
    assert on_corrected["false"]
    assert score["false_trips"] == 2
    assert days_of(score["incidents"][0]) == (3, None, 4)


def test_the_day_after_the_last_batch_counts_its_alarms_and_its_close():
    # The drift's day-10 batch, published on its day by v2, trips on its first labels the day
    # after the run's last batch; the retrain's probation closes that day too.
    days = [day_record(d) for d in range(1, 11)]
    days[9]["publication"] = {"day": 10, "model_version": "v2", "rows": 2000, "warnings": []}
    days[9]["breaker_state"] = "CLOSED"
    after = {
        "day": 11,
        "champion": "v3",
        "champion_at_upload": "v2",
        "breaker_state": "CLOSED",
        "signals": [signal("day-10", "monitor", ["EarlyPositiveRate"], version="v2")],
    }
    events = [
        *EVENTS[:-2],
        event(11, "alarm:early", {"reason": "alarm", "rule": "EarlyPositiveRate"}, "CLOSED"),
        event(11, "train", {"reason": "promoted"}, "OPEN", "HALF_OPEN"),
        event(11, "monitor", {"reason": "probation passed"}, "HALF_OPEN", "CLOSED"),
    ]
    without = Score(SCENARIO, days, events, FakeOracle()).totals()
    score = Score(SCENARIO, days, events, FakeOracle(), [after]).totals()
    late = score["trips"][-1]
    assert late["day"] == 11 and late["batches"] == ["day-10"] and not late["false"]
    assert without["trips"][-1]["false"]  # blind to that day, the same alarm looked false
    assert score["false_trips"] == without["false_trips"] - 1


def test_a_batch_held_by_its_first_labels_is_detected_by_them_and_costs_nothing():
    """The outage's batch waits for its first labels (a drift warning, no trip) and they hold
    it: detected the next day by LabelsOverdue, no breaker, nothing published, nothing bad."""
    days = [day_record(d) for d in range(1, 11)]
    waiting = {**signal("day-03", "gate", [], held=True), "warnings": ["FeatureDrift"]}
    overdue = signal("day-03", "monitor", ["LabelsOverdue"], held=True, labels=True, version="v1")
    days[2].update(publication=None, corrected_day=None, batch_status="held", signals=[waiting])
    days[3]["signals"] = [overdue]
    score = Score(SCENARIO, days, EVENTS[3:], FakeOracle()).totals()
    outage = score["incidents"][0]
    assert days_of(outage) == (4, None, None)
    assert outage["detected_by"].startswith("monitor with labels: day-03 LabelsOverdue")
    assert outage["action"] == "held by its first labels (LabelsOverdue): day-03"
    assert outage["rows_published_while_harmful"] == 0
    assert "day-03" not in score["published_bad_batch_ids"] + score["held_good_batch_ids"]
