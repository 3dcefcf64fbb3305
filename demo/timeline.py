"""The demo's end of run in the terminal: a line per day, then each incident's score."""

from __future__ import annotations


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def day_table(report: dict) -> list[str]:
    head = (
        f"{'day':>3} {'rows':>5} {'champion':8} {'breaker':9} {'batch':21} "
        f"{'JoinCov':>7} {'MaxPSI':>6} {'PredDr':>6} "
        f"{'EstAcc':>6} {'RealAcc':>7}  events"
    )
    lines = [head, "-" * len(head)]
    for d in report["days"]:
        m = d["metrics"]
        lines.append(
            f"{d['day']:>3} {d['rows'] or '-':>5} {d['champion'] or '-':8} "
            f"{d['breaker_state']:9} {d['batch_status']:21} "
            f"{_fmt(m['JoinCoverage']):>7} {_fmt(m['MaxPSI']):>6} "
            f"{_fmt(m['PredictionDrift']):>6} "
            f"{_fmt(m['EstimatedAccuracy']):>6} {_fmt(m['RealisedAccuracy']):>7}  "
            f"{'; '.join(d['events'])[:120]}"
        )
    return lines


def incident_lines(report: dict) -> list[str]:
    """Per incident: was it harmful, what caught it, what was done, what got out."""
    lines = []
    for i in report["incidents"]:
        days = f"{i['day']}" + (f"-{i['last_day']}" if i["last_day"] > i["day"] else "")
        lines += [
            f"incident {i['type']} day {days}: "
            + ("harmful" if i["harmful"] else "not harmful")
            + f"; detected day {i['detected_day']}, breaker opened day "
            f"{i['breaker_opened_day']}, recovered day {i['recovered_day']}; "
            f"{i['rows_published_while_harmful']} rows published while harmful",
            f"    caught by: {i['detected_by'] or 'nothing'}",
            f"    action: {i['action']}",
        ]
    return lines


def score_lines(report: dict) -> list[str]:
    champions = ", ".join(
        f"{c['version']} (days {c['from_day']}-{c['to_day']}: {_fmt(c['clean_day_accuracy'])}"
        + (
            f" vs {c['previous']} {_fmt(c['previous_clean_day_accuracy'])})"
            if c.get("previous")
            else ")"
        )
        for c in report["champion_versions"]
    )
    return [
        f"published bad batches: {report['published_bad_batches']} "
        f"({report['bad_rows_published']} rows); false trips: {report['false_trips']}; "
        f"held good batches: {report['held_good_batches']}; outcome: {report['outcome']}",
        f"champions, clean-day accuracy: {champions}",
        f"estimated vs realised accuracy MAE: {report['accuracy_estimate_mae']} "
        f"(clean days {report['accuracy_estimate_mae_clean_days']})",
    ]


def timeline(report: dict) -> str:
    return "\n".join(["", *day_table(report), "", *incident_lines(report), *score_lines(report)])
