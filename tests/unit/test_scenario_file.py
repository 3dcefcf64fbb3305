"""The demo's scenario files: the default one, overrides, the world they draw, and errors that
name the file, the incident and the field."""

import pandas as pd
import pytest

from data.generate import make_batch
from demo import runner, scenario_file
from demo.scenario_file import ScenarioError, load, parse

FIVE = {"source_outage", "market_outage", "benign_shift", "harmful_shift", "concept_drift"}


def test_the_default_scenario_has_every_type_spaced_beyond_the_label_delay():
    sc = load()
    assert (sc.days, sc.seed, sc.label_delay_days, sc.rows_per_day) == (30, 7, 3, 2000)
    assert {i.type for i in sc.incidents} == FIVE
    assert any(i.last_day > i.day for i in sc.incidents if i.integrity)  # a multi-day outage
    for before, after in zip(sc.incidents, sc.incidents[1:], strict=False):
        assert after.day - before.last_day > sc.label_delay_days, (before, after)
    drift = sc.incidents[-1]
    assert drift.type == "concept_drift" and drift.last_day == sc.days and drift.lasting
    for outage in (i for i in sc.incidents if i.integrity):  # the source re-sends its files
        assert outage.corrected_after is not None
        corrected_on = outage.last_day + outage.corrected_after
        assert sc.corrections_due(corrected_on) == list(range(outage.day, outage.last_day + 1))


def test_days_and_seed_override_the_file():
    sc = load()
    short = sc.overridden(days=12, seed=3)
    assert (short.days, short.seed) == (12, 3)
    assert all(i.last_day <= 12 for i in short.incidents)
    assert [i.type for i in short.incidents] == [i.type for i in sc.incidents if i.day <= 12]
    longer = sc.overridden(days=40)
    assert longer.incidents[-1].last_day == 40 and longer.seed == sc.seed
    assert sc.overridden() is sc


def test_the_scenario_draws_each_day_with_its_incident_and_magnitude():
    sc = parse(
        {
            "days": 6,
            "seed": 4,
            "rows_per_day": 500,
            "incidents": [
                {"day": 2, "duration": 2, "type": "market_outage", "magnitude": "US"},
                {"day": 5, "type": "concept_drift", "magnitude": 1.5},
            ],
        },
        "inline",
    )
    assert [(i.day, i.last_day) for i in sc.incidents] == [(2, 3), (5, 6)]
    outage = sc.day_batch(3)
    assert "US" not in set(outage.hotels["country_code"])
    expected = make_batch(sc.date(3), 500, 4, "market_outage", "US")
    pd.testing.assert_frame_equal(outage.hotels, expected.hotels)
    pd.testing.assert_frame_equal(sc.clean_batch(3).hotels, make_batch(sc.date(3), 500, 4).hotels)
    pd.testing.assert_frame_equal(sc.concept_batch(3).hotels, sc.clean_batch(3).hotels)
    drifted = make_batch(sc.date(6), 500, 4, "concept_drift", 1.5)
    pd.testing.assert_frame_equal(sc.concept_batch(6).labels, drifted.labels)
    assert sc.incidents[0].label() == "market_outage (US) day 2-3"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"incidents": [{"day": 3, "type": "meteor"}]}, "incident 0, field 'type': 'meteor'"),
        (
            {"incidents": [{"day": 3, "type": "market_outage"}, {"day": 9, "type": "x"}]},
            "incident 1, field 'type'",
        ),
        (
            {"incidents": [{"day": 3, "type": "market_outage", "magnitude": "ZZ"}]},
            "incident 0, field 'magnitude': market_outage magnitude is the missing country",
        ),
        (
            {"incidents": [{"day": 3, "type": "source_outage", "magnitude": 2}]},
            "incident 0, field 'magnitude': source_outage magnitude is the share",
        ),
        ({"days": 10, "incidents": [{"day": 11, "type": "source_outage"}]}, "field 'day': 11"),
        (
            {"days": 10, "incidents": [{"day": 9, "duration": 3, "type": "source_outage"}]},
            "incident 0, field 'duration': the incident runs to day 11",
        ),
        (
            {"incidents": [{"day": 3, "duration": 0, "type": "source_outage"}]},
            "incident 0, field 'duration': expected an integer >= 1",
        ),
        ({"incidents": [{"day": "3", "type": "source_outage"}]}, "incident 0, field 'day'"),
        (
            {"incidents": [{"day": 3, "type": "source_outage", "size": 1}]},
            "incident 0: unknown field 'size'",
        ),
        (
            {
                "incidents": [
                    {"day": 3, "duration": 3, "type": "source_outage"},
                    {"day": 5, "type": "benign_shift"},
                ]
            },
            "incident 1, field 'day': days 5-5 overlap incident 0 (3-5)",
        ),
        (
            {"incidents": [{"day": 3, "type": "concept_drift", "corrected_after": 1}]},
            "incident 0, field 'corrected_after': only integrity incidents",
        ),
        (
            {"incidents": [{"day": 3, "type": "source_outage", "corrected_after": 0}]},
            "incident 0, field 'corrected_after': expected an integer >= 1",
        ),
        ({"incidents": ["source_outage"]}, "incident 0: expected a mapping"),
        ({"incidents": {"day": 3}}, "field 'incidents': expected a list"),
        ({"days": 0}, "field 'days': expected an integer >= 1, got 0"),
        ({"seed": True}, "field 'seed'"),
        ({"label_delay": 3}, "unknown field 'label_delay'"),
        (["days"], "expected a mapping"),
    ],
)
def test_a_wrong_scenario_names_the_file_the_incident_and_the_field(doc, message):
    with pytest.raises(ScenarioError) as caught:
        parse(doc, "month.yml")
    assert str(caught.value).startswith("month.yml")
    assert message in str(caught.value)


def test_an_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "broken.yml"
    bad.write_text("days: [30\n")
    with pytest.raises(ScenarioError, match="broken.yml: cannot read the scenario"):
        load(bad)
    with pytest.raises(ScenarioError, match="missing.yml: cannot read"):
        load(tmp_path / "missing.yml")


def test_the_command_line_refuses_a_wrong_file_before_starting_anything(tmp_path, capsys):
    bad = tmp_path / "month.yml"
    bad.write_text("days: 30\nincidents:\n  - {day: 40, type: source_outage}\n")
    with pytest.raises(SystemExit) as stopped:
        runner.main(["--scenario", str(bad)])
    assert stopped.value.code == 2
    assert f"{bad}: incident 0, field 'day': 40 is after the last day (30)" in (
        capsys.readouterr().err
    )
    assert scenario_file.DEFAULT.is_file()
