"""The promotion gate: who is champion after a training run.

Every candidate meets on the same rows: the newest of the challenger's holdout
(`training.fresh_rows`), which no candidate was fitted on. To replace the champion a candidate
must clear the class-prior floor and beat the champion by the configured margin.

Scheduled training offers its challenger alone. The breaker's recovery retrain also offers the
`previous` champion: when the champion went wrong, the model before it may be the best there
is (a rollback). Before, a recovery promoted any challenger that cleared the floor; those
models scored 2.5-4 points worse on clean days than the champions they replaced (issue 11).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.evaluation import score
from mlcycle.plugin import Plugin
from mlcycle.registry import Aliases, Decision, ModelRegistry

LOWER_IS_BETTER = {"log_loss"}


class Arena:
    """The rows candidates meet on, and how they compare there."""

    def __init__(
        self,
        cfg: ModelConfig,
        registry: ModelRegistry,
        plugin: Plugin,
        challenger: dict,
        baseline: dict,
        features: pd.DataFrame,
        target: pd.Series,
    ):
        self.cfg, self.registry, self.plugin = cfg, registry, plugin
        self.challenger, self.baseline = challenger, baseline
        self.features, self.target = features, target
        # Log loss needs probabilities; a labels-only plug-in is judged on macro-F1.
        metric = cfg.promotion.metric
        self.metric = metric if metric in challenger else "macro_f1"
        self.margin = cfg.promotion.min_improvement
        self._scored: dict[str, dict] = {}

    @property
    def where(self) -> str:
        return f"on the newest {len(self.target)} holdout rows"

    def score(self, version: str) -> dict:
        """A stored version's metrics on these rows (MLCycleError when it cannot be loaded)."""
        if version not in self._scored:
            model = self.registry.load(version)
            predicted = self.plugin.predict(model, self.features)
            self._scored[version] = score(self.target, predicted, self.cfg.classes)
        return self._scored[version]

    def beats(self, value: float, incumbent: float) -> bool:
        if self.metric in LOWER_IS_BETTER:
            return value <= incumbent - self.margin
        return value >= incumbent + self.margin

    def best(self, values: list[float]) -> int:
        """Index of the best value; the first one on a tie."""
        pick = np.argmin if self.metric in LOWER_IS_BETTER else np.argmax
        return int(pick(values))

    def under_floor(self, metrics: dict) -> str | None:
        """Why `metrics` do not clear the class-prior floor, or None."""
        if not self.cfg.promotion.require_beat_baseline:
            return None
        # Log loss and macro-F1, not accuracy: when one class dominates (cancellations after a
        # behaviour change) "always say the majority class" has high accuracy and is useless.
        base = self.baseline
        worse = [
            m
            for m, better in (
                ("log_loss", metrics.get("log_loss", 0) < base["log_loss"]),
                ("macro_f1", metrics["macro_f1"] > base["macro_f1"]),
            )
            if not better
        ]
        if not worse:
            return None
        return (
            f"does not beat the class-prior baseline on {', '.join(worse)} "
            f"(log loss {metrics.get('log_loss', float('nan')):.4f} vs "
            f"{base['log_loss']:.4f}, macro-F1 {metrics['macro_f1']:.4f} vs "
            f"{base['macro_f1']:.4f})"
        )

    def judged_alone(self) -> Decision:
        """The challenger before any comparison: refused under the floor, else first champion."""
        floor = self.under_floor(self.challenger)
        if floor:
            return Decision(False, floor)
        m = self.metric
        return Decision(
            True, f"first champion ({m} {self.challenger[m]:.4f}, baseline {self.baseline[m]:.4f})"
        )


def scheduled_gate(arena: Arena) -> Callable[[Aliases], Decision]:
    """decide(aliases) for a scheduled run: the challenger against the champion."""
    m, margin = arena.metric, arena.margin
    op, sign = ("<=", "-") if m in LOWER_IS_BETTER else (">=", "+")

    def decide(aliases: Aliases) -> Decision:
        champion = aliases.champion
        if champion is None or arena.under_floor(arena.challenger):
            return arena.judged_alone()
        try:
            held = arena.score(champion)[m]
        except MLCycleError as exc:
            return Decision(
                True, f"champion {champion} cannot score the holdout ({exc}); replacing it"
            )
        value = arena.challenger[m]
        if arena.beats(value, held):
            return Decision(
                True,
                f"{m} {value:.4f} {op} champion {champion} {held:.4f} {sign} margin {margin} "
                f"{arena.where}",
            )
        return Decision(
            False,
            f"{m} {value:.4f} does not beat champion {champion} {held:.4f} {sign} margin "
            f"{margin} {arena.where}",
        )

    return decide


def recovery_gate(arena: Arena, version: str) -> Callable[[Aliases], Decision]:
    """decide(aliases) for the breaker's retrain: challenger `version`, champion and previous
    champion on the newest labels; the best that beats the champion by the margin and clears
    the floor takes over (the previous one: a rollback), else the champion stays."""
    m, margin = arena.metric, arena.margin

    def decide(aliases: Aliases) -> Decision:
        champion, previous = aliases.champion, aliases.previous
        if champion is None:
            return arena.judged_alone()
        notes: list[str] = []
        roles = {"challenger": version, "champion": champion}
        if previous and previous != champion:
            roles["previous"] = previous
        values = {"challenger": float(arena.challenger[m])}
        floors = {"challenger": arena.under_floor(arena.challenger)}
        for role in ("champion", "previous"):
            if role not in roles:
                continue
            try:
                metrics = arena.score(roles[role])
            except MLCycleError as exc:
                notes.append(f"{role} {roles[role]} cannot score the rows ({exc})")
                continue
            values[role], floors[role] = float(metrics[m]), arena.under_floor(metrics)
        # A champion that cannot be scored defends nothing; such a previous one is no candidate.
        incumbent = values.get("champion", np.inf if m in LOWER_IS_BETTER else -np.inf)
        contenders = [
            r
            for r in ("challenger", "previous")
            if r in values and not floors[r] and arena.beats(values[r], incumbent)
        ]
        notes += [f"{r} {roles[r]} {why}" for r, why in floors.items() if why and r != "champion"]
        scores = {
            "metric": m,
            "rows": len(arena.target),
            "margin": margin,
            **{role: {"version": v, m: values.get(role)} for role, v in roles.items()},
        }
        said = ", ".join(
            f"{r} {v} {values[r]:.4f}" if r in values else f"{r} {v} unscored"
            for r, v in roles.items()
        )
        head = f"recovery, {m} {arena.where}: {said} (margin {margin})"
        tail = f"; {'; '.join(notes)}" if notes else ""
        if not contenders:
            return Decision(
                False,
                f"{head}: no candidate beats champion {champion} by the margin; it stays{tail}",
                scores=scores,
            )
        winner = contenders[arena.best([values[r] for r in contenders])]
        if winner == "previous":
            return Decision(
                True,
                f"{head}: previous {previous} is best; rolled back, probation follows{tail}",
                rollback=True,
                scores=scores,
            )
        return Decision(
            True,
            f"{head}: challenger {version} is best; promoted, probation follows{tail}",
            scores=scores,
        )

    return decide
