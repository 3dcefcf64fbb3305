import dataclasses

import pandas as pd

from mlcycle.config import load_config
from mlcycle.training import fresh_rows
from tests.conftest import MODEL_DIR

CFG = load_config(MODEL_DIR / "model_config.yml")


def holdout(days: int, per_day: int) -> pd.DataFrame:
    dates = pd.date_range("2026-01-01", periods=days).repeat(per_day)
    return pd.DataFrame({"date": dates})


def test_the_gate_uses_the_newest_days_when_they_hold_enough_rows():
    mask = fresh_rows(
        dataclasses.replace(
            CFG, promotion=dataclasses.replace(CFG.promotion, fresh_days=3, fresh_min_rows=100)
        ),
        holdout(10, 100),
    )
    assert mask.sum() == 400  # days 7..10: three days back from the newest, inclusive
    assert mask[-400:].all() and not mask[:-400].any()


def test_too_few_fresh_rows_fall_back_to_the_whole_holdout():
    cfg = dataclasses.replace(
        CFG, promotion=dataclasses.replace(CFG.promotion, fresh_days=3, fresh_min_rows=1000)
    )
    assert fresh_rows(cfg, holdout(10, 100)).all()
    no_slice = dataclasses.replace(
        CFG, promotion=dataclasses.replace(CFG.promotion, fresh_days=None)
    )
    assert fresh_rows(no_slice, holdout(10, 100)).all()
