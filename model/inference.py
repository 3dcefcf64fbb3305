"""Score features with a fitted model. The platform calls predict(model, features).

Returns one probability column per class; the platform derives the predicted label.
"""

import pandas as pd


def predict(model, features: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(model.predict_proba(features), columns=model.classes_, index=features.index)
