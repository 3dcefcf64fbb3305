"""Business KPIs against hand values."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.business import business_kpis

from .helpers import profile_of

REFERENCE = pd.DataFrame({"country_code": ["NL", "NL", "DE", "FR", None, "NL", "DE", "ES"]})
KINDS = {"country_code": "categorical"}
PROBA = pd.DataFrame(
    {
        "booked": [0.5, 0.3, 0.6, 0.4],
        "cancelled": [0.2, 0.6, 0.1, 0.5],
        "fulfilled": [0.3, 0.1, 0.3, 0.1],
    }
)
LABELS = pd.Series(["cancelled", "cancelled", np.nan, "booked"])


@pytest.fixture(scope="module")
def profile():
    labels = pd.Series(["cancelled", "booked"] * 4)
    predicted = ["cancelled", "booked", "booked", "booked"] * 2
    return profile_of(REFERENCE, KINDS, predicted=predicted, labels=labels)


def test_predicted_and_realised_positive_rates_and_their_gap(profile):
    result = business_kpis(PROBA, LABELS, profile, positive_class="cancelled")
    assert result["predicted_positive_rate"] == pytest.approx((0.2 + 0.6 + 0.1 + 0.5) / 4)
    assert result["realised_positive_rate"] == pytest.approx(2 / 3)
    # on the three labelled rows only: (0.2 + 0.6 + 0.5) / 3 - 2/3
    assert result["positive_rate_gap"] == pytest.approx(1.3 / 3 - 2 / 3)
    assert result["reference_predicted_positive_rate"] == pytest.approx(0.25)
    assert result["reference_realised_positive_rate"] == pytest.approx(0.5)


def test_volume_ratio_against_expected_rows_defaulting_to_the_reference_size(profile):
    assert business_kpis(PROBA, None, profile)["volume_ratio"] == pytest.approx(4 / 8)
    assert business_kpis(PROBA, None, profile, expected_rows=2)["volume_ratio"] == pytest.approx(
        2.0
    )


def test_without_labels_only_the_predicted_side_is_reported(profile):
    result = business_kpis(PROBA, None, profile, positive_class="cancelled")
    assert result["realised_positive_rate"] is None and result["positive_rate_gap"] is None
    assert result["labelled_rows"] == 0


def test_labels_only_plugin_uses_the_share_predicted_as_cancelled(profile):
    predicted = pd.Series(["cancelled", "booked", "cancelled", None])
    result = business_kpis(predicted, LABELS, profile, positive_class="cancelled")
    assert result["predicted_positive_rate"] == pytest.approx(2 / 3)
    # labelled and predicted rows 0, 1: predicted 1/2, realised 2/2
    assert result["positive_rate_gap"] == pytest.approx(0.5 - 1.0)


def test_an_unknown_positive_class_gives_no_predicted_rate(profile):
    result = business_kpis(PROBA, LABELS, profile, positive_class="no_show")
    assert result["predicted_positive_rate"] is None
    assert result["realised_positive_rate"] == 0.0


def test_no_positive_class_configured_means_no_positive_rates(profile):
    result = business_kpis(PROBA, LABELS, profile)
    assert result["predicted_positive_rate"] is None and result["realised_positive_rate"] is None
    assert result["positive_rate_gap"] is None


def test_top_segment_shares_with_reference_shares(profile):
    features = pd.DataFrame({"country_code": ["NL", "NL", "NL", "BE", None]})
    segments = business_kpis(
        PROBA.iloc[[0, 1, 2, 3, 3]], None, profile, features=features, segment_column="country_code"
    )["segments"]
    assert segments["missing_share"] == pytest.approx(0.2)
    assert segments["top"] == {
        "NL": {"share": 0.75, "reference_share": pytest.approx(3 / 7)},
        "BE": {"share": 0.25, "reference_share": None},
    }
    assert business_kpis(PROBA, None, profile, features=features.iloc[:4])["segments"] is None
    assert (
        business_kpis(
            PROBA,
            None,
            profile,
            features=pd.DataFrame({"x": [1] * 4}),
            segment_column="country_code",
        )["segments"]
        is None
    )
