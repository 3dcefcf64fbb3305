"""Detection power and false trips of the emergency rules, on a simulated production.

    python bench/bench_detection.py              # 8 seeds x 50 clean days, 40 trials a magnitude
    python bench/bench_detection.py --quick      # smoke run: 2 seeds, a few trials

A benchmark, not a test: it prints numbers and asserts nothing. For each seed, production runs
day by day as the demo's does: each day a 2,000-row batch is published (judged by the gate),
the label increments of the two previous batches arrive (ages 0 and 1) and the complete labels
of the batch three days old; every judgement updates the window as the monitor does, so limits
start from the registered reference and are refined by production. Every judgement of every
clean batch counts towards the false-trip rate (the rules must hold from the first day).

Incidents are injected at several onset days per seed into a copy of that day's window, for
two consecutive days, and followed as production would see them:

    day 0: batch 0 at the gate               day 1: batch 1 at the gate, batch 0 at age 0
    day 2: batch 0 at age 1, batch 1 at age 0    day 3: batch 0's complete labels

"gate" = batch 0 tripped at publication; "2 days" = any trip up to day 2 (gate or partial
labels); "labels" = batch 0 tripped on its complete labels; "benign" trips count every channel.
"waits" = batch 0's inputs drifted (a FeatureDrift warning at the gate), so it waits in held/
for its first labels; "held" = it waited and its first increment (age 0, day 1) tripped
LabelsOverdue, so it is never published (`mlcycle.first_labels`). Clean batches count both
too: a wait delays a good batch by a day, a hold would lose it until an operator releases it.
Models and worlds: `bench/detection_world.py`. Last line, for scripts:

    false_trip_rate=<x> benign_trip_rate=<x> coverage093_detection=<x>
    concept5pt_detection_2days=<x> corruption_after_campaign_labels=<x>
    clean_wait_rate=<x> clean_hold_rate=<x> benign_hold_rate=<x> corruption06_held=<x>
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from detection_world import (
    Platform,
    Scored,
    calibrate_shift,
    campaign,
    concept,
    last_minute_share,
    lead_corrupted,
    market_missing,
    market_share,
    outage,
    stay_boundary,
)
from scipy.stats import beta

from data.generate import Batch, make_batch
from mlcycle.first_labels import INPUT_DRIFT
from mlcycle.monitoring import window as windows
from mlcycle.monitoring.rules import TRIP

BATCH_ROWS = 2_000
FIRST_DAY = dt.date(2026, 1, 1)  # the demo's first day; the model learned 2025
LABEL_DELAY = 3
OUTAGE_COVERAGE = (0.95, 0.93, 0.90, 0.85)
MARKETS = ("PL", "AE", "CA", "IN", "US")  # 1%, 2%, 3%, 5%, 16% of bookings
CORRUPTION_FACTORS = (0.9, 0.8, 0.7, 0.6)
CAMPAIGN_SHARES = (0.2, 0.35, 0.5, 0.85)
CAMPAIGN_LEAD = 5  # days from a campaign to a corrupted feature in the compound incident
CONCEPT_LOSSES = (0.02, 0.05, 0.10)
SNAPSHOT_DAYS = (25, 20, 15)  # the world's booked/fulfilled boundary is 30 days


def upper95(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound (about 3/n when k = 0)."""
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def day_of(day: int) -> str:
    return (FIRST_DAY + dt.timedelta(days=day)).isoformat()


def moments(day: int) -> list[tuple[int, int | None, bool]]:
    """(batch day, label age, complete) of what production judges on ``day``: the day's batch
    at the gate, the label increments of the two batches before it, the complete labels of the
    batch LABEL_DELAY days old."""
    out: list[tuple[int, int | None, bool]] = [(day, None, False)]
    out += [(day - 1 - age, age, False) for age in (0, 1) if day - 1 - age >= 0]
    if day - LABEL_DELAY >= 0:
        out.append((day - LABEL_DELAY, None, True))
    return out


