"""Holdout metrics and the class-prior baseline every model must beat."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score

from mlcycle.plugin import Predictions


def score(y_true: pd.Series, pred: Predictions, classes: list[str]) -> dict:
    y = np.asarray(y_true, dtype=object)
    out = {
        "rows": int(len(y)),
        "accuracy": float(accuracy_score(y, pred.labels)),
        "macro_f1": float(
            f1_score(y, pred.labels, labels=classes, average="macro", zero_division=0)
        ),
        "recall": {
            c: float(r)
            for c, r in zip(
                classes,
                recall_score(y, pred.labels, labels=classes, average=None, zero_division=0),
                strict=False,
            )
        },
    }
    if pred.proba is not None:
        out["log_loss"] = float(
            log_loss(y, np.clip(pred.proba[classes].to_numpy(), 1e-15, 1), labels=classes)
        )
    return out


def prior_baseline(train_target: pd.Series, y_holdout: pd.Series, classes: list[str]) -> dict:
    """What knowing only the training class shares scores: the floor for promotion."""
    shares = train_target.value_counts(normalize=True).reindex(classes, fill_value=0.0)
    majority = shares.idxmax()
    proba = pd.DataFrame(np.tile(shares.to_numpy(), (len(y_holdout), 1)), columns=classes)
    labels = np.full(len(y_holdout), majority, dtype=object)
    return {
        **score(y_holdout, Predictions(labels, proba), classes),
        "class_shares": shares.round(6).to_dict(),
    }
