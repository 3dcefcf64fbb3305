"""Ground truth the platform never sees: what a batch's predictions were worth.

The generator can draw every day twice, as delivered and without its incident, so an
incident's cost is measured against that very day's clean counterpart, scored by the same
model: a batch is harmful when the model is more than HARM_MARGIN less accurate on it than on
the counterpart. Integrity incidents (a source missing rows) are harmful whatever the
accuracy: their predictions are made from inputs known to be wrong. A changed behaviour
(concept drift) has no clean counterpart worth the name: the old world's accuracy may never
be possible again. There the yardstick is a model of the world in force, fitted on
WORLD_DAYS batches drawn under it on days the run never scores: a batch is harmful when the
model that scored it is more than HARM_MARGIN less accurate than that one, so a recovered
model that learnt the new behaviour no longer counts as harm.

Models are the ones the run registered, read back from the model store; batches are read under
the data contract and joined as infer does (`mlcycle.sources`, `mlcycle.attributes`), so a
model sees here what it saw in production.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data.generate import Batch, make_batch
from demo.scenario import Incident, Scenario
from mlcycle.attributes import attributes_from_frames, join
from mlcycle.config import ModelConfig, SourceSpec, load_config
from mlcycle.datasets import feature_frame
from mlcycle.plugin import Plugin, load_plugin
from mlcycle.registry import ModelRegistry
from mlcycle.sources import SourceReader

CONCEPT = "concept_drift"
HARM_MARGIN = 0.02  # accuracy points below the clean counterpart that make a batch harmful
WORLD_DAYS = 10  # batches of a changed world its reference model is fitted on


@dataclass(frozen=True)
class Truth:
    harmful: bool
    why: str
    model: str | None = None
    accuracy: float | None = None
    clean_accuracy: float | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Prepared:
    inputs: dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]]
    # Pickled here, loaded by `Oracle.adopt`: a model's pickle names the plug-in's modules,
    # which only an oracle (given the plug-in) is sure to find.
    worlds: dict[Incident, bytes]


def prepared(scenario: Scenario, config_path: Path) -> Prepared:
    """`Oracle.prepare` in a process of its own: the demo starts it as the days begin, and
    it has its answers ready (seconds of CPU on a core the run leaves idle) when the report
    is made."""
    # One thread: the run has the other core. Read when scikit-learn loads, below.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cfg = load_config(config_path)
    return Oracle(scenario, cfg, None, load_plugin(cfg, config_path.parent)).prepare()


class Oracle:
    """Scores the scenario's batches with registered versions; every answer is cached.
    ``registry``: None scores nothing registered (`prepare` alone)."""

    def __init__(
        self,
        scenario: Scenario,
        cfg: ModelConfig,
        registry: ModelRegistry | None,
        plugin: Plugin,
    ):
        self.sc, self.cfg, self.registry, self.plugin = scenario, cfg, registry, plugin
        self._inputs: dict[tuple[int, str], tuple[pd.DataFrame, np.ndarray]] = {}
        self._accuracy: dict[tuple[str, int, str], float] = {}
        self._truth: dict[tuple[int, str | None], Truth] = {}
        self._worlds: dict[Incident, object] = {}
        self._models: dict[str, object] = {}

    def _batch(self, day: int, variant: str) -> Batch:
        if variant == "delivered":
            return self.sc.day_batch(day)
        return self.sc.clean_batch(day) if variant == "clean" else self.sc.concept_batch(day)

    def _world_model(self, incident: Incident) -> object:
        """A model of the behaviour ``incident`` brings, fitted on batches drawn under it after
        the run's last day (never a batch the run scored)."""
        if incident not in self._worlds:
            first = self.sc.days + 1
            batches = [
                make_batch(
                    self.sc.date(d),
                    self.sc.rows_per_day,
                    self.sc.seed,
                    incident.type,
                    incident.magnitude,
                )
                for d in range(first, first + WORLD_DAYS)
            ]
            features, statuses = zip(*(self._typed(b) for b in batches), strict=True)
            self._worlds[incident] = self.plugin.train(
                pd.concat(features, ignore_index=True),
                pd.Series(np.concatenate(statuses)),
                self.cfg.params,
            )
        return self._worlds[incident]

    def _reader(self, frame: pd.DataFrame, spec: SourceSpec) -> SourceReader:
        body = io.BytesIO(frame.to_csv(index=False).encode())
        return SourceReader(body, spec, f"{spec.name}.csv", self.cfg.join_key, self.cfg.chunk_rows)

    def _typed(self, batch: Batch) -> tuple[pd.DataFrame, np.ndarray]:
        """The typed features of a batch and its true statuses, aligned row by row."""
        cfg = self.cfg
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
        return feature_frame(joined, cfg), statuses

    def prepare(self) -> Prepared:
        """Everything it scores that the run does not decide: each day's inputs in the variants
        it is judged in, and the models of the changed worlds."""
        for day in range(1, self.sc.days + 1):
            self._features(day, "concept")
            incident = self.sc.incident_on(day)
            if incident is None:
                continue
            self._features(day, "delivered")
            if incident.type == CONCEPT:
                self._world_model(incident)
            else:
                self._features(day, "clean")
        return Prepared(self._inputs, {i: pickle.dumps(m) for i, m in self._worlds.items()})

    def adopt(self, prepared: Prepared) -> None:
        self._inputs.update(prepared.inputs)
        # Our own worker's models of the scenario, not data from outside.
        self._worlds.update({i: pickle.loads(m) for i, m in prepared.worlds.items()})

    def _features(self, day: int, variant: str) -> tuple[pd.DataFrame, np.ndarray]:
        if (day, variant) not in self._inputs:
            self._inputs[day, variant] = self._typed(self._batch(day, variant))
        return self._inputs[day, variant]

    def _score(self, model: object, day: int) -> float:
        features, statuses = self._features(day, "delivered")
        return round(float(np.mean(self.plugin.predict(model, features).labels == statuses)), 4)

    def accuracy(self, version: str, day: int, variant: str = "delivered") -> float:
        """The version's accuracy on the day's batch: as delivered, its clean counterpart, or
        the counterpart under the behaviour in force ("concept")."""
        key = (version, day, variant)
        if key not in self._accuracy:
            features, statuses = self._features(day, variant)
            predicted = self.plugin.predict(self._model(version), features).labels
            self._accuracy[key] = round(float(np.mean(predicted == statuses)), 4)
        return self._accuracy[key]

    def _model(self, version: str) -> object:
        """Each version verified and loaded once: a champion is scored on many days."""
        if version not in self._models:
            if self.registry is None:
                raise ValueError(f"{version}: this oracle has no model store to load it from")
            self._models[version] = self.registry.load(version)
        return self._models[version]

    def world_accuracy(self, day: int) -> float:
        """What a model of the behaviour in force achieves on the day's batch."""
        incident = self.sc.incident_on(day)
        assert incident is not None and incident.type == CONCEPT
        key = ("world", day, "delivered")
        if key not in self._accuracy:
            self._accuracy[key] = self._score(self._world_model(incident), day)
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
        delivered = self.accuracy(version, day)
        if incident.type == CONCEPT:
            world = self.world_accuracy(day)
            why = f"accuracy {delivered:.3f} vs {world:.3f} of a model of the changed behaviour"
            return Truth(world - delivered > HARM_MARGIN, why, version, delivered, world)
        clean = self.accuracy(version, day, "clean")
        harmful = clean - delivered > HARM_MARGIN
        why = f"accuracy {delivered:.3f} vs {clean:.3f} on the clean counterpart"
        return Truth(harmful, why, version, delivered, clean)

    def clean_day_accuracy(self, version: str, days: Iterable[int]) -> float | None:
        """Mean accuracy over the days' batches without input incidents, labels under the
        behaviour in force on each day."""
        scores = [self.accuracy(version, day, "concept") for day in days]
        return round(float(np.mean(scores)), 4) if scores else None
