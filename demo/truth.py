"""Ground truth the platform never sees: what a batch's predictions were worth.

The generator can draw every day twice, as delivered and without its incident, so an
incident's cost is measured against that very day's clean counterpart, scored by the same
model: a batch is harmful when the model is more than HARM_MARGIN less accurate on it than on
the counterpart. Integrity incidents (a source missing rows) are harmful whatever the
accuracy: their predictions are made from inputs known to be wrong.

Models are the ones the run registered, read back from the model store; batches are read under
the data contract and joined as infer does (`mlcycle.sources`, `mlcycle.attributes`), so a
model sees here what it saw in production.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.generate import Batch
from demo.scenario import Scenario
from mlcycle.attributes import attributes_from_frames, join
from mlcycle.config import ModelConfig, SourceSpec
from mlcycle.datasets import feature_frame
from mlcycle.plugin import Plugin
from mlcycle.registry import ModelRegistry
from mlcycle.sources import SourceReader

HARM_MARGIN = 0.02  # accuracy points below the clean counterpart that make a batch harmful


@dataclass(frozen=True)
class Truth:
    harmful: bool
    why: str
    model: str | None = None
    accuracy: float | None = None
    clean_accuracy: float | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Oracle:
    """Scores the scenario's batches with registered versions; every answer is cached."""

    def __init__(
        self, scenario: Scenario, cfg: ModelConfig, registry: ModelRegistry, plugin: Plugin
    ):
        self.sc, self.cfg, self.registry, self.plugin = scenario, cfg, registry, plugin
        self._inputs: dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]] = {}
        self._accuracy: dict[tuple[str, int, str], float] = {}
        self._truth: dict[tuple[int, str | None], Truth] = {}

    def _batch(self, day: int, variant: str) -> Batch:
        if variant == "delivered":
            return self.sc.day_batch(day)
        return self.sc.clean_batch(day) if variant == "clean" else self.sc.concept_batch(day)

    def _reader(self, frame: pd.DataFrame, spec: SourceSpec) -> SourceReader:
        body = io.BytesIO(frame.to_csv(index=False).encode())
        return SourceReader(body, spec, f"{spec.name}.csv", self.cfg.join_key, self.cfg.chunk_rows)

    def _features(self, day: int, variant: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The typed features of a batch and its true statuses, aligned row by row."""
        if (day, variant) not in self._inputs:
            cfg, batch = self.cfg, self._batch(day, variant)
            attributes = [
                attributes_from_frames(
                    s.name, (c.frame for c in self._reader(batch.hotels, s)), cfg.join_key
                )
                for s in cfg.attribute_sources
            ]
            bookings = self._reader(batch.bookings, cfg.input_spec).read_all()
            joined, _ = join(bookings, attributes, cfg.join_key)
            truth = batch.labels.set_index(cfg.join_key)[cfg.target]
            statuses = truth.reindex(joined[cfg.join_key].astype(str)).to_numpy()
            self._inputs[day, variant] = (feature_frame(joined, cfg), statuses)
        return self._inputs[day, variant]

    def accuracy(self, version: str, day: int, variant: str = "delivered") -> float:
        """The version's accuracy on the day's batch: as delivered, its clean counterpart, or
        the counterpart under the behaviour in force ("concept")."""
        key = (version, day, variant)
        if key not in self._accuracy:
            features, statuses = self._features(day, variant)
            predicted = self.plugin.predict(self.registry.load(version), features).labels
            self._accuracy[key] = round(float(np.mean(predicted == statuses)), 4)
        return self._accuracy[key]

    def truth(self, day: int, version: str | None) -> Truth:
        """Was the day's batch harmful when scored by `version`?"""
        if (day, version) not in self._truth:
            self._truth[day, version] = self._judge(day, version)
        return self._truth[day, version]

    def _judge(self, day: int, version: str | None) -> Truth:
        incident = self.sc.incident_on(day)
        if incident is None:
            return Truth(False, "clean day")
        if incident.integrity:
            return Truth(True, f"integrity broken ({incident.type})")
        if version is None:
            return Truth(False, "no model to judge with")
        delivered, clean = self.accuracy(version, day), self.accuracy(version, day, "clean")
        harmful = clean - delivered > HARM_MARGIN
        why = f"accuracy {delivered:.3f} vs {clean:.3f} on the clean counterpart"
        return Truth(harmful, why, version, delivered, clean)

    def clean_day_accuracy(self, version: str, days: Iterable[int]) -> float | None:
        """Mean accuracy over the days' batches without input incidents, labels under the
        behaviour in force on each day."""
        scores = [self.accuracy(version, day, "concept") for day in days]
        return round(float(np.mean(scores)), 4) if scores else None
