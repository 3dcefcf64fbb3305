"""Honest score of a demo run: what each incident cost, what caught it, what got out.

Pure: it reads the report's day records (what the runner saw and what S3 held), the breaker's
event log and the ground truth (`demo.truth`), so a hand-built run can be scored in a test.

- A breaker trip is attributed to its triggering batches: the gate's and a probation breach's
  cause name the batch; an alarm names a rule, so its batches are those the live model's
  monitor tripped that rule on, that day (or the day before, when the alarm came later).
  A trip is false when none of its batches was harmful.
- An incident is detected when a rule trips on one of its own batches, never by an alarm
  about another batch.
- A batch is bad when published while harmful, judged with the model that published it;
  it was held in vain when it was not harmful under the champion it arrived to and was never
  published, or published more than a day after it arrived. Corrected files re-sent for a
  batch an integrity incident broke are a good batch arriving that day: published from them,
  the batch is not bad.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from demo.scenario import Incident, Scenario
from demo.truth import Truth

LATE_AFTER_DAYS = 1  # publication later than this after arrival counts as held


class Oracle(Protocol):
    def truth(self, day: int, version: str | None) -> Truth: ...

    def clean_day_accuracy(self, version: str, days: list[int]) -> float | None: ...


def _names(cause: dict) -> list[str]:
    """The rules or metrics a trip's cause names."""
    if cause.get("rules"):
        return list(cause["rules"])
    if cause.get("rule") or cause.get("metric"):
        return [cause.get("rule") or cause["metric"]]
    return [
        b if isinstance(b, str) else b.get("rule") or b.get("metric", "?")
        for b in cause.get("breaches") or []
    ]