class Production:
    """One seed's production, day by day, keeping every clean judgement."""

    def __init__(self, platform: Platform, seed: int) -> None:
        self.platform, self.seed = platform, seed
        self.window = windows.empty()
        self.scored: dict[int, Scored] = {}
        self.judgements: list[dict] = []
        self.windows: dict[int, dict] = {}
        self.waits: list[tuple[bool, bool]] = []  # (waited, then held) of every clean batch
        self.gate: dict[int, dict] = {}

    def batch(self, day: int) -> Batch:
        return make_batch(day_of(day), BATCH_ROWS, self.seed)

    def run_day(self, day: int) -> None:
        self.windows[day] = self.window  # what an incident starting today meets
        self.scored[day] = self.platform.score(self.batch(day))
        for batch_day, age, labelled in moments(day):
            scored = self.scored[batch_day]
            if age == 0:
                first = self.platform.first_labels(scored, self.window)["level"] == TRIP
                waited = INPUT_DRIFT in self.gate[batch_day]["warnings"]
                self.waits.append((waited, waited and first))
            result, self.window = self.platform.judge(scored, self.window, age, labelled)
            if age is None and not labelled:
                self.gate[batch_day] = result
            self.judgements.append(result)


@dataclass
class Outcome:
    gate: bool
    two_days: bool
    labels: bool
    accuracy_loss: float  # points, batch 0 against its clean self
    measure: float
    rules: set[str]
    waits: bool
    held: bool


def follow(platform: Platform, window: dict, first: Scored, second: Scored) -> tuple:
    """(gate, within two days, complete labels, rules, waits, held) of a two-day incident."""
    moments = [
        (first, None, False),
        (second, None, False),
        (first, 0, False),
        (first, 1, False),
        (second, 0, False),
        (first, None, True),
    ]
    trips, warned, held = [], False, False
    for scored, age, labelled in moments:
        if scored is first and age == 0:
            held = warned and platform.first_labels(first, window)["level"] == TRIP
        result, window = platform.judge(scored, window, age, labelled)
        trips.append(set(result["trips"]))
        warned = warned or (scored is first and INPUT_DRIFT in result["warnings"])
    rules = set().union(*trips)
    return bool(trips[0]), any(trips[:5]), bool(trips[5]), rules, warned, held


def after_campaign(
    platform: Platform, run: Production, onset: int, share: float, factor: float
) -> Outcome:
    """A two-day campaign CAMPAIGN_LEAD days before a two-day corrupted feature (the demo's
    days 15-16 and 20-21), every day in between judged as production would: the campaign's
    batches must not widen the limits the corrupted ones meet."""
    start = onset - CAMPAIGN_LEAD
    scored = dict(run.scored)
    for day in (start, start + 1):
        scored[day] = platform.score(campaign(run.batch(day), run.seed, share))
    for day in (onset, onset + 1):
        scored[day] = platform.score(lead_corrupted(run.batch(day), factor))
    window, trips, warned, held = run.windows[start], {}, False, False
    for day in range(start, onset + LABEL_DELAY + 1):
        for batch_day, age, labelled in moments(day):
            if batch_day not in scored:
                scored[batch_day] = platform.score(run.batch(batch_day))
            if batch_day == onset and age == 0:
                held = warned and platform.first_labels(scored[onset], window)["level"] == TRIP
            result, window = platform.judge(scored[batch_day], window, age, labelled)
            if batch_day in (onset, onset + 1):
                trips[(day, batch_day, labelled)] = set(result["trips"])
            if (day, batch_day, age, labelled) == (onset, onset, None, False):
                warned = INPUT_DRIFT in result["warnings"]
    gate = bool(trips[(onset, onset, False)])
    two_days = any(t for (day, _, _), t in trips.items() if day <= onset + 2)
    labels = bool(trips[(onset + LABEL_DELAY, onset, True)])
    loss = 100 * (run.scored[onset].accuracy - scored[onset].accuracy)
    rules = set().union(*trips.values())
    return Outcome(gate, two_days, labels, loss, math.nan, rules, warned, held)


@dataclass
class Row:
    family: str
    magnitude: str
    describe: Callable[[list[Outcome]], str]
    outcomes: list[Outcome] = field(default_factory=list)

    def rate(self, channel: str) -> float:
        hits = [getattr(o, channel) for o in self.outcomes]
        return sum(hits) / len(hits) if hits else math.nan

    def cells(self) -> tuple[str, ...]:
        rules = Counter(r for o in self.outcomes for r in o.rules)
        return (
            self.family,
            self.magnitude,
            self.describe(self.outcomes),
            str(len(self.outcomes)),
            f"{self.rate('gate'):.2f}",
            f"{self.rate('two_days'):.2f}",
            f"{self.rate('labels'):.2f}",
            f"{self.rate('waits'):.2f}",
            f"{self.rate('held'):.2f}",
            ", ".join(f"{r} {c}" for r, c in rules.most_common(3)) or "-",
        )


