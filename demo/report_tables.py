"""The report page's tables: incidents and what caught them, trips, champions, days, events.

Every value from the report goes through fmt() or escape(): the page shows text that came
from files and function results.
"""

from __future__ import annotations

import json
from html import escape

from demo.report_charts import rule_of

# Metrics shown in the per-day table (the ones the rules and the story hinge on), with short
# headers so the columns still fit a laptop screen.
TIMELINE_METRICS = {
    "JoinCoverage": "join cov.",
    "MaxPSI": "max PSI",
    "PredictionDrift": "pred. drift",
    "EstimatedAccuracy": "est. acc.",
    "RealisedAccuracy": "real. acc.",
    "VolumeRatio": "volume",
}


def fmt(value, digits: int = 3) -> str:
    """Numbers for humans; a dash where a value is missing (labels not arrived, metric skipped)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def verdict_tone(metric: str, day: dict) -> str:
    """The cell's class from the verdict of the rule that watches the metric on that day."""
    level = (day.get("verdicts") or {}).get(rule_of(metric), 0)
    return " breach" if level >= 2 else " warn" if level == 1 else ""


def span(incident: dict, end_key: str):
    start, end = incident.get("day"), incident.get(end_key)
    return end - start if isinstance(start, int) and isinstance(end, int) else None


def table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _row(cells: list[str], css: str = "") -> str:
    return (f'<tr class="{css}">' if css else "<tr>") + "".join(cells) + "</tr>"


def _num(value) -> str:
    return f'<td class="num">{fmt(value)}</td>'


def recovery(incident: dict) -> str:
    """The recovery day; a harmful incident or an opened breaker without one is "not
    recovered", anything else had nothing to recover from."""
    recovered = incident.get("recovered_day")
    if recovered is not None:
        return fmt(recovered)
    troubled = incident.get("harmful", True) or incident.get("breaker_opened_day") is not None
    return "not recovered" if troubled else "–"


def incident_table(report: dict) -> str:
    rows = []
    for i in report.get("incidents") or []:
        first, last = i.get("day"), i.get("last_day", i.get("day"))
        days = fmt(first) + (f"–{fmt(last)}" if last not in (None, first) else "")
        harmful = i.get("harmful")
        rows.append(
            _row(
                [
                    f"<td>{fmt(i.get('type'))}</td>",
                    f'<td class="num">{days}</td>',
                    f"<td>{fmt(i.get('magnitude'))}</td>",
                    f'<td class="{"breach" if harmful else ""}">{fmt(harmful)}</td>',
                    _num(i.get("detected_day")),
                    f'<td class="ev">{fmt(i.get("detected_by") or "nothing")}</td>',
                    _num(i.get("breaker_opened_day")),
                    f'<td class="num">{recovery(i)}</td>',
                    _num(span(i, "detected_day")),
                    _num(span(i, "recovered_day")),
                    f'<td class="ev">{fmt(i.get("action"))}</td>',
                    _num(i.get("rows_published_while_harmful")),
                ]
            )
        )
    if not rows:
        return '<p class="empty">No incidents in this run.</p>'
    return table(
        [
            "type",
            "days",
            "magnitude",
            "harmful",
            "detected",
            "caught by",
            "breaker opened",
            "recovered",
            "days to detect",
            "days to recover",
            "action",
            "rows published while harmful",
        ],
        rows,
    )


def trip_table(report: dict) -> str:
    rows = [
        _row(
            [
                _num(t.get("day")),
                f"<td>{fmt(t.get('actor'))}</td>",
                f"<td>{fmt(', '.join(t.get('rules') or []))}</td>",
                f"<td>{fmt(', '.join(t.get('batches') or []) or 'none found')}</td>",
                f'<td class="{"breach" if t.get("false") else ""}">'
                f"{'false' if t.get('false') else 'harmful batch'}</td>",
            ]
        )
        for t in report.get("trips") or []
    ]
    if not rows:
        return '<p class="empty">The breaker never tripped.</p>'
    return table(["day", "by", "rules", "triggering batches", "verdict"], rows)


def champion_table(report: dict) -> str:
    rows = [
        _row(
            [
                f"<td>{fmt(c.get('version'))}</td>",
                _num(c.get("from_day")),
                _num(c.get("to_day")),
                _num(c.get("clean_day_accuracy")),
                f"<td>{fmt(c.get('previous'))}</td>",
                _num(c.get("previous_clean_day_accuracy")),
            ]
        )
        for c in report.get("champion_versions") or []
    ]
    return table(
        ["champion", "from day", "to day", "clean-day accuracy", "before it", "its accuracy"],
        rows,
    )


def _caught(report: dict) -> dict[str, list[str]]:
    """Batch id -> the trips on it, by whom and on which day: what caught each batch."""
    out: dict[str, list[str]] = {}
    for day in report.get("days") or []:
        for s in day.get("signals") or []:
            if s.get("trips"):
                out.setdefault(s["batch_id"], []).append(
                    f"day {day.get('day')} {s.get('by')}: {', '.join(s['trips'])}"
                )
    return out


def timeline_table(report: dict) -> str:
    """One row per day; the row is tinted by breaker state, a cell whose rule tripped is red and
    one whose rule warned amber. "caught" lists the trips on the day's batch, whenever they
    came."""
    caught, rows = _caught(report), []
    for day in report.get("days") or []:
        metrics = day.get("metrics") or {}
        state, status = escape(str(day.get("breaker_state") or "")), day.get("batch_status")
        cells = [
            _num(day.get("day")),
            _num(day.get("rows")),
            f"<td>{fmt(day.get('champion'))}</td>",
            f'<td><span class="pill {state}">{state or "–"}</span></td>',
            f'<td><span class="pill {escape(str(status))}">{fmt(status)}</span></td>',
        ]
        for metric in TIMELINE_METRICS:
            cells.append(
                f'<td class="num{verdict_tone(metric, day)}">{fmt(metrics.get(metric))}</td>'
            )
        cells.append(
            "<td>" + "<br>".join(fmt(c) for c in caught.get(day.get("batch_id"), [])) + "</td>"
        )
        events = "".join(f"<li>{escape(str(e))}</li>" for e in day.get("events") or [])
        incident = day.get("incident")
        if incident:
            harm = "harmful" if (day.get("truth") or {}).get("harmful") else "not harmful"
            events = f"<li><b>incident: {escape(str(incident))}</b> ({harm})</li>" + events
        cells.append(f'<td class="ev"><ul class="events">{events}</ul></td>')
        rows.append(_row(cells, state))
    return table(
        [
            "day",
            "rows",
            "champion",
            "breaker",
            "batch",
            *TIMELINE_METRICS.values(),
            "caught",
            "events",
        ],
        rows,
    )


def breaker_table(report: dict) -> str:
    rows = []
    for e in report.get("breaker_events") or []:
        cause = e.get("cause")
        cause_text = (
            json.dumps(cause, sort_keys=True, default=str)
            if isinstance(cause, (dict, list))
            else cause
        )
        rows.append(
            _row(
                [
                    _num(e.get("day")),
                    f"<td>{fmt(e.get('time'))}</td>",
                    f"<td>{fmt(e.get('from'))} → {fmt(e.get('to'))}</td>",
                    f"<td>{fmt(e.get('actor'))}</td>",
                    f"<td>{fmt(e.get('model_version'))}</td>",
                    f"<td><code>{fmt(cause_text)}</code></td>",
                ]
            )
        )
    if not rows:
        return '<p class="empty">The breaker never changed state.</p>'
    return table(["day", "time", "transition", "actor", "model version", "cause"], rows)