class Score:
    def __init__(
        self,
        scenario: Scenario,
        days: list[dict],
        events: list[dict],
        oracle: Oracle,
        after: Sequence[dict] = (),
    ):
        """``after``: the days without a batch that follow the last (their day, signals,
        breaker state and champion): what was judged, opened and closed then counts too."""
        self.sc, self.days, self.events, self.oracle = scenario, days, events, oracle
        self.by_batch = {d["batch_id"]: d for d in days}
        self.by_day = {d["day"]: d for d in [*days, *after]}
        # What the gate and the monitor said about each batch, and on which day: a rescan or
        # late labels judge a batch days after it arrived.
        self.judged: dict[str, list[tuple[int, dict]]] = {}
        for d in self.by_day.values():
            for s in d.get("signals", []):
                self.judged.setdefault(s["batch_id"], []).append((d["day"], s))

    def as_delivered(self, batch_id: str, on: int | None) -> bool:
        """Whether what was judged of the batch on day `on` is what the incident delivered:
        from the day its corrected files came, it is those."""
        corrected = self.by_batch[batch_id].get("corrected_day")
        return on is None or corrected is None or on < corrected

    def harm(self, day: int, version: str | None = None, on: int | None = None) -> Truth:
        """The batch's truth under `version`, or under the champion it arrived to, as judged on
        day `on`."""
        record = self.by_day[day]
        if not self.as_delivered(record["batch_id"], on):
            return Truth(False, f"corrected files of day {record['corrected_day']}")
        return self.oracle.truth(day, version or record["champion_at_upload"])

    # --- trips -----------------------------------------------------------------------------

    def _alarm_batches(self, day: int | None, name: str) -> list[tuple[str, str | None]]:
        for when in (day, day - 1) if day is not None else ():
            found = [
                (s["batch_id"], s.get("model_version"))
                for s in (self.by_day.get(when) or {}).get("signals", [])
                if s["by"] == "monitor" and s.get("live") and name in s["trips"]
            ]
            if found:
                return found
        return []

    def trip_batches(self, event: dict) -> list[tuple[str, str | None]]:
        """(batch id, version that judged it) of the batches whose rules caused the trip."""
        cause = event.get("cause") or {}
        if cause.get("batch_id"):
            version = cause.get("model_version") or event.get("model_version")
            return [(cause["batch_id"], version)]
        return [b for name in _names(cause) for b in self._alarm_batches(event.get("day"), name)]

    def trips(self) -> list[dict]:
        out = []
        for event in self.events:
            if event["to"] != "OPEN" or event["from"] == "OPEN":
                continue
            batches = [(b, v) for b, v in self.trip_batches(event) if b in self.by_batch]
            harmful = [
                b
                for b, v in batches
                if self.harm(self.by_batch[b]["day"], v, event.get("day")).harmful
            ]
            out.append(
                {
                    "day": event.get("day"),
                    "actor": event.get("actor"),
                    "rules": _names(event.get("cause") or {}),
                    "batches": sorted({b for b, _ in batches}),
                    "harmful_batches": sorted(set(harmful)),
                    "false": not harmful,
                }
            )
        return out

    # --- incidents -------------------------------------------------------------------------

    def _detection(self, batches: list[str]) -> tuple[int | None, str | None]:
        tripped = [
            (day, s)
            for b in batches
            for day, s in self.judged.get(b, [])
            if s["trips"] and self.as_delivered(b, day)
        ]
        if not tripped:
            return None, None
        day, s = min(tripped, key=lambda found: found[0])  # the earliest day, first one judged
        by = s["by"] + (" on probation" if s.get("probation") else "")
        if s["by"] == "monitor":
            by += " with labels" if s.get("labels") else ", label-free"
        fired = "; ".join(
            f"{rule} ({s['reasons'][rule]})" if s["reasons"].get(rule) else rule
            for rule in s["trips"]
        )
        return day, f"{by}: {s['batch_id']} {fired}"

    def _handling(self, day: dict) -> str:
        publication = day.get("publication")
        gate_held = any(
            s["by"] == "gate" and s.get("held") and s["trips"]
            for _, s in self.judged.get(day["batch_id"], [])
        )
        labels_held = sorted(
            {
                rule
                for _, s in self.judged.get(day["batch_id"], [])
                if s["by"] == "monitor" and s.get("held")
                for rule in s["trips"]
            }
        )
        if publication is None:
            if gate_held:
                return "held at the gate"
            if labels_held:
                return f"held by its first labels ({', '.join(labels_held)})"
            return "held, breaker open" if day["batch_status"] == "held" else day["batch_status"]
        if publication.get("corrected"):
            where = " at the gate" if gate_held else ""
            return f"held{where}, published from corrected files ({publication['model_version']})"
        if gate_held or publication["day"] != day["day"]:
            return f"published after a hold ({publication['model_version']})"
        warned = publication.get("warnings") or []
        return f"published with warning ({', '.join(warned)})" if warned else "published"

    def _action(self, batches: list[dict], opened: dict | None, recovered: int | None) -> str:
        handled: dict[str, list[str]] = {}
        for d in batches:
            handled.setdefault(self._handling(d), []).append(d["batch_id"])
        parts = [f"{what}: {', '.join(ids)}" for what, ids in handled.items()]
        if opened is not None:
            before = self.by_day[opened["day"]]["champion_at_upload"]
            after = self.by_day[recovered or max(self.by_day)]["champion"]
            parts.append(
                f"breaker opened day {opened['day']} ({opened['actor']}), "
                + (f"retrain {before} -> {after}" if after != before else "champion kept")
                + (f", closed day {recovered}" if recovered else ", not recovered")
            )
        return "; ".join(parts)

    def _recovered(self, batches: list[dict], opened: dict | None) -> int | None:
        """The first day the breaker was CLOSED again after the incident opened it; without an
        opening, the day the last of its held batches was published (None: one never was)."""
        if opened is not None:
            return next(
                (
                    d["day"]
                    for d in self.by_day.values()
                    if d["day"] >= opened["day"] and d["breaker_state"] == "CLOSED"
                ),
                None,
            )
        late = [
            d.get("publication")
            for d in batches
            if (d.get("publication") or {}).get("day") != d["day"]
        ]
        if not late or any(p is None or p["day"] is None for p in late):
            return None
        return max(p["day"] for p in late)

    def incident(self, incident: Incident, trips: list[dict]) -> dict:
        batches = [self.by_day[d] for d in range(incident.day, incident.last_day + 1)]
        ids = {d["batch_id"] for d in batches}
        truths = {d["batch_id"]: self.harm(d["day"]) for d in batches}
        detected, detected_by = self._detection([d["batch_id"] for d in batches])
        opened = next(
            (
                t
                for t in trips
                if any(b in ids and self.as_delivered(b, t["day"]) for b in t["batches"])
            ),
            None,
        )
        recovered = self._recovered(batches, opened)
        bad = self.published_bad(batches)
        return {
            "type": incident.type,
            "day": incident.day,
            "last_day": incident.last_day,
            "magnitude": incident.magnitude,
            "batches": sorted(ids),
            "harmful": any(t.harmful for t in truths.values()),
            "truth": {b: t.to_json() for b, t in truths.items()},
            "detected_day": detected,
            "detected_by": detected_by,
            "breaker_opened_day": None if opened is None else opened["day"],
            "recovered_day": recovered,
            "action": self._action(batches, opened, recovered),
            "rows_published_while_harmful": sum(d["publication"]["rows"] for d in bad),
        }

    # --- totals ----------------------------------------------------------------------------

    def published_bad(self, days: list[dict]) -> list[dict]:
        return [
            d
            for d in days
            if d["incident"]
            and d.get("publication")
            and not d["publication"].get("corrected")
            and self.harm(d["day"], d["publication"]["model_version"]).harmful
        ]

    def held_good(self) -> list[str]:
        """Good batches (a corrected one from the day its files came) not published within
        a day."""
        out = []
        for d in self.days:
            publication = d.get("publication") or {}
            if d.get("corrected_day") is not None:
                arrived, published = d["corrected_day"], publication.get("corrected")
            elif self.harm(d["day"]).harmful:
                continue
            else:
                arrived, published = d["day"], bool(publication)
            when = publication.get("day")
            if not published or when is None or when - arrived > LATE_AFTER_DAYS:
                out.append(d["batch_id"])
        return out

    def champions(self) -> list[dict]:
        """Each champion's run of days (the model that met each day's batch) and its accuracy
        on those days' clean batches, with the champion before it on the same days."""
        runs: list[dict] = []
        for d in self.days:
            if runs and runs[-1]["version"] == d["champion_at_upload"]:
                runs[-1]["days"].append(d["day"])
            else:
                runs.append({"version": d["champion_at_upload"], "days": [d["day"]]})
        for previous, run in zip([None, *runs], runs, strict=False):
            run["from_day"], run["to_day"] = run["days"][0], run["days"][-1]
            run["clean_day_accuracy"] = self._accuracy(run["version"], run["days"])
            if previous is not None:
                run["previous"] = previous["version"]
                run["previous_clean_day_accuracy"] = self._accuracy(
                    previous["version"], run["days"]
                )
            del run["days"]
        return runs

    def _accuracy(self, version: str | None, days: list[int]) -> float | None:
        return None if version is None else self.oracle.clean_day_accuracy(version, days)

    def totals(self) -> dict:
        trips = self.trips()
        bad = self.published_bad(self.days)
        held = self.held_good()
        return {
            "incidents": [self.incident(i, trips) for i in self.sc.incidents],
            "trips": trips,
            "published_bad_batches": len(bad),
            "published_bad_batch_ids": [d["batch_id"] for d in bad],
            "bad_rows_published": sum(d["publication"]["rows"] for d in bad),
            "false_trips": sum(1 for t in trips if t["false"]),
            "held_good_batches": len(held),
            "held_good_batch_ids": held,
            "label_delay_days": self.sc.label_delay_days,
            "champion_versions": self.champions(),
        }
