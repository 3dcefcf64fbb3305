"""Load model_config.yml into typed objects, and fail early with a message that says what to fix.

The format is a superset of the original assignment's config (a `features` list of
sources, each with typed `columns` and their `xteristics`), so that file loads as is:
its sources carry no names (we derive them from the file name), its join key and
target are implicit (we derive them), and its `calculated_columns` has a stray quote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mlcycle.breaker.policy import BreakerPolicy, parse_breaker_policy
from mlcycle.errors import ConfigError
from mlcycle.history_window import HistoryWindow, parse_history_window
from mlcycle.monitoring.rules import Settings, parse_settings

COLUMN_TYPES = {"string", "integer", "float", "datetime", "boolean"}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    unique: bool = False
    values: tuple[str, ...] | None = None
    from_date: str | None = None
    to_date: str | None = None
    length: int | None = None
    calculated_from: tuple[str, str] | None = None

    @property
    def kind(self) -> str:
        """How monitoring treats the column: numeric, categorical or datetime."""
        return {"integer": "numeric", "float": "numeric", "datetime": "datetime"}.get(
            self.type, "categorical"
        )


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: tuple[ColumnSpec, ...]

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class PromotionPolicy:
    metric: str = "macro_f1"
    min_improvement: float = 0.0
    require_beat_baseline: bool = True
    fresh_days: float | None = None
    fresh_min_rows: int = 500


@dataclass(frozen=True)
class ModelConfig:
    name: str
    version: str
    target: str
    join_key: str
    time_column: str
    sources: tuple[SourceSpec, ...]
    training_script: str = "train.py"
    inference_script: str = "inference.py"
    params: dict = field(default_factory=dict)
    holdout_fraction: float = 0.2
    min_training_rows: int = 50
    recent_weight: int = 3  # a recovery's newest labelled batches count this many times
    history_window: HistoryWindow = HistoryWindow()
    promotion: PromotionPolicy = PromotionPolicy()
    chunk_rows: int = 250_000
    batch_deadline_minutes: float = 60.0
    max_attempts: int = 3
    positive_class: str | None = None
    segment_column: str | None = None
    probation_batches: int = 2
    retrain_recent_batches: int | None = 3
    breaker: BreakerPolicy = BreakerPolicy()
    monitoring: dict = field(default_factory=dict)
    monitor_sample_rows: int = 1_000_000  # a larger batch is monitored on a sample this size
    rules: Settings = field(default_factory=lambda: parse_settings({}))

    @property
    def retrain_payload(self) -> dict:
        """What the breaker asks the train function for.

        The newest data, when a window is configured.
        """
        return (
            {"recent_batches": self.retrain_recent_batches} if self.retrain_recent_batches else {}
        )

    @property
    def target_source(self) -> SourceSpec:
        return next(s for s in self.sources if self.target in s.column_names)

    @property
    def input_spec(self) -> SourceSpec:
        """The target's source as it arrives for inference: everything but the target."""
        src = self.target_source
        return SourceSpec(src.name, tuple(c for c in src.columns if c.name != self.target))

    @property
    def attribute_sources(self) -> list[SourceSpec]:
        return [s for s in self.sources if s is not self.target_source]

    @property
    def classes(self) -> list[str]:
        values = self.target_source.column(self.target).values
        return list(values) if values else []

    @property
    def feature_columns(self) -> dict[str, ColumnSpec]:
        """Columns the plug-in sees: every source's columns minus join key and target."""
        out: dict[str, ColumnSpec] = {}
        for source in self.sources:
            for col in source.columns:
                if col.name not in (self.join_key, self.target):
                    out.setdefault(col.name, col)
        return out


def _column(raw: dict, source_name: str) -> ColumnSpec:
    if not isinstance(raw, dict) or "name" not in raw:
        raise ConfigError(f"source '{source_name}': every column needs a 'name' (got {raw!r})")
    name = str(raw["name"])
    col_type = str(raw.get("type", "string"))
    if col_type not in COLUMN_TYPES:
        raise ConfigError(
            f"source '{source_name}', column '{name}': "
            f"type '{col_type}' is not one of {sorted(COLUMN_TYPES)}"
        )
    traits = raw.get("xteristics") or raw.get("characteristics") or {}
    calculated = None
    if traits.get("calculated"):
        parts = [str(p).strip().strip("\"'") for p in traits.get("calculated_columns", [])]
        if len(parts) != 2:
            raise ConfigError(
                f"source '{source_name}', column '{name}': "
                f"calculated_columns needs [start, end], got {parts}"
            )
        calculated = (parts[0], parts[1])
    values = traits.get("values")
    return ColumnSpec(
        name=name,
        type=col_type,
        unique=bool(traits.get("unique", False)),
        values=tuple(str(v) for v in values) if values else None,
        from_date=str(traits["from_date"]) if "from_date" in traits else None,
        to_date=str(traits["to_date"]) if "to_date" in traits else None,
        length=int(traits["length"]) if "length" in traits else None,
        calculated_from=calculated,
    )


def _source_name(raw: dict, index: int) -> str:
    if raw.get("name"):
        return str(raw["name"])
    if raw.get("source"):
        stem = Path(str(raw["source"])).stem
        for prefix in ("train_", "test_"):
            stem = stem.removeprefix(prefix)
        return stem
    return f"source{index + 1}"


def _derive_target(sources: list[SourceSpec]) -> str:
    candidates = [
        c.name for s in sources for c in s.columns if c.values and c.calculated_from is None
    ]
    if len(candidates) != 1:
        raise ConfigError(
            f"cannot tell the target column: set 'target' (columns with 'values': {candidates})"
        )
    return candidates[0]


