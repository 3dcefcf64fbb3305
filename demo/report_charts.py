"""Matplotlib charts for the demo report: one figure per metric group, plus the stacked overview.

Kept apart from the HTML so each file stays readable; both run on the user's machine, never
in a Lambda, so matplotlib is allowed here. Every panel carries the same context (breaker
bands, incident markers, rule verdicts) because a metric line alone does not tell the story:
the reader must see *why* the breaker opened and *when* the platform recovered.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")  # headless: the report is built in a terminal or CI, never on screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

BAND_COLORS = {"OPEN": "#e45756", "HALF_OPEN": "#f2a93b"}
BAND_ALPHA = {"OPEN": 0.16, "HALF_OPEN": 0.22}
VERDICT_RINGS = ((1, "#bf8700", "warned"), (2, "#cf222e", "tripped"))
# The rule that judges a metric, where the names differ (mlcycle.monitoring.rules).
RULE_OF_METRIC = {
    "MaxNullRate": "NullRate",
    "MaxPSI": "FeatureDrift",
    "PredictedPositiveRate": "PositiveRate",
    "RealisedPositiveRate": "PositiveRateGap",
    "VolumeRatio": "Volume",
}

# (title, y-axis label, [(metric, legend label, colour, delayed?)], [twin-axis series] | None).
# "delayed" series are known only after the labels arrive: drawn dotted with markers, so the
# gap to the label-free line next to them is visible.
PANELS = [
    (
        "Data quality",
        "share",
        [
            ("JoinCoverage", "join coverage", "#4c78a8", False),
            ("MaxNullRate", "max null rate", "#9d755d", False),
        ],
        None,
    ),
    (
        "Drift",
        "score",
        [
            ("MaxPSI", "max PSI", "#b279a2", False),
            ("PredictionDrift", "prediction drift", "#eeca3b", False),
        ],
        None,
    ),
    (
        "Performance",
        "accuracy",
        [
            ("EstimatedAccuracy", "estimated (label-free)", "#4c78a8", False),
            ("RealisedAccuracy", "realised (when labels arrive)", "#f58518", True),
        ],
        None,
    ),
    (
        "Business",
        "cancellation rate",
        [
            ("PredictedPositiveRate", "predicted cancellation rate", "#54a24b", False),
            ("RealisedPositiveRate", "realised cancellation rate", "#e45756", True),
        ],
        [("VolumeRatio", "volume vs expected", "#4c78a8", False)],
    ),
]

STYLE = {
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "axes.labelcolor": "#444444",
    "figure.facecolor": "white",
}


def series(days: list[dict], metric: str) -> np.ndarray:
    """A metric over the days as floats, NaN where missing, so lines break instead of lying."""
    values = []
    for day in days:
        value = (day.get("metrics") or {}).get(metric)
        values.append(
            float(value) if isinstance(value, (int, float)) and math.isfinite(value) else np.nan
        )
    return np.array(values, dtype=float)


def state_runs(days: list[dict]) -> list[tuple[str, int, int]]:
    """Consecutive OPEN / HALF_OPEN days merged into (state, first day, last day) bands.

    A day is shaded by the most severe state it saw (`worst_state`), so an OPEN spell
    that began and ended within a day still shows.
    """
    runs: list[tuple[str, int, int]] = []
    for day in days:
        state, number = day.get("worst_state", day.get("breaker_state")), day.get("day")
        if state not in BAND_COLORS or number is None:
            continue
        if runs and runs[-1][0] == state and runs[-1][2] == number - 1:
            runs[-1] = (state, runs[-1][1], number)
        else:
            runs.append((state, number, number))
    return runs


def rule_of(metric: str) -> str:
    return RULE_OF_METRIC.get(metric, metric)


def _verdict_rings(ax, report: dict, metric: str, x: np.ndarray, y: np.ndarray) -> list:
    """Rings on the days the metric's rule warned or tripped. The rules judge each batch
    against limits of their own (reference, window, CUSUM): there is no one threshold line."""
    rule = rule_of(metric)
    levels = np.array([(d.get("verdicts") or {}).get(rule, 0) for d in report["days"]])
    handles = []
    for level, color, verb in VERDICT_RINGS:
        hit = (levels == level) & ~np.isnan(y)
        if hit.any():
            handles.append(
                ax.scatter(
                    x[hit],
                    y[hit],
                    s=70,
                    facecolors="none",
                    edgecolors=color,
                    linewidths=1.6,
                    zorder=4,
                    label=f"{rule} {verb}",
                )
            )
    return handles


def _plot_series(ax, report: dict, x: np.ndarray, items: list) -> list:
    """Draw each series and its rule's verdicts; return legend handles for what was drawn."""
    handles = []
    for metric, label, color, delayed in items:
        y = series(report["days"], metric)
        if np.isnan(y).all():
            continue
        if delayed:
            (handle,) = ax.plot(
                x,
                y,
                linestyle=":",
                marker="o",
                markersize=3.5,
                linewidth=1.4,
                color=color,
                label=label,
            )
        else:
            (handle,) = ax.plot(x, y, linewidth=1.8, color=color, label=label)
        handles += [handle, *_verdict_rings(ax, report, metric, x, y)]
    return handles


