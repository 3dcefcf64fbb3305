"""The emergency rules: what each watches, whether it may trip the breaker, and its settings.

An emergency is harm to the predictions, not change: only data-integrity rules (the input is
broken) and performance rules (the predictions are worse) trip. Drift and business rules
warn and explain; a trip's report names the drift that was present as the likely cause.

Each rule judges statistics of a batch against a normal range measured on clean data (see
``limits``) and gives a level: 0 ok, 1 warn, 2 trip (a warn-only rule stops at 1). That level
is the verdict metric CloudWatch alarms watch (``RuleVerdict``, dimension ``Rule``).

Settings come from model_config.yml ``monitoring.limits`` (all rules) and
``monitoring.rules.<Rule>`` (one rule), for example::

    monitoring:
      limits: {warn_z: 3, trip_z: 5, window_batches: 30}
      rules:
        JoinCoverage: {trip_below: 0.9}      # an explicit limit replaces the measured one
        FeatureDrift: {enabled: false}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from mlcycle.errors import ConfigError

INTEGRITY, PERFORMANCE = "integrity", "performance"
DRIFT, BUSINESS, CALIBRATION = "drift", "business", "calibration"
TRIPPING = (INTEGRITY, PERFORMANCE)
OK, WARN, TRIP = 0, 1, 2


@dataclass(frozen=True)
class Rule:
    name: str
    family: str
    side: str  # which way is harm: "low", "high" or "both"
    labels: str  # "none" (label-free: the gate judges it too), "partial" or "complete"
    min_effect: float  # a smaller departure is not harm, however significant
    meaning: str
    # Whether small departures accumulate (CUSUM): only for statistics that stay put in a
    # healthy world; the seasonal ones (the cancellation rate, confidence) would add up the
    # calendar.
    sequential: bool = False
    # The sequential rule's trip level when it differs from the global one: the early rule
    # sees one value per batch and must act within two batches.
    cusum_trip: float | None = None
    # Whether its verdicts go to CloudWatch (a verdict alarm per rule). A rule judged only on
    # batches held for it has no alarm: its verdict is what happens to the held batch.
    alarmed: bool = True

    @property
    def trips(self) -> bool:
        return self.family in TRIPPING


RULES = (
    Rule(
        "JoinCoverage", INTEGRITY, "low", "none", 0.01, "share of rows matched in each source", True
    ),
    Rule("NullRate", INTEGRITY, "high", "none", 0.01, "share of missing values per feature", True),
    Rule("ViolationRate", INTEGRITY, "high", "none", 0.005, "contract violations per row", True),
    Rule("Volume", INTEGRITY, "low", "none", 0.0, "rows: trips below the floor, warns on change"),
    Rule(
        "EstimatedAccuracy",
        PERFORMANCE,
        "low",
        "none",
        0.03,
        "accuracy expected from calibrated confidence (no labels needed)",
    ),
    Rule(
        "EarlyPositiveRate",
        PERFORMANCE,
        "high",
        "partial",
        0.1,
        "positives known so far / positives the model expects, against recent batches "
        "at the same age",
        True,
        3.0,
    ),
    Rule(
        "LabelsOverdue",
        INTEGRITY,
        "high",
        "partial",
        0.05,
        "rows past their label due date (monitoring.label_due_column) still unlabelled, "
        "judged on a drifted batch held for its first labels",
        alarmed=False,
    ),
    Rule("RealisedAccuracy", PERFORMANCE, "low", "complete", 0.02, "accuracy on labels", True),
    Rule(
        "PositiveRateGap",
        PERFORMANCE,
        "both",
        "complete",
        0.05,
        "realised minus predicted positive rate on complete labels",
    ),
    Rule(
        "EstimateError",
        CALIBRATION,
        "both",
        "complete",
        0.02,
        "estimated minus realised accuracy: how well the label-free estimate holds",
    ),
    Rule("FeatureDrift", DRIFT, "high", "none", 0.1, "features whose distribution moved"),
    Rule("PredictionDrift", DRIFT, "high", "none", 0.1, "predicted class shares moved"),
    Rule("PositiveRate", BUSINESS, "both", "none", 0.03, "predicted positive rate"),
)
BY_NAME = {rule.name: rule for rule in RULES}
RULE_NAMES = tuple(BY_NAME)


def integrity_rules(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that are integrity rules (the input is broken, not the model)."""
    return [name for name in names if name in BY_NAME and BY_NAME[name].family == INTEGRITY]


