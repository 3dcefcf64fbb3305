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

from demo.report_charts import overview_png, panel_pngs
from demo.report_tables import (
    breaker_table,
    champion_table,
    fmt,
    incident_table,
    span,
    timeline_table,
    trip_table,
)

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


def _card(label: str, value: str, note: str = "", tone: str = "") -> str:
    return (
        f'<div class="card {tone}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div><div class="note">{note}</div></div>'
    )


def headline(report: dict) -> str:
    """The answers first: was every harmful incident caught, how fast, did anything bad get out,
    and what did caution cost (false trips, good batches held)."""
    incidents = report.get("incidents") or []
    harmful = [i for i in incidents if i.get("harmful", True)]
    caught = sum(1 for i in harmful if i.get("detected_day") is not None)
    detect = [d for d in (span(i, "detected_day") for i in incidents) if d is not None]
    recover = [d for d in (span(i, "recovered_day") for i in incidents) if d is not None]
    champions = [escape(str(c.get("version", "?"))) for c in report.get("champion_versions") or []]
    outcome = report.get("outcome") or {}
    margin = (report.get("settings") or {}).get("harm_margin")

    def worst(days: list[int]) -> tuple[str, str]:
        if not days:
            return "–", "no incident reached this point"
        return f"{max(days)} d", f"worst case; mean {sum(days) / len(days):.1f} d from onset"

    def zero_tone(value) -> str:
        return "good" if value == 0 else "bad" if isinstance(value, int) else ""

    def counted(label: str, key: str, note: str) -> str:
        return _card(label, fmt(report.get(key)), note, zero_tone(report.get(key)))

    cards = [
        _card(
            "Harmful incidents caught",
            f"{caught} / {len(harmful)}",
            escape(", ".join(sorted({str(i.get("type")).replace("_", " ") for i in harmful})))
            or "none injected",
            "good" if caught == len(harmful) else "bad",
        ),
        _card("Days to detect", *worst(detect)),
        _card("Days to recover", *worst(recover)),
        counted(
            "Bad batches published",
            "published_bad_batches",
            f"{fmt(report.get('bad_rows_published'))} rows published while harmful"
            + (
                f" (integrity broken, or accuracy {margin * 100:.0f} points below the clean day)"
                if margin is not None
                else ""
            ),
        ),
        counted("False trips", "false_trips", "breaker trips whose batches were not harmful"),
        counted(
            "Good batches held",
            "held_good_batches",
            "not harmful, yet never published or published more than a day late",
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
        + '<p class="legend">Harmful: integrity broken, or the model scoring a batch was more '
        "accurate on the same day's clean counterpart by the margin. Caught by: the first rule "
        "that tripped on one of the incident's own batches. Days to detect and to recover count "
        "from the onset.</p>"
        + incident_table(report)
        + "<h2>Breaker trips</h2>"
        + '<p class="legend">Each trip with the batches whose verdicts caused it; false when none '
        "of them was harmful.</p>"
        + trip_table(report)
        + "<h2>Champions</h2>"
        + '<p class="legend">Accuracy on the clean batches of the days each champion served, '
        "under the behaviour then in force, beside the champion before it on the same days.</p>"
        + champion_table(report)
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
