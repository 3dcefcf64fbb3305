"""What a model sees: the feature columns in config order, and the time-based holdout."""

from __future__ import annotations

import pandas as pd

from mlcycle.config import ModelConfig


def feature_frame(joined: pd.DataFrame, cfg: ModelConfig) -> pd.DataFrame:
    """What the plug-in sees: typed columns in config order, no join key, no target."""
    return joined[list(cfg.feature_columns)]


def time_split(
    frame: pd.DataFrame, time_column: str, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Newest rows by time_column are the holdout.

    The model is judged on the future, not a shuffle.
    """
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    cut = int(round(len(ordered) * (1 - holdout_fraction)))
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)
