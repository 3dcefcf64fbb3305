"""Feature engineering shared by train.py and inference.py.

It lives in its own module because the fitted Pipeline pickles a reference to
add_booking_features: the platform puts this folder on sys.path before loading a model.
"""

import pandas as pd

NUMERIC = ["lead_days", "stay_nights", "checkin_month", "checkin_weekday", "booking_month"]
CATEGORICAL = ["country_code"]


def add_booking_features(features: pd.DataFrame) -> pd.DataFrame:
    """Raw typed columns -> model inputs. Dates become the seasonal signals that matter."""
    check_in = features["check_in"]
    return pd.DataFrame(
        {
            "lead_days": features["day_distance"].astype("float64"),
            "stay_nights": features["length_of_stay"].astype("float64"),
            "checkin_month": check_in.dt.month.astype("float64"),
            "checkin_weekday": check_in.dt.dayofweek.astype("float64"),
            "booking_month": features["date"].dt.month.astype("float64"),
            # Missing and never-seen countries both reach the encoder as NaN-like input.
            "country_code": features["country_code"]
            .astype(object)
            .where(features["country_code"].notna(), None),
        },
        index=features.index,
    )