def label_rules(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that judge labels (partial or complete)."""
    return [name for name in names if name in BY_NAME and BY_NAME[name].labels != "none"]


def performance_rules(names: Iterable[str]) -> list[str]:
    """The performance rules among ``names``: harm to the predictions themselves."""
    return [name for name in names if name in BY_NAME and BY_NAME[name].family == PERFORMANCE]


@dataclass(frozen=True)
class RuleSettings:
    enabled: bool = True
    warn_z: float = 3.0
    trip_z: float = 5.0
    min_effect: float = 0.0
    cusum_warn: float | None = None  # None: monitoring.limits' cusum_warn / cusum_trip
    cusum_trip: float | None = None
    warn_below: float | None = None
    trip_below: float | None = None
    warn_above: float | None = None
    trip_above: float | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the rules read from the config, with the documented defaults."""

    rules: dict[str, RuleSettings] = field(default_factory=dict)
    window_batches: int = 20  # recent monitored batches kept in the window object
    min_window: int = 5  # healthy batches before the window refines a limit
    # The sequential rule (CUSUM of standardised values) adds up departures beyond cusum_k
    # standard deviations: a lasting shift of 2 sd trips in about 4 batches. Chosen on the
    # detection benchmark (bench/bench_detection.py): 0 trips on clean batches.
    cusum_k: float = 1.0
    cusum_warn: float = 3.0
    cusum_trip: float = 4.0
    volume_floor: float = 0.5  # rows below this share of normal: data is missing
    drift_alpha: float = 0.001  # family-wise (Holm) significance of the drift tests
    drift_min_count: int = 30  # fewer non-missing values than this: not tested
    # Rows per chunk whose model inputs (a second preprocessing pass) are counted; 0: none.
    model_inputs_sample: int = 20_000
    calibration_batches: int = 7  # newest labelled batches the estimate is calibrated on
    calibration_min_rows: int = 2_000  # ...when they hold this many labels; else the holdout
    expected_rows: int | None = None
    timing_column: str | None = None  # the feature that sets how soon a label can be known
    # The input date by which a row's label is known at the latest. When set, a batch whose
    # inputs drifted waits in held/ for its first labels (``monitoring.overdue``).
    due_column: str | None = None

    def rule(self, name: str) -> RuleSettings:
        return self.rules[name]

    def cusum_levels(self, name: str) -> tuple[float, float]:
        """(warn, trip) of the sequential rule for this rule."""
        rule = self.rules[name]
        trip = rule.cusum_trip if rule.cusum_trip is not None else self.cusum_trip
        warn = rule.cusum_warn if rule.cusum_warn is not None else min(self.cusum_warn, trip)
        return warn, trip


_GLOBAL_INTS = {
    "window_batches",
    "min_window",
    "drift_min_count",
    "model_inputs_sample",
    "calibration_batches",
    "calibration_min_rows",
}
_GLOBAL_FLOATS = {"cusum_k", "cusum_warn", "cusum_trip", "volume_floor", "drift_alpha"}
_Z = ("warn_z", "trip_z")
_ABSOLUTE = ("warn_below", "trip_below", "warn_above", "trip_above")


def _number(where: str, value: object, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if integer and int(value) != value:
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    return value


def _rule_settings(name: str, given: object, base: RuleSettings) -> RuleSettings:
    where = f"monitoring.rules.{name}"
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: expected a mapping, got {given!r}")
    allowed = {"enabled", "min_effect", "cusum_warn", "cusum_trip", *_Z, *_ABSOLUTE}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {unknown}; known: {sorted(allowed)}")
    changes: dict[str, object] = {}
    for key, value in given.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.enabled: expected true or false, got {value!r}")
            changes[key] = value
        else:
            changes[key] = float(_number(f"{where}.{key}", value))
    settings = replace(base, **changes)  # type: ignore[arg-type]
    if settings.warn_z > settings.trip_z:
        raise ConfigError(f"{where}: warn_z ({settings.warn_z}) is above trip_z")
    for warn, trip, order in (("warn_below", "trip_below", 1), ("trip_above", "warn_above", 1)):
        low, high = getattr(settings, warn), getattr(settings, trip)
        if low is not None and high is not None and low * order < high * order:
            raise ConfigError(f"{where}: {warn} ({low}) must not be below {trip} ({high})")
    return settings


def parse_settings(monitoring: dict) -> Settings:
    """Settings from the config's ``monitoring`` section; a ConfigError names a bad key."""
    limits = monitoring.get("limits") or {}
    if not isinstance(limits, dict):
        raise ConfigError("monitoring.limits: expected a mapping")
    allowed = _GLOBAL_INTS | _GLOBAL_FLOATS | set(_Z)
    unknown = sorted(set(limits) - allowed)
    if unknown:
        raise ConfigError(
            f"monitoring.limits: unknown setting(s) {unknown}; known: {sorted(allowed)}"
        )
    tiers = {k: float(_number(f"monitoring.limits.{k}", limits[k])) for k in _Z if k in limits}
    base = RuleSettings(warn_z=tiers.get("warn_z", 3.0), trip_z=tiers.get("trip_z", 5.0))
    if base.warn_z > base.trip_z:
        raise ConfigError("monitoring.limits: warn_z is above trip_z")
    globals_: dict[str, object] = {}
    for key in _GLOBAL_INTS & set(limits):
        globals_[key] = int(_number(f"monitoring.limits.{key}", limits[key], integer=True))
    for key in _GLOBAL_FLOATS & set(limits):
        globals_[key] = float(_number(f"monitoring.limits.{key}", limits[key]))
    defaults = Settings()
    cusum_warn = globals_.get("cusum_warn", defaults.cusum_warn)
    cusum_trip = globals_.get("cusum_trip", defaults.cusum_trip)
    if isinstance(cusum_warn, float) and isinstance(cusum_trip, float) and cusum_warn > cusum_trip:
        raise ConfigError("monitoring.limits: cusum_warn is above cusum_trip")
    given = monitoring.get("rules") or {}
    if not isinstance(given, dict):
        raise ConfigError("monitoring.rules: expected a mapping of rule name -> settings")
    unknown = sorted(set(given) - set(BY_NAME))
    if unknown:
        raise ConfigError(f"monitoring.rules: unknown rule(s) {unknown}; rules: {list(BY_NAME)}")
    rules = {
        rule.name: _rule_settings(
            rule.name,
            given.get(rule.name, {}),
            replace(base, min_effect=rule.min_effect, cusum_trip=rule.cusum_trip),
        )
        for rule in RULES
    }
    expected = monitoring.get("expected_batch_rows")
    timing = monitoring.get("label_timing_column")
    if timing is not None and not isinstance(timing, str):
        raise ConfigError(f"monitoring.label_timing_column: expected a column name, got {timing!r}")
    due = monitoring.get("label_due_column")
    if due is not None and not isinstance(due, str):
        raise ConfigError(f"monitoring.label_due_column: expected a column name, got {due!r}")
    return Settings(
        rules=rules,
        expected_rows=None if expected is None else int(_number("expected_batch_rows", expected)),
        timing_column=timing,
        due_column=due,
        **globals_,  # type: ignore[arg-type]
    )
