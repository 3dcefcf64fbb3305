"""Time to monitor one scored batch of N rows, the platform's way.

Generates a synthetic reference (the shape of the bookings data: day_distance and
length_of_stay integers, a country_code string with ~30 values and some missing, three
datetime columns, three-class probabilities) and a batch of ``--rows`` rows from the same
process with half of the labels known, and builds the reference profile and the limits
training registers. Then times what infer does to the batch (counting its statistics) and,
apart, what the monitor does (label statistics, the judgement with the drift tests, the
report with those tests and the headline metrics). Target: < 5 s for 1,000,000 rows on a
2-core machine.

    python bench/bench_monitoring.py --rows 1000000

The last line is ``monitor_seconds=<float> rows=<int>`` for scripts to parse.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mlcycle.cloudwatch import metric_data
from mlcycle.monitoring import window as windows
from mlcycle.monitoring.batchstats import BatchStats, Layout
from mlcycle.monitoring.columns import predicted_labels
from mlcycle.monitoring.judge import Version, judge
from mlcycle.monitoring.labelstats import label_stats
from mlcycle.monitoring.profile import build_reference_profile
from mlcycle.monitoring.registration import holdout_limits
from mlcycle.monitoring.report import build_report, headline_metrics
from mlcycle.monitoring.rules import parse_settings

CLASSES = ["booked", "cancelled", "fulfilled"]
POSITIVE = "cancelled"
COUNTRIES = np.array([chr(65 + i // 6) + chr(65 + i % 6 * 4) for i in range(30)], dtype=object)
FEATURE_KINDS = {
    "day_distance": "numeric",
    "length_of_stay": "numeric",
    "country_code": "categorical",
    "date": "datetime",
    "check_in": "datetime",
    "check_out": "datetime",
}


def synthetic_batch(
    rows: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Features, probabilities and true labels drawn from one fixed process."""
    date = np.datetime64("2018-01-01") + rng.integers(0, 1600, rows).astype("timedelta64[D]")
    day_distance = rng.exponential(300, rows).astype("int64")
    length_of_stay = rng.integers(1, 15, rows)
    check_in = date + day_distance.astype("timedelta64[D]")
    country = COUNTRIES[np.minimum(rng.zipf(1.5, rows) - 1, len(COUNTRIES) - 1)]
    country[rng.random(rows) < 0.05] = np.nan
    features = pd.DataFrame(
        {
            "day_distance": day_distance,
            "length_of_stay": length_of_stay,
            "country_code": country,
            "date": date.astype("datetime64[ns]"),
            "check_in": check_in.astype("datetime64[ns]"),
            "check_out": (check_in + length_of_stay.astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
        }
    )
    logits = rng.normal(size=(rows, len(CLASSES))) + np.outer(day_distance / 300, [0.0, 1.0, -0.5])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # Labels drawn from the probabilities: a calibrated model, as CBPE assumes.
    labels = np.array(CLASSES, dtype=object)[
        (rng.random(rows)[:, None] > proba.cumsum(axis=1)).sum(axis=1)
    ]
    return features, pd.DataFrame(proba, columns=CLASSES), pd.Series(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="batch rows to monitor")
    parser.add_argument("--reference-rows", type=int, default=20_000, help="reference rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    reference, reference_proba, reference_labels = synthetic_batch(args.reference_rows, rng)
    started = time.perf_counter()
    profile = build_reference_profile(reference, FEATURE_KINDS, reference_proba, reference_labels)
    limits = holdout_limits(
        profile,
        reference,
        None,
        predicted_labels(reference_proba).to_numpy(),
        reference_proba,
        reference_labels,
        POSITIVE,
        {},
    )
    print(
        f"profile_seconds={time.perf_counter() - started:.3f} reference_rows={args.reference_rows}"
    )
    layout = Layout.of(profile, limits, [], POSITIVE)
    settings, window = parse_settings({}), windows.empty()

    features, proba, labels = synthetic_batch(args.rows, rng)
    labels[rng.random(args.rows) < 0.5] = np.nan  # half the labels have arrived
    predicted = predicted_labels(proba).to_numpy()
    started = time.perf_counter()
    stats = BatchStats.empty(layout)
    stats.add(layout, features, predicted, proba, {})
    print(f"count_seconds={time.perf_counter() - started:.3f}")

    started = time.perf_counter()
    known = label_stats(
        predicted,
        proba,
        labels,
        POSITIVE,
        list(layout.confidence_edges),
        complete=False,
    )
    result = judge(Version("1", layout, limits, profile), stats, known, window, settings, "bench")
    report = build_report(
        "bench",
        "BenchModel",
        "1",
        features,
        FEATURE_KINDS,
        proba,
        predicted,
        labels,
        profile,
        join_coverage=0.95,
        schema_violations=0,
        positive_class=POSITIVE,
        expected_rows=args.rows,
        drift=result["drift"],
    )
    metrics = headline_metrics(report)
    metric_data(metrics, "BenchModel", "1", pd.Timestamp.now(tz="UTC").to_pydatetime())
    seconds = time.perf_counter() - started

    for name, value in metrics.items():
        print(f"  {name}={value:.4f}")
    print(f"monitor_seconds={seconds:.3f} rows={args.rows}")


if __name__ == "__main__":
    main()
