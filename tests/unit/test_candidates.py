"""The recovery gate: challenger, champion and previous champion meet on the newest labels."""

import dataclasses

import pandas as pd
import pytest

from mlcycle.candidates import Arena, recovery_gate, scheduled_gate
from mlcycle.config import load_config
from mlcycle.errors import ModelIntegrityError
from mlcycle.registry import Aliases
from tests.conftest import MODEL_DIR

BASELINE = {"log_loss": 1.0, "macro_f1": 0.2}


class Scored(Arena):
    """An arena whose stored versions have known log losses (None: the version cannot load)."""

    def __init__(self, challenger: float, stored: dict, margin: float = 0.005):
        cfg = load_config(MODEL_DIR / "model_config.yml")
        cfg = dataclasses.replace(
            cfg, promotion=dataclasses.replace(cfg.promotion, min_improvement=margin)
        )
        rows = pd.Series(["booked"] * 700)
        super().__init__(cfg, None, None, _metrics(challenger), BASELINE, pd.DataFrame(), rows)
        self.stored = stored

    def score(self, version):
        if self.stored[version] is None:
            raise ModelIntegrityError(f"{version} refused")
        return _metrics(self.stored[version])


def _metrics(log_loss: float) -> dict:
    return {"log_loss": log_loss, "macro_f1": 0.5, "accuracy": 0.6}


def _decide(challenger, champion, previous, margin=0.005):
    stored = {"v0002": champion, "v0001": previous}
    arena = Scored(challenger, stored, margin)
    return recovery_gate(arena, "v0003")(Aliases("v0002", "v0001" if previous != "none" else None))


def test_the_challenger_takes_over_only_by_beating_the_champion_by_the_margin():
    promoted = _decide(0.60, 0.70, 0.75)
    assert promoted.promote and not promoted.rollback
    assert "challenger v0003 is best" in promoted.reason
    assert promoted.scores["challenger"] == {"version": "v0003", "log_loss": 0.60}
    assert promoted.scores["champion"]["log_loss"] == 0.70
    assert promoted.scores["previous"]["log_loss"] == 0.75 and promoted.scores["rows"] == 700

    kept = _decide(0.698, 0.70, 0.75)  # better, but not by the margin
    assert not kept.promote and "champion v0002 by the margin; it stays" in kept.reason


def test_the_previous_champion_wins_back_when_it_is_the_best_of_three():
    back = _decide(0.65, 0.70, 0.60)
    assert back.promote and back.rollback and "previous v0001 is best" in back.reason


def test_the_challenger_wins_a_tie_with_the_previous_champion():
    assert not _decide(0.60, 0.70, 0.60).rollback


def test_a_previous_champion_under_the_floor_or_unloadable_is_no_candidate():
    under = _decide(1.2, 1.3, 1.1)  # previous beats the champion, not the prior's 1.0
    assert not under.promote
    assert "previous v0001 does not beat the class-prior baseline" in under.reason
    unloadable = _decide(0.80, 0.70, None)
    assert not unloadable.promote and "previous v0001 cannot score the rows" in unloadable.reason


def test_an_unloadable_champion_is_replaced_by_the_best_candidate():
    decision = _decide(0.60, None, 0.65)
    assert decision.promote and not decision.rollback
    assert "champion v0002 cannot score the rows" in decision.reason


def test_a_challenger_under_the_floor_never_takes_over_but_a_rollback_still_can():
    decision = _decide(1.1, 0.95, 0.7)
    assert decision.rollback
    assert "challenger v0003 does not beat the class-prior baseline" in decision.reason


def test_without_a_previous_champion_the_choice_is_challenger_or_champion():
    decision = _decide(0.6, 0.7, "none")
    assert decision.promote and "previous" not in decision.scores


@pytest.mark.parametrize(("challenger", "promote"), [(0.6, True), (0.699, False)])
def test_the_scheduled_gate_never_considers_a_rollback(challenger, promote):
    arena = Scored(challenger, {"v0002": 0.7, "v0001": 0.1})
    decision = scheduled_gate(arena)(Aliases("v0002", "v0001"))
    assert decision.promote is promote and not decision.rollback


def test_a_first_champion_needs_only_the_floor():
    arena = Scored(0.6, {})
    assert recovery_gate(arena, "v0001")(Aliases(None, None)).reason.startswith("first champion")
