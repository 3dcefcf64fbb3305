"""Render the demo's report.json into a static, self-contained report.html and an overview PNG.

The page is what a new user opens after `make demo`, so it is a single file that works when
mailed or opened from disk: inline CSS, charts as base64 PNGs, no JavaScript, no external
assets. It leads with the outcome (were incidents caught, was anything bad published), then
the charts that show why, then the tables for whoever wants to check a particular day.

    python -m demo.report_html build/demo/report.json
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from html import escape
from pathlib import Path

from demo.report_charts import overview_png, panel_pngs, rule_of

# Metrics shown in the per-day table (the ones the rules and the story hinge on), with short
# headers so twelve columns still fit a laptop screen.
TIMELINE_METRICS = {
    "JoinCoverage": "join cov.",
    "MaxPSI": "max PSI",
    "PredictionDrift": "pred. drift",
    "EstimatedAccuracy": "est. acc.",
    "RealisedAccuracy": "real. acc.",
    "VolumeRatio": "volume",
}

CSS = (
    "\n"
    ":root { --ink:#1f2328; --muted:#656d76; --line:#d8dee4; --bg:#f6f8fa; --good:#1a7f37; "
    "--bad:#cf222e;\n"
    "        --open:#fbe3e4; --half:#fdf0d5; }\n"
    "* { box-sizing:border-box; }\n"
    "body { margin:0; background:var(--bg); color:var(--ink);\n"
    '       font:15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, '
    "sans-serif; }\n"
    "main { max-width:1180px; margin:0 auto; padding:32px 24px 64px; }\n"
    "h1 { font-size:28px; margin:0 0 4px; letter-spacing:-0.01em; }\n"
    "h2 { font-size:19px; margin:40px 0 12px; padding-bottom:6px; "
    "border-bottom:1px solid var(--line); }\n"
    ".sub { color:var(--muted); margin:0 0 24px; }\n"
    ".cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(210px, 1fr)); "
    "gap:12px; }\n"
    ".card { background:#fff; border:1px solid var(--line); border-radius:10px; "
    "padding:14px 16px; }\n"
    ".card .label { color:var(--muted); font-size:12px; text-transform:uppercase; "
    "letter-spacing:0.04em; }\n"
    ".card .value { font-size:28px; font-weight:650; margin:2px 0; "
    "font-variant-numeric:tabular-nums; }\n"
    ".card .note { color:var(--muted); font-size:13px; }\n"
    ".good .value { color:var(--good); } .bad .value { color:var(--bad); }\n"
    "figure { background:#fff; border:1px solid var(--line); border-radius:10px; margin:0 0 14px; "
    "padding:10px; }\n"
    "figure img { width:100%; height:auto; display:block; }\n"
    ".legend { color:var(--muted); font-size:13px; margin:0 0 12px; }\n"
    ".swatch { display:inline-block; width:12px; height:12px; border-radius:2px; "
    "vertical-align:-1px; margin:0 4px 0 10px; }\n"
    "table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); "
    "font-size:13px;\n"
    "        font-variant-numeric:tabular-nums; }\n"
    "th, td { padding:6px 9px; border-bottom:1px solid var(--line); text-align:left; "
    "vertical-align:top; }\n"
    "th { background:#eef1f4; font-weight:600; white-space:nowrap; }\n"
    "td.num { text-align:right; } td.breach { color:var(--bad); font-weight:650; } "
    "td.warn { color:#9a6700; font-weight:650; } "
    "td.ev { min-width:280px; }\n"
    ".scroll { overflow-x:auto; }\n"
    "tr.OPEN td { background:var(--open); } tr.HALF_OPEN td { background:var(--half); }\n"
    ".pill { display:inline-block; padding:0 8px; border-radius:10px; font-size:12px; "
    "font-weight:600; background:#e7ecf0; }\n"
    ".pill.OPEN { background:#cf222e; color:#fff; } "
    ".pill.HALF_OPEN { background:#bf8700; color:#fff; }\n"
    ".pill.quarantined { background:#6e7781; color:#fff; }\n"
    "ul.events { margin:0; padding-left:16px; } code { font-size:12px; color:var(--muted); }\n"
    ".empty { background:#fff; border:1px dashed var(--line); border-radius:10px; padding:32px; "
    "text-align:center;\n"
    "         color:var(--muted); font-size:17px; }\n"
)


def fmt(value, digits: int = 3) -> str:
    """Numbers for humans; a dash where a value is missing (labels not arrived, metric skipped)."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))


