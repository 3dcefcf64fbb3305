"""Read a demo scenario from YAML, refusing anything the demo would misread.

    days: 30                # simulated days
    seed: 7                 # the world's seed (training data and every batch)
    label_delay_days: 3     # complete labels arrive this many days after their batch
    rows_per_day: 2000
    incidents:
      - {day: 10, duration: 3, type: source_outage, magnitude: 0.07, corrected_after: 1}
      - {day: 26, type: concept_drift, magnitude: 2.0}   # no duration: lasts to the end

`duration` defaults to 1 day, except concept drift: the world changed and stays changed.
`magnitude` defaults to the generator's (`data.draw.check_magnitude` says what each means).
`corrected_after` (integrity incidents only): the source re-sends complete files for each
batch the incident broke this many days after its last day; without it, never.
Every error names the file, the incident's index (from 0) and the field.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from data.draw import INCIDENTS, check_magnitude
from demo.scenario import INTEGRITY, Incident, Scenario

DEFAULT = Path(__file__).resolve().parent / "scenarios" / "default.yml"
SETTINGS = ("days", "seed", "label_delay_days", "rows_per_day")
INCIDENT_FIELDS = ("day", "duration", "type", "magnitude", "corrected_after")
LASTING = ("concept_drift",)  # without a duration these last until the end of the run


class ScenarioError(ValueError):
    """A scenario file the demo cannot run: the message names the file and the field."""


def _integer(value: object, where: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ScenarioError(f"{where}: expected an integer >= {least}, got {value!r}")
    return value


def _incident(raw: object, where: str, days: int) -> Incident:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: expected a mapping of {', '.join(INCIDENT_FIELDS)}")
    unknown = sorted(set(raw) - set(INCIDENT_FIELDS), key=str)
    if unknown:
        raise ScenarioError(
            f"{where}: unknown field {unknown[0]!r}; expected {', '.join(INCIDENT_FIELDS)}"
        )
    kind = raw.get("type")
    if kind not in INCIDENTS:
        raise ScenarioError(f"{where}, field 'type': {kind!r} is not one of {', '.join(INCIDENTS)}")
    day = _integer(raw.get("day"), f"{where}, field 'day'", 1)
    if day > days:
        raise ScenarioError(f"{where}, field 'day': {day} is after the last day ({days})")
    if "duration" in raw:
        last = day + _integer(raw["duration"], f"{where}, field 'duration'", 1) - 1
    else:
        last = days if kind in LASTING else day
    if last > days:
        raise ScenarioError(
            f"{where}, field 'duration': the incident runs to day {last}, after the last day "
            f"({days})"
        )
    try:
        magnitude = check_magnitude(kind, raw.get("magnitude"))
    except ValueError as exc:
        raise ScenarioError(f"{where}, field 'magnitude': {exc}") from None
    corrected = None
    if "corrected_after" in raw:
        field = f"{where}, field 'corrected_after'"
        if kind not in INTEGRITY:
            raise ScenarioError(f"{field}: only integrity incidents ({', '.join(INTEGRITY)})")
        corrected = _integer(raw["corrected_after"], field, 1)
    lasting = "duration" not in raw and kind in LASTING
    return Incident(kind, day, last, magnitude, lasting, corrected)


def parse(doc: object, source: str) -> Scenario:
    """The scenario in `doc` (a YAML document's value); `source` names it in errors."""
    if not isinstance(doc, dict):
        raise ScenarioError(f"{source}: expected a mapping with {', '.join(SETTINGS)}, incidents")
    unknown = sorted(set(doc) - set(SETTINGS) - {"incidents"}, key=str)
    if unknown:
        raise ScenarioError(
            f"{source}: unknown field {unknown[0]!r}; expected {', '.join(SETTINGS)}, incidents"
        )
    defaults = Scenario()
    settings = {
        name: _integer(doc.get(name, getattr(defaults, name)), f"{source}, field {name!r}", 1)
        for name in SETTINGS
        if name != "seed"
    }
    settings["seed"] = _integer(doc.get("seed", defaults.seed), f"{source}, field 'seed'", 0)
    raw = doc.get("incidents") or []
    if not isinstance(raw, list):
        raise ScenarioError(f"{source}, field 'incidents': expected a list")
    incidents = [
        _incident(item, f"{source}: incident {index}", settings["days"])
        for index, item in enumerate(raw)
    ]
    for (a, first), (b, second) in itertools.combinations(enumerate(incidents), 2):
        if first.day <= second.last_day and second.day <= first.last_day:
            raise ScenarioError(
                f"{source}: incident {b}, field 'day': days {second.day}-{second.last_day} "
                f"overlap incident {a} ({first.day}-{first.last_day}); one incident a day"
            )
    return Scenario(**settings, incidents=tuple(sorted(incidents, key=lambda i: i.day)))


def load(path: Path = DEFAULT) -> Scenario:
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc}") from None
    return parse(doc, str(path))
