"""Train the booking-status model. The platform calls train(features, target, params).

features: joined, typed columns (dates parsed) without hotel_id and status.
Returns a scikit-learn Pipeline that does its own preprocessing, so inference.py
needs nothing but the fitted object.
"""

import numpy as np
import pandas as pd
from booking_features import CATEGORICAL, NUMERIC, add_booking_features
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder


def train(features: pd.DataFrame, target: pd.Series, params: dict) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            # Unknown countries at inference time become NaN, which the booster treats as missing.
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    min_frequency=5,
                    max_categories=60,
                ),
                CATEGORICAL,
            ),
        ],
        verbose_feature_names_out=False,
    )
    booster = HistGradientBoostingClassifier(
        categorical_features=[len(NUMERIC)],
        max_iter=int(params.get("max_iter", 200)),
        learning_rate=float(params.get("learning_rate", 0.08)),
        max_leaf_nodes=int(params.get("max_leaf_nodes", 31)),
        early_stopping=bool(params.get("early_stopping", True)),
        random_state=int(params.get("random_state", 0)),
    )
    model = Pipeline(
        [
            ("features", FunctionTransformer(add_booking_features)),
            ("encode", encode),
            ("model", booster),
        ]
    )
    return model.fit(features, target)