def _mean(values: list[float]) -> float:
    kept = [v for v in values if np.isfinite(v)]
    return float(np.mean(kept)) if kept else math.nan


def accuracy_text(outcomes: list[Outcome]) -> str:
    return f"acc {-_mean([o.accuracy_loss for o in outcomes]):+.1f} pt"


def measure_text(template: str) -> Callable[[list[Outcome]], str]:
    return lambda o: template.format(_mean([x.measure for x in o])) + ", " + accuracy_text(o)


def print_table(rows: Sequence[Sequence[str]], headers: Sequence[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def clean_table(judgements: list[dict]) -> tuple[float, list[tuple[str, ...]]]:
    n = len(judgements)
    rows = []
    for rule in sorted({r for j in judgements for r in j["verdicts"]}):
        trips = sum(rule in j["trips"] for j in judgements)
        warns = sum(rule in j["warnings"] for j in judgements)
        rows.append((rule, f"{trips}/{n}", f"{upper95(trips, n):.4f}", f"{warns / n:.3f}"))
    tripped = sum(bool(j["trips"]) for j in judgements)
    rows.append(("any rule", f"{tripped}/{n}", f"{upper95(tripped, n):.4f}", "-"))
    return tripped / n, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="production runs (seeds 1..N)")
    parser.add_argument("--days", type=int, default=50, help="clean days per seed")
    parser.add_argument("--onsets", type=int, default=5, help="incident onset days per seed")
    parser.add_argument("--quick", action="store_true", help="smoke run with small counts")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.days, args.onsets = 2, 16, 1
    if args.days < 14 or args.seeds < 1 or args.onsets < 1:
        parser.error("--days must be at least 14, --seeds and --onsets at least 1")
    started = time.perf_counter()
    platform = Platform()
    print(
        f"trained on 20000 rows in {time.perf_counter() - started:.1f}s, holdout accuracy "
        f"{platform.holdout_accuracy:.3f}",
        flush=True,
    )
    onset_days = np.linspace(args.days // 2, args.days - 3, args.onsets).astype(int).tolist()
    runs = []
    for seed in range(1, args.seeds + 1):
        run = Production(platform, seed)
        for day in range(args.days):
            run.run_day(day)
        runs.append(run)
    judgements = [j for run in runs for j in run.judgements]
    print(
        f"{args.seeds} x {args.days} clean days ({len(judgements)} judgements) "
        f"in {time.perf_counter() - started:.0f}s",
        flush=True,
    )

    def sweep(family: str, magnitude: str, describe, make, measure=None) -> Row:
        row = Row(family, magnitude, describe)
        for run in runs:
            for onset in onset_days:
                pair = [run.batch(onset), run.batch(onset + 1)]
                rng = np.random.default_rng([run.seed, onset, *map(ord, family + magnitude)])
                changed = [make(b, run.seed, rng) for b in pair]
                scored = [platform.score(b) for b in changed]
                gate, two, labels, rules, waits, held = follow(
                    platform, run.windows[onset], *scored
                )
                loss = 100 * (run.scored[onset].accuracy - scored[0].accuracy)
                value = measure(pair[0], changed[0]) if measure else math.nan
                row.outcomes.append(Outcome(gate, two, labels, loss, value, rules, waits, held))
        return row

    calibration = [(1000 + i, make_batch(day_of(3 * i), BATCH_ROWS, 1000 + i)) for i in range(8)]
    shifts = {loss: calibrate_shift(platform, loss, calibration) for loss in CONCEPT_LOSSES}
    coverage = lambda _b, c: float(c.bookings["hotel_id"].isin(c.hotels["hotel_id"]).mean())  # noqa: E731
    families = {
        "outage": [
            sweep(
                "outage",
                f"coverage {c:.2f}",
                measure_text("coverage {:.3f}"),
                lambda b, s, rng, c=c: outage(b, c, rng),
                coverage,
            )
            for c in OUTAGE_COVERAGE
        ],
        "market missing": [
            sweep(
                "market missing",
                m,
                measure_text("{:.1%} of bookings"),
                lambda b, s, rng, m=m: market_missing(b, m),
                lambda b, _c, m=m: market_share(b, m),
            )
            for m in MARKETS
        ],
        "corruption": [
            sweep(
                "corruption",
                f"lead x{f:.1f}",
                accuracy_text,
                lambda b, s, rng, f=f: lead_corrupted(b, f),
            )
            for f in CORRUPTION_FACTORS
        ],
        "campaign (benign)": [
            sweep(
                "campaign (benign)",
                f"share {x:.2f}",
                measure_text("last-minute {:.0%}"),
                lambda b, s, rng, x=x: campaign(b, s, x),
                lambda _b, c: last_minute_share(c),
            )
            for x in CAMPAIGN_SHARES
        ],
        "concept drift": [
            sweep(
                "concept drift",
                f"loss {100 * loss:.0f} pt",
                measure_text("shift {:.2f}"),
                lambda b, s, rng, x=shift: concept(b, s, x),
                lambda _b, _c, x=shift: x,
            )
            for loss, shift in shifts.items()
        ],
        "stay boundary": [
            sweep(
                "stay boundary",
                f"snapshot {d} d",
                accuracy_text,
                lambda b, s, rng, d=d: stay_boundary(b, s, d),
            )
            for d in SNAPSHOT_DAYS
        ],
    }
    compound = Row(
        "corruption after a campaign",
        f"lead x{CORRUPTION_FACTORS[-1]:.1f}, campaign {CAMPAIGN_SHARES[-1]:.2f}",
        accuracy_text,
    )
    compound.outcomes = [
        after_campaign(platform, run, onset, CAMPAIGN_SHARES[-1], CORRUPTION_FACTORS[-1])
        for run in runs
        for onset in onset_days
        if onset >= CAMPAIGN_LEAD
    ]
    families["corruption after a campaign"] = [compound]
    trials = len(runs) * len(onset_days)
    print(f"incidents: {trials} trials a magnitude in {time.perf_counter() - started:.0f}s total")

    false_trip_rate, rows = clean_table(judgements)
    print()
    print(f"Clean production: trips per rule ({len(judgements)} judgements of {BATCH_ROWS} rows)")
    print_table(rows, ("rule", "trips", "95% upper", "warn rate"))
    waits = [w for run in runs for w in run.waits]
    waited, held = sum(w for w, _ in waits), sum(h for _, h in waits)
    print(
        f"Clean batches waiting for their first labels: {waited}/{len(waits)}; held by them: "
        f"{held}/{len(waits)} (95% upper {upper95(held, len(waits)):.4f})"
    )
    print()
    print("Incidents (two consecutive days; rates over trials)")
    incident_rows = [r for family in families.values() for r in family]
    print_table(
        [r.cells() for r in incident_rows],
        (
            "family",
            "magnitude",
            "measured",
            "n",
            "gate",
            "2 days",
            "labels",
            "waits",
            "held",
            "rules (trials)",
        ),
    )
    print()
    print("Smallest incident caught in >= 95% of trials (gate / within 2 days / with labels):")
    for name, family in families.items():
        if name == "campaign (benign)":
            continue
        cells = []
        for channel in ("gate", "two_days", "labels"):
            first = next((r.magnitude for r in family if r.rate(channel) >= 0.95), "none")
            cells.append(first)
        print(f"  {name}: {' / '.join(cells)}")
    benign = [o for r in families["campaign (benign)"] for o in r.outcomes]
    benign_trip_rate = sum(o.gate or o.two_days or o.labels for o in benign) / len(benign)
    benign_hold_rate = sum(o.held for o in benign) / len(benign)
    corruption06 = next(r for r in families["corruption"] if r.magnitude == "lead x0.6")
    coverage093 = next(r for r in families["outage"] if r.magnitude == "coverage 0.93")
    concept5 = next(r for r in families["concept drift"] if r.magnitude == "loss 5 pt")
    print(f"run time {time.perf_counter() - started:.0f}s")
    print(
        f"false_trip_rate={false_trip_rate:.4f} benign_trip_rate={benign_trip_rate:.4f} "
        f"coverage093_detection={coverage093.rate('gate'):.4f} "
        f"concept5pt_detection_2days={concept5.rate('two_days'):.4f} "
        f"corruption_after_campaign_labels={compound.rate('labels'):.4f} "
        f"clean_wait_rate={waited / len(waits):.4f} clean_hold_rate={held / len(waits):.4f} "
        f"benign_hold_rate={benign_hold_rate:.4f} corruption06_held={corruption06.rate('held'):.4f}"
    )


if __name__ == "__main__":
    main()
