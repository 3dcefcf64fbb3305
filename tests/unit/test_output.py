import io

import numpy as np
import pandas as pd

from mlcycle.config import load_config
from mlcycle.output import PredictionWriter
from mlcycle.plugin import Predictions
from tests.conftest import MODEL_DIR

CFG = load_config(MODEL_DIR / "model_config.yml")


def test_rows_match_what_a_csv_reader_expects():
    proba = pd.DataFrame(
        {
            "booked": [0.12346, 1.0, 0.0],
            "cancelled": [0.5, 0.0, 0.33335],
            "fulfilled": [0.37654, 0.0, 0.66665],
        }
    )
    writer = PredictionWriter("b1", "v0003", CFG)
    text = writer.header() + writer.rows(
        np.array(["1", "x,y", '7"'], dtype=object),
        Predictions(np.array(["cancelled", "booked", "fulfilled"], dtype=object), proba),
    )
    out = pd.read_csv(io.BytesIO(text), dtype={"hotel_id": str})
    assert out.columns.tolist() == [
        "batch_id",
        "hotel_id",
        "predicted_status",
        "p_booked",
        "p_cancelled",
        "p_fulfilled",
        "model_version",
    ]
    assert out["hotel_id"].tolist() == [
        "1",
        "x,y",
        '7"',
    ]  # ids with CSV specials are quoted, not split
    assert out["p_booked"].tolist() == [0.1235, 1.0, 0.0]
    assert text.splitlines()[1] == b"b1,1,cancelled,0.1235,0.5000,0.3765,v0003"


def test_label_only_predictions_leave_probability_fields_empty():
    writer = PredictionWriter("b1", "v1", CFG)
    text = writer.rows(
        np.array(["1"], dtype=object), Predictions(np.array(["booked"], dtype=object), None)
    )
    assert text == b"b1,1,booked,,,,v1\n" and writer.has_proba is False