def verdict_tone(metric: str, day: dict) -> str:
    """The cell's class from the verdict of the rule that watches the metric on that day."""
    level = (day.get("verdicts") or {}).get(rule_of(metric), 0)
    return " breach" if level >= 2 else " warn" if level == 1 else ""


def _span(incident: dict, end_key: str):
    start, end = incident.get("day"), incident.get(end_key)
    return end - start if isinstance(start, int) and isinstance(end, int) else None


def _card(label: str, value: str, note: str = "", tone: str = "") -> str:
    return (
        f'<div class="card {tone}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div><div class="note">{note}</div></div>'
    )


def headline(report: dict) -> str:
    """The answers first: was every incident caught, how fast, and did anything bad get out."""
    incidents = report.get("incidents") or []
    caught = sum(1 for i in incidents if i.get("detected_day") is not None)
    detect = [d for d in (_span(i, "detected_day") for i in incidents) if d is not None]
    recover = [d for d in (_span(i, "recovered_day") for i in incidents) if d is not None]
    bad = report.get("published_bad_predictions_after_trip")
    false_trips = report.get("false_trips")
    champions = [escape(str(c.get("version", "?"))) for c in report.get("champion_versions") or []]
    outcome = report.get("outcome") or {}

    def worst(days: list[int]) -> tuple[str, str]:
        if not days:
            return "–", "no incident reached this point"
        return f"{max(days)} d", f"worst case; mean {sum(days) / len(days):.1f} d from onset"

    def zero_tone(value) -> str:
        return "good" if value == 0 else "bad" if isinstance(value, int) else ""

    cards = [
        _card(
            "Incidents caught",
            f"{caught} / {len(incidents)}",
            escape(", ".join(sorted({str(i.get("type")).replace("_", " ") for i in incidents})))
            or "none injected",
            "good" if caught == len(incidents) else "bad",
        ),
        _card("Days to detect", *worst(detect)),
        _card("Days to recover", *worst(recover)),
        _card(
            "Bad predictions published after trip",
            fmt(bad),
            "rows a model published after its breaker opened",
            zero_tone(bad),
        ),
        _card(
            "False trips",
            fmt(false_trips),
            "breaker openings on clean days",
            zero_tone(false_trips),
        ),
        _card("Champion versions", str(len(champions)), " → ".join(champions) or "none"),
        _card(
            "Accuracy estimate MAE",
            fmt(report.get("accuracy_estimate_mae")),
            "label-free estimate vs realised accuracy",
        ),
    ]
    if outcome:
        lost = outcome.get("lost")
        cards.append(
            _card(
                "Batches lost",
                fmt(lost),
                escape(
                    ", ".join(
                        f"{k.replace('_', ' ')} {v}" for k, v in outcome.items() if k != "lost"
                    )
                ),
                zero_tone(lost),
            )
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _table(headers: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def incident_table(report: dict) -> str:
    rows = []
    for i in report.get("incidents") or []:
        recovered = i.get("recovered_day")
        rows.append(
            "<tr>"
            + "".join(
                [
                    f"<td>{escape(str(i.get('type', '?')))}</td>",
                    *(
                        f'<td class="num">{fmt(i.get(k))}</td>'
                        for k in ("day", "detected_day", "breaker_opened_day")
                    ),
                    '<td class="num">'
                    f"{fmt(recovered) if recovered is not None else 'not recovered'}</td>",
                    *(
                        f'<td class="num">{fmt(_span(i, k))}</td>'
                        for k in ("detected_day", "recovered_day")
                    ),
                ]
            )
            + "</tr>"
        )
    if not rows:
        return '<p class="empty">No incidents in this run.</p>'
    return _table(
        [
            "type",
            "day",
            "detected",
            "breaker opened",
            "recovered",
            "days to detect",
            "days to recover",
        ],
        rows,
    )


def timeline_table(report: dict) -> str:
    """One row per day; the row is tinted by breaker state, a cell whose rule tripped is red and
    one whose rule warned amber."""
    rows = []
    for day in report.get("days") or []:
        metrics = day.get("metrics") or {}
        state, status = escape(str(day.get("breaker_state") or "")), day.get("batch_status")
        cells = [
            f'<td class="num">{fmt(day.get("day"))}</td>',
            f'<td class="num">{fmt(day.get("rows"))}</td>',
            f"<td>{fmt(day.get('champion'))}</td>",
            f'<td><span class="pill {state}">{state or "–"}</span></td>',
            f'<td><span class="pill {escape(str(status))}">{fmt(status)}</span></td>',
        ]
        for metric in TIMELINE_METRICS:
            cells.append(
                f'<td class="num{verdict_tone(metric, day)}">{fmt(metrics.get(metric))}</td>'
            )
        events = "".join(f"<li>{escape(str(e))}</li>" for e in day.get("events") or [])
        incident = day.get("incident")
        if incident:
            events = f"<li><b>incident injected: {escape(str(incident))}</b></li>" + events
        cells.append(
            f'<td class="ev"><ul class="events">{events}</ul></td>'
            if events
            else '<td class="ev"></td>'
        )
        rows.append(f'<tr class="{state}">' + "".join(cells) + "</tr>")
    return _table(
        ["day", "rows", "champion", "breaker", "batch", *TIMELINE_METRICS.values(), "events"], rows
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
            "<tr>"
            + "".join(
                [
                    f'<td class="num">{fmt(e.get("day"))}</td>',
                    f"<td>{fmt(e.get('time'))}</td>",
                    f"<td>{fmt(e.get('from'))} → {fmt(e.get('to'))}</td>",
                    f"<td>{fmt(e.get('actor'))}</td>",
                    f"<td>{fmt(e.get('model_version'))}</td>",
                    f"<td><code>{fmt(cause_text)}</code></td>",
                ]
            )
            + "</tr>"
        )
    if not rows:
        return '<p class="empty">The breaker never changed state.</p>'
    return _table(["day", "time", "transition", "actor", "model version", "cause"], rows)


def page(report: dict, charts: list[tuple[str, bytes]]) -> str:
    """The whole document as one string; every value from the report goes through escape()."""
    settings = report.get("settings") or {}
    name = settings.get("model_name", "model")
    days = report.get("days") or []
    label_delay = report.get("label_delay_days", settings.get("label_delay_days"))
    sub = (
        f"{len(days)} simulated days · seed {fmt(settings.get('seed'))} · "
        f"{fmt(settings.get('rows_per_day'))} rows/day · "
        f"labels arrive {fmt(label_delay)} days after each batch"
    )
    head = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        'content="width=device-width, initial-scale=1">'
        f"<title>{escape(str(name))}: demo report</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>{escape(str(name))}: a month in production</h1>"
        f'<p class="sub">{sub}</p>'
    )
    if not days:
        return head + (
            '<div class="empty">No data: the report has no days to show.</div></main></body></html>'
        )
    figures = "".join(
        f'<figure><img alt="{escape(title)} over the days" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"></figure>'
        for title, png in charts
    )
    legend = (
        '<p class="legend">Shaded: breaker'
        '<span class="swatch" style="background:#f6c7c8"></span>OPEN'
        '<span class="swatch" style="background:#fbe2b5"></span>HALF_OPEN. '
        "Vertical lines: injected incidents. Rings: the day's verdict of the rule that "
        "watches the metric, red a trip, amber a warning. "
        "Dotted with markers: realised values, known only "
        f"{fmt(label_delay)} days after the batch, plotted at the batch's day.</p>"
    )
    return (
        head
        + "<h2>Summary</h2>"
        + headline(report)
        + "<h2>Metrics over the days</h2>"
        + legend
        + figures
        + "<h2>Incidents</h2>"
        + '<p class="legend">Days to detect and to recover count from the onset.</p>'
        + incident_table(report)
        + "<h2>Day by day</h2>"
        + timeline_table(report)
        + "<h2>Breaker event log</h2>"
        + breaker_table(report)
        + "</main></body></html>"
    )


def render(report: dict, out_dir: Path) -> dict[str, Path]:
    """Write out_dir/report.html and out_dir/report.png; return their paths by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = panel_pngs(report) if report.get("days") else []
    paths = {"html": out_dir / "report.html", "png": out_dir / "report.png"}
    paths["html"].write_text(page(report, charts), encoding="utf-8")
    paths["png"].write_bytes(overview_png(report))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render the demo's report.json to report.html + report.png."
    )
    parser.add_argument(
        "report", type=Path, help="path to report.json; the output is written next to it"
    )
    args = parser.parse_args(argv)
    paths = render(json.loads(args.report.read_text(encoding="utf-8")), args.report.parent)
    for path in paths.values():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
