import json
import re

from demo import report_html
from demo.report_charts import PANELS, state_runs
from demo.report_html import main, page, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def synthetic_report(days: int = 10) -> dict:
    """Ten days, one source outage on day 4: OPEN, then HALF_OPEN, then CLOSED again."""
    states = {4: "OPEN", 5: "OPEN", 6: "HALF_OPEN"}
    out = []
    for day in range(1, days + 1):
        realised = (
            0.64 if day <= days - 3 else None
        )  # labels not yet arrived for the last three days
        metrics = {
            "JoinCoverage": 0.07 if day == 4 else 0.97,
            "MaxNullRate": 0.05,
            "MaxPSI": None if day == 2 else 0.01,
            "PredictionDrift": 0.03,
            "EstimatedAccuracy": 0.66,
            "RealisedAccuracy": realised,
            "PredictedPositiveRate": 0.28,
            "RealisedPositiveRate": None if realised is None else 0.3,
            "VolumeRatio": 1.0,
        }
        events = (
            ["CLOSED -> OPEN: alarm JoinCoverage < 0.8 (0.07) <script>alert(1)</script>"]
            if day == 4
            else []
        )
        out.append(
            {
                "day": day,
                "date": f"2026-01-{day:02d}",
                "batch_id": f"day-{day:02d}",
                "rows": 2000,
                "incident": "source_outage" if day == 4 else None,
                "champion": "v0001" if day < 6 else "v0003",
                "breaker_state": states.get(day, "CLOSED"),
                "batch_status": "quarantined" if day == 4 else "held" if day == 5 else "published",
                "metrics": metrics,
                "truth": {"harmful": day == 4},
                "signals": [
                    {"batch_id": "day-04", "by": "gate", "trips": ["JoinCoverage"]}
                    for _ in range(day == 4)
                ],
                "events": events,
            }
        )
    return {
        "settings": {
            "days": days,
            "seed": 7,
            "label_delay_days": 3,
            "rows_per_day": 2000,
            "model_name": "booking_status",
            "harm_margin": 0.02,
        },
        "label_delay_days": 3,
        "days": out,
        "incidents": [
            {
                "type": "source_outage",
                "day": 4,
                "last_day": 4,
                "magnitude": 0.07,
                "harmful": True,
                "detected_day": 4,
                "detected_by": "gate: day-04 JoinCoverage (0.07 vs normal 0.97)",
                "breaker_opened_day": 4,
                "recovered_day": 7,
                "action": "held at the gate: day-04; breaker opened day 4 (gate), champion kept",
                "rows_published_while_harmful": 0,
            }
        ],
        "trips": [
            {
                "day": 4,
                "actor": "gate",
                "rules": ["JoinCoverage"],
                "batches": ["day-04"],
                "false": False,
            },
            {
                "day": 8,
                "actor": "alarm:gap",
                "rules": ["PositiveRateGap"],
                "batches": ["day-05"],
                "false": True,
            },
        ],
        "published_bad_predictions_after_trip": 0,
        "published_bad_batches": 0,
        "bad_rows_published": 0,
        "false_trips": 1,
        "held_good_batches": 1,
        "champion_versions": [
            {"version": "v0001", "from_day": 1, "to_day": 5, "clean_day_accuracy": 0.655},
            {
                "version": "v0003",
                "from_day": 6,
                "to_day": 10,
                "clean_day_accuracy": 0.661,
                "previous": "v0001",
                "previous_clean_day_accuracy": 0.652,
            },
        ],
        "accuracy_estimate_mae": 0.0217,
        "thresholds": {
            "JoinCoverage": {"threshold": 0.8, "comparison": "LessThanThreshold"},
            "MaxPSI": {"threshold": 0.25, "comparison": "GreaterThanThreshold"},
            "RealisedAccuracy": {"threshold": 0.5, "comparison": "LessThanThreshold"},
        },
        "breaker_events": [
            {
                "day": 4,
                "time": "2026-01-04T06:00:00Z",
                "from": "CLOSED",
                "to": "OPEN",
                "actor": "alarm:booking_status-JoinCoverage",
                "model_version": "v0001",
                "cause": {"metric": "JoinCoverage", "value": 0.07},
            }
        ],
        "outcome": {"published": 8, "held_then_published": 1, "quarantined": 1, "lost": 0},
    }