def _context(ax, report: dict, top: bool) -> list:
    """Breaker bands and incident markers behind the data; on the top panel also their labels
    and the champion changes. Returns legend handles for the bands that actually occur."""
    seen = []
    for state, first, last in state_runs(report["days"]):
        ax.axvspan(
            first - 0.5,
            last + 0.5,
            color=BAND_COLORS[state],
            alpha=BAND_ALPHA[state],
            linewidth=0,
            zorder=0,
        )
        seen.append(state)
    for incident in report.get("incidents") or []:
        day = incident.get("day")
        if day is None:
            continue
        ax.axvline(day, color="#333333", linewidth=1, alpha=0.55, zorder=1)
        if top:
            ax.text(
                day + 0.12,
                0.97,
                str(incident.get("type", "incident")).replace("_", " "),
                transform=ax.get_xaxis_transform(),
                ha="left",
                va="top",
                fontsize=7.5,
                color="#222222",
                bbox={
                    "facecolor": "white",
                    "edgecolor": "#cccccc",
                    "boxstyle": "round,pad=0.25",
                    "alpha": 0.9,
                },
            )
    if top:
        _champion_ticks(ax, report)
    return (
        [
            Patch(color=BAND_COLORS[s], alpha=BAND_ALPHA[s] * 2.5, label=f"breaker {s}")
            for s in BAND_COLORS
            if s in seen
        ]
        if top
        else []
    )


def _champion_ticks(ax, report: dict) -> None:
    """Champion versions as labelled ticks on the top edge: a retrain shows where it took over."""
    first_day = report["days"][0].get("day", 1)
    changes = [
        (max(c.get("from_day") or 0, first_day - 0.5), str(c.get("version", "?")))
        for c in report.get("champion_versions") or []
    ]
    if not changes:
        return
    top = ax.secondary_xaxis("top")
    top.set_xticks([day for day, _ in changes], labels=[f"▼ {v}" for _, v in changes])
    top.tick_params(length=0, labelsize=7.5, labelcolor="#4c78a8", pad=2)
    top.spines["top"].set_visible(False)


def draw_panel(ax, report: dict, panel: tuple, top: bool) -> None:
    """One metric group: context first (behind), then the series, verdicts and a legend."""
    title, ylabel, items, twin_items = panel
    x = np.array(
        [i + 1 if d.get("day") is None else d["day"] for i, d in enumerate(report["days"])],
        dtype=float,
    )
    bands = _context(ax, report, top)
    handles = _plot_series(ax, report, x, items)
    ax.set_ylabel(ylabel)
    if twin_items:
        twin = ax.twinx()
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        handles += _plot_series(twin, report, x, twin_items)
        twin.set_ylabel(twin_items[0][1], color=twin_items[0][2])
    if not handles:
        ax.text(
            0.5,
            0.5,
            "no data for these metrics",
            transform=ax.transAxes,
            ha="center",
            color="#999999",
        )
    if top and report.get("incidents"):
        for axis in (
            [ax, twin] if twin_items else [ax]
        ):  # clear space at the top for the incident labels
            low, high = axis.get_ylim()
            axis.set_ylim(low, high + 0.2 * (high - low))
    ax.set_title(title, pad=16 if top else 6)
    ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(
        handles=handles + bands,
        loc="upper left",
        bbox_to_anchor=(1.09 if twin_items else 1.01, 1.0),
    )


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def panel_pngs(report: dict) -> list[tuple[str, bytes]]:
    """One PNG per metric group for the HTML page: each is read on its own, so each is a 'top'."""
    out = []
    with plt.rc_context(STYLE):
        for panel in PANELS:
            fig, ax = plt.subplots(figsize=(11, 3.3))
            draw_panel(ax, report, panel, top=True)
            ax.set_xlabel("day")
            out.append((panel[0], _png(fig)))
    return out


def overview_png(report: dict) -> bytes:
    """All groups stacked on a shared day axis: the README picture, one glance at the whole run."""
    with plt.rc_context(STYLE):
        if not report.get("days"):
            fig, ax = plt.subplots(figsize=(8, 2))
            ax.axis("off")
            ax.text(
                0.5, 0.5, "No data: the report has no days", ha="center", va="center", fontsize=12
            )
            return _png(fig)
        fig, axes = plt.subplots(len(PANELS), 1, figsize=(11, 2.6 * len(PANELS)), sharex=True)
        for index, (ax, panel) in enumerate(zip(axes, PANELS, strict=True)):
            draw_panel(ax, report, panel, top=index == 0)
        axes[-1].set_xlabel("day")
        name = (report.get("settings") or {}).get("model_name", "model")
        fig.suptitle(
            f"{name}: {len(report['days'])} days of production",
            x=0.01,
            ha="left",
            fontsize=13,
            fontweight="bold",
        )
        fig.tight_layout()
        return _png(fig)