def _derive_join_key(sources: list[SourceSpec]) -> str:
    shared = set(sources[0].column_names).intersection(*(s.column_names for s in sources[1:]))
    if len(shared) != 1:
        raise ConfigError(
            f"cannot tell the join key: set 'join_key' (columns in every source: {sorted(shared)})"
        )
    return shared.pop()


def _check(cfg: ModelConfig) -> None:
    names = [s.name for s in cfg.sources]
    if len(set(names)) != len(names):
        raise ConfigError(f"source names must be unique, got {names}")
    holders = [s.name for s in cfg.sources if cfg.target in s.column_names]
    if len(holders) != 1:
        raise ConfigError(
            f"target '{cfg.target}' must be in exactly one source, found in {holders}"
        )
    for source in cfg.sources:
        if cfg.join_key not in source.column_names:
            raise ConfigError(f"source '{source.name}' lacks the join key '{cfg.join_key}'")
        for col in source.columns:
            for ref in col.calculated_from or ():
                if ref not in source.column_names:
                    raise ConfigError(
                        f"source '{source.name}', column '{col.name}': "
                        f"calculated from unknown column '{ref}'"
                    )
    if not cfg.classes:
        raise ConfigError(f"target '{cfg.target}' needs its class list under xteristics.values")
    if cfg.positive_class is not None and cfg.positive_class not in cfg.classes:
        raise ConfigError(
            f"positive_class '{cfg.positive_class}' is not one of the classes {cfg.classes}"
        )
    if cfg.segment_column is not None and cfg.segment_column not in cfg.feature_columns:
        raise ConfigError(
            f"monitoring.segment_column '{cfg.segment_column}' is not a feature column "
            f"{sorted(cfg.feature_columns)}"
        )
    timing = cfg.rules.timing_column
    if timing is not None and (
        timing not in cfg.feature_columns or cfg.feature_columns[timing].kind != "numeric"
    ):
        raise ConfigError(
            f"monitoring.label_timing_column '{timing}' is not a numeric feature column"
        )
    due = cfg.rules.due_column
    if due is not None:
        inputs = {c.name: c for c in cfg.input_spec.columns}
        for key, name in (("label_due_column", due), ("time_column", cfg.time_column)):
            if name not in inputs or inputs[name].type != "datetime":
                raise ConfigError(
                    f"monitoring.label_due_column needs {key} '{name}' to be a datetime column "
                    f"of the source '{cfg.input_spec.name}' (the overdue labels are counted on it)"
                )
    if cfg.max_attempts < 1:
        raise ConfigError(f"inference.max_attempts must be at least 1, got {cfg.max_attempts}")
    if cfg.monitor_sample_rows < 1000:
        raise ConfigError(
            "monitoring.sample_rows must be at least 1000 (the rates it measures need rows), "
            f"got {cfg.monitor_sample_rows}"
        )
    if not 0 < cfg.holdout_fraction < 1:
        raise ConfigError(
            f"training.holdout_fraction must be between 0 and 1, got {cfg.holdout_fraction}"
        )
    if cfg.recent_weight < 1:
        raise ConfigError(f"training.recent_weight must be at least 1, got {cfg.recent_weight}")


def parse_config(raw: dict) -> ModelConfig:
    if not isinstance(raw, dict) or not raw.get("features"):
        raise ConfigError("model_config.yml needs a 'features' list of sources")
    sources = []
    for i, src in enumerate(raw["features"]):
        name = _source_name(src, i)
        sources.append(SourceSpec(name, tuple(_column(c, name) for c in src.get("columns") or [])))
    target = str(raw.get("target") or _derive_target(sources))
    model = raw.get("model") or {}
    training = raw.get("training") or {}
    inference = raw.get("inference") or {}
    promotion = raw.get("promotion") or {}
    breaker = raw.get("breaker") or {}
    monitoring = dict(raw.get("monitoring") or {})
    cfg = ModelConfig(
        name=str(raw.get("name") or model.get("name") or "model"),
        version=str(raw.get("version", "0.0.0")),
        target=target,
        join_key=str(raw.get("join_key") or _derive_join_key(sources)),
        time_column=str(raw.get("time_column", "date")),
        sources=tuple(sources),
        training_script=str(model.get("training_script", "train.py")),
        inference_script=str(model.get("inference_script", "inference.py")),
        params=dict(model.get("params") or {}),
        holdout_fraction=float(training.get("holdout_fraction", 0.2)),
        min_training_rows=int(training.get("min_rows", 50)),
        recent_weight=int(training.get("recent_weight", 3)),
        history_window=parse_history_window(training),
        promotion=PromotionPolicy(
            metric=str(promotion.get("metric", "macro_f1")),
            min_improvement=float(promotion.get("min_improvement", 0.0)),
            require_beat_baseline=bool(promotion.get("require_beat_baseline", True)),
            fresh_days=float(promotion["fresh_days"]) if promotion.get("fresh_days") else None,
            fresh_min_rows=int(promotion.get("fresh_min_rows", 500)),
        ),
        chunk_rows=int(inference.get("chunk_rows", 250_000)),
        batch_deadline_minutes=float(inference.get("batch_deadline_minutes", 60)),
        max_attempts=int(inference.get("max_attempts", 3)),
        positive_class=str(raw["positive_class"]) if raw.get("positive_class") else None,
        segment_column=str(monitoring["segment_column"])
        if monitoring.get("segment_column")
        else None,
        probation_batches=int(breaker.get("probation_batches", 2)),
        retrain_recent_batches=int(breaker.get("retrain_recent_batches", 3)) or None,
        breaker=parse_breaker_policy(breaker),
        monitoring=monitoring,
        monitor_sample_rows=int(monitoring.get("sample_rows", 1_000_000)),
        rules=parse_settings(monitoring),
    )
    _check(cfg)
    return cfg


def load_config(path: str | Path) -> ModelConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