def test_renders_a_self_contained_page_and_an_overview_png(tmp_path):
    paths = render(synthetic_report(), tmp_path)
    assert paths == {"html": tmp_path / "report.html", "png": tmp_path / "report.png"}

    png = paths["png"].read_bytes()
    assert png.startswith(PNG_MAGIC)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (
        800 <= width <= 2000 and 600 <= height <= 2000 and height > width * 0.6
    )  # panels stacked, not squashed

    html = paths["html"].read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(PANELS)
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"https?://", html)
    for text in [
        "1 / 1",
        "Days to detect",
        "0 d",
        "Days to recover",
        "3 d",
        "0.022",
        "v0001 → v0003",
        "Bad batches published",
        "False trips",
        "Good batches held",
        "source_outage",
        "alarm:booking_status-JoinCoverage",
        "gate: day-04 JoinCoverage (0.07 vs normal 0.97)",
        "held at the gate: day-04; breaker opened day 4 (gate), champion kept",
        "day 4 gate: JoinCoverage",  # what caught the day's batch, in the day table
        "incident: source_outage</b> (harmful)",
        "0.661",
    ]:
        assert text in html, text
    trips = html[html.index("<h2>Breaker trips</h2>") : html.index("<h2>Champions</h2>")]
    assert trips.count(">false<") == 1 and trips.count(">harmful batch<") == 1


def test_every_incident_type_appears_in_the_page_and_only_harmful_ones_count_as_caught():
    report = synthetic_report()

    def incident(kind, day, harmful, detected, recovered=None):
        return {
            "type": kind,
            "day": day,
            "harmful": harmful,
            "detected_day": detected,
            "breaker_opened_day": detected,
            "recovered_day": recovered,
        }

    report["incidents"] += [
        incident("market_outage", 2, True, 2, 3),
        incident("benign_shift", 5, False, None),
        incident("harmful_shift", 6, True, 9),
        incident("concept_drift", 7, True, None),
    ]
    html = page(report, charts=[])  # the tables and headline only: charts are covered above
    kinds = ["market_outage", "source_outage", "benign_shift", "harmful_shift", "concept_drift"]
    for text in [*kinds, "3 / 4", "2 points below the clean day"]:
        assert text in html, text
    rows = html[html.index("<h2>Incidents</h2>") : html.index("<h2>Breaker trips</h2>")]
    assert rows.count("not recovered") == 2  # harmful_shift, concept_drift: not benign_shift


def test_missing_metrics_and_sections_do_not_crash(tmp_path):
    report = synthetic_report(days=3)
    for day in report["days"]:
        day["metrics"] = {"JoinCoverage": None}
    for key in [
        "incidents",
        "breaker_events",
        "champion_versions",
        "thresholds",
        "outcome",
        "accuracy_estimate_mae",
    ]:
        report.pop(key)
    html = render(report, tmp_path)["html"].read_text(encoding="utf-8")
    assert "No incidents in this run." in html and "The breaker never changed state." in html


def test_an_empty_report_says_there_is_no_data(tmp_path):
    paths = render(
        {"settings": {"model_name": "booking_status"}, "days": [], "incidents": []}, tmp_path
    )
    assert "No data" in paths["html"].read_text(encoding="utf-8")
    assert paths["png"].read_bytes().startswith(PNG_MAGIC)


def test_breaker_bands_merge_consecutive_days_of_one_state():
    days = [
        {"day": d, "breaker_state": s}
        for d, s in enumerate(["CLOSED", "OPEN", "OPEN", "HALF_OPEN", "CLOSED", "OPEN"], start=1)
    ]
    assert state_runs(days) == [("OPEN", 2, 3), ("HALF_OPEN", 4, 4), ("OPEN", 6, 6)]


def test_cli_writes_next_to_the_json(tmp_path, capsys, monkeypatch):
    # Only the path wiring is under test here; skip the slow matplotlib drawing.
    monkeypatch.setattr(report_html, "panel_pngs", lambda report: [("chart", PNG_MAGIC)])
    monkeypatch.setattr(report_html, "overview_png", lambda report: PNG_MAGIC)
    source = tmp_path / "demo" / "report.json"
    source.parent.mkdir()
    source.write_text(json.dumps(synthetic_report(days=4)))
    assert main([str(source)]) == 0
    assert (source.parent / "report.html").exists() and (source.parent / "report.png").exists()
    assert "report.html" in capsys.readouterr().out
