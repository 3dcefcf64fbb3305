"""Small builders shared by the monitoring tests."""

from collections.abc import Callable

import numpy as np
import pandas as pd

from mlcycle.monitoring import window as windows
from mlcycle.monitoring.batchstats import BatchStats, Layout
from mlcycle.monitoring.columns import predicted_labels
from mlcycle.monitoring.judge import Version, judge
from mlcycle.monitoring.profile import build_reference_profile
from mlcycle.monitoring.registration import holdout_limits
from mlcycle.monitoring.rules import parse_settings

CLASSES = ["booked", "cancelled", "fulfilled"]


def one_hot_proba(predicted: list, classes=CLASSES, confidence: float = 1.0) -> pd.DataFrame:
    """Probabilities whose arg-max is ``predicted``; the rest of the mass spread evenly."""
    rest = (1 - confidence) / (len(classes) - 1)
    rows = [[confidence if c == p else rest for c in classes] for p in predicted]
    return pd.DataFrame(rows, columns=classes)


def profile_of(features: pd.DataFrame, kinds: dict, predicted=None, labels=None, **kwargs) -> dict:
    """Profile of ``features`` with confident predictions (all 'booked' unless given)."""
    predicted = predicted if predicted is not None else ["booked"] * len(features)
    return build_reference_profile(features, kinds, one_hot_proba(predicted), labels, **kwargs)


def judge_of(
    profile: dict, holdout: pd.DataFrame, proba: pd.DataFrame, labels: pd.Series, positive: str
) -> Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], dict]:
    """Judges a batch (features, predictions, probabilities) the platform's way: counted into
    BatchStats, limits measured on ``holdout`` as training registers them, no window yet."""
    predicted = predicted_labels(proba).to_numpy()
    limits = holdout_limits(profile, holdout, None, predicted, proba, labels, positive, {})
    layout = Layout.of(profile, limits, [], positive)

    def judged(features: pd.DataFrame, predicted: np.ndarray, proba: pd.DataFrame) -> dict:
        stats = BatchStats.empty(layout)
        stats.add(layout, features, predicted, proba, {})
        version = Version("1", layout, limits, profile)
        return judge(version, stats, None, windows.empty(), parse_settings({}), "b")

    return judged
