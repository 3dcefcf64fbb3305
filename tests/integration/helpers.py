"""Small helpers the integration tests share: upload a folder, read a CSV back."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SAMPLE_BATCH = "2026-01-02"
# What EventBridge sends a function when a schedule fires (the fields handlers look at).
SCHEDULED = {
    "source": "aws.events",
    "detail-type": "Scheduled Event",
    "resources": [],
    "detail": {},
}


def upload_training(s3, bucket: str, folder: Path = SAMPLE / "training") -> None:
    for path in sorted(folder.rglob("*.csv")):
        s3.upload_file(str(path), bucket, f"training/{path.relative_to(folder).as_posix()}")


def upload_batch(s3, bucket: str, batch_id: str, files: dict[str, bytes]) -> None:
    for source, body in files.items():
        s3.put_object(Bucket=bucket, Key=f"incoming/{batch_id}/{source}.csv", Body=body)


def sample_batch_files(batch_id: str = SAMPLE_BATCH) -> dict[str, bytes]:
    folder = SAMPLE / "incoming" / batch_id
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def read_csv(s3, bucket: str, key: str) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()), dtype={"hotel_id": str}
    )


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    )


def refuting_report(batch_id: str, version: str = "v0001") -> dict:
    """The monitor's probation report on a batch that refutes the candidate (a performance
    breach)."""
    return {
        "action": "probation_report",
        "batch_id": batch_id,
        "healthy": False,
        "breaches": [{"rule": "RealisedAccuracy"}],
        "model_version": version,
    }
