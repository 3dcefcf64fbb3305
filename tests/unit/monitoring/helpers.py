"""Small builders shared by the monitoring tests."""

import pandas as pd

from mlcycle.monitoring.profile import build_reference_profile

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
