"""Every kind of bad input: a clear error (file, column, rule), the batch quarantined,
nothing published."""

import dataclasses
import datetime
import json

import pytest

from tests.integration.helpers import SAMPLE, SCHEDULED, keys, sample_batch_files, upload_batch


def _edit_csv(body: bytes, edit) -> bytes:
    lines = body.decode().splitlines()
    return ("\n".join(edit(lines)) + "\n").encode()


def _set_field(lines, row, column, value):
    header = lines[0].split(",")
    fields = lines[row].split(",")
    fields[header.index(column)] = value
    return lines[:row] + [",".join(fields)] + lines[row + 1 :]


def _drop_column(lines, column):
    idx = lines[0].split(",").index(column)
    return [",".join(f for i, f in enumerate(line.split(",")) if i != idx) for line in lines]


def _add_column(lines, column, value):
    return [lines[0] + "," + column] + [line + "," + value for line in lines[1:]]


def _check_out_before_check_in(lines):
    header = lines[0].split(",")
    check_in = lines[3].split(",")[header.index("check_in")]
    earlier = (datetime.date.fromisoformat(check_in) - datetime.timedelta(days=2)).isoformat()
    return _set_field(lines, 3, "check_out", earlier)


BOOKINGS, HOTELS = "bookings", "hotels"
CASES = {
    # name: (source edited, edit, column named, rule named, first line number named or None)
    "missing_column": (
        BOOKINGS,
        lambda ls: _drop_column(ls, "check_in"),
        "check_in",
        "required column",
        None,
    ),
    "wrong_type": (
        BOOKINGS,
        lambda ls: _set_field(ls, 5, "day_distance", "soon"),
        "day_distance",
        "type integer",
        6,
    ),
    "empty_file": (BOOKINGS, None, None, "not empty", None),
    "header_only": (BOOKINGS, lambda ls: ls[:1], None, "has data rows", None),
    "duplicate_hotel_key": (HOTELS, lambda ls: ls + [ls[1]], "hotel_id", "unique", None),
    "unparseable_date": (
        BOOKINGS,
        lambda ls: _set_field(ls, 2, "check_in", "2026-13-45"),
        "check_in",
        "date format",
        3,
    ),
    "check_out_before_check_in": (
        BOOKINGS,
        _check_out_before_check_in,
        "check_out",
        "check_out on or after check_in",
        4,
    ),
    "non_utf8": (HOTELS, "non-utf8", None, "encoding UTF-8", None),
    "all_null_column": (
        HOTELS,
        lambda ls: [ls[0]] + [line.split(",")[0] + "," for line in ls[1:]],
        "country_code",
        "not all missing",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_batch_is_quarantined_with_a_clear_reason(case, trained, buckets, s3):
    from handlers import infer

    source, edit, column, rule, line = CASES[case]
    files = sample_batch_files()
    if edit is None:
        files[source] = b""
    elif edit == "non-utf8":
        files[source] = files[source].replace(b"\n", b"\n\xff\xfe", 1)
    else:
        files[source] = _edit_csv(files[source], edit)
    batch_id = f"bad-{case.replace('_', '-')}"
    upload_batch(s3, buckets.data, batch_id, files)

    result = infer.handler({"batch_id": batch_id}, None)["results"][0]

    assert result["status"] == "quarantined", result
    message = result["error"]
    assert f"incoming/{batch_id}/{source}.csv" in message
    assert rule in message
    if column:
        assert f"column '{column}'" in message
    if line:
        assert f"lines {line}" in message
    assert keys(s3, buckets.data, f"incoming/{batch_id}/") == []
    assert keys(s3, buckets.data, f"quarantine/{batch_id}/") == sorted(
        [f"quarantine/{batch_id}/{s}.csv" for s in files] + [f"quarantine/{batch_id}/reason.json"]
    )
    reason = json.loads(
        s3.get_object(Bucket=buckets.data, Key=f"quarantine/{batch_id}/reason.json")["Body"].read()
    )
    assert reason["reason"]["rule"] == rule and reason["reason"]["column"] == column
    assert keys(s3, buckets.predictions) == []


def test_extra_unknown_columns_are_accepted_and_noted(trained, buckets, s3):
    from handlers import infer

    files = sample_batch_files()
    files[BOOKINGS] = _edit_csv(files[BOOKINGS], lambda ls: _add_column(ls, "promo_code", "SUMMER"))
    upload_batch(s3, buckets.data, "extra-column", files)
    result = infer.handler({"batch_id": "extra-column"}, None)["results"][0]
    assert result["status"] == "published"
    assert any("extra columns ignored: ['promo_code']" in note for note in result["notes"])
    manifest = json.loads(
        s3.get_object(Bucket=buckets.predictions, Key="predictions/extra-column/_SUCCESS")[
            "Body"
        ].read()
    )
    assert manifest["notes"] == result["notes"]


def test_missing_source_past_the_deadline_is_quarantined(trained, buckets, s3, monkeypatch):
    from handlers import infer, runtime

    upload_batch(s3, buckets.data, "late-hotels", {BOOKINGS: sample_batch_files()[BOOKINGS]})
    assert infer.handler(SCHEDULED, None)["results"][0]["status"] == "waiting"
    impatient = dataclasses.replace(runtime.config(), batch_deadline_minutes=0)
    monkeypatch.setattr(runtime, "config", lambda: impatient)
    result = infer.handler(SCHEDULED, None)["results"][0]
    assert result["status"] == "quarantined"
    assert "incoming/late-hotels/hotels.csv" in result["error"] and "deadline" in result["error"]
    assert keys(s3, buckets.data, "quarantine/late-hotels/") == [
        "quarantine/late-hotels/bookings.csv",
        "quarantine/late-hotels/reason.json",
    ]


def test_training_refuses_an_unknown_target_value_and_keeps_the_champion(trained, buckets, s3):
    from handlers import train

    body = (SAMPLE / "training" / "bookings" / "bookings.csv").read_bytes()
    bad = _edit_csv(body, lambda ls: _set_field(ls, 10, "status", "no-show"))
    s3.put_object(Bucket=buckets.data, Key="training/bookings/bookings.csv", Body=bad)
    result = train.handler({}, None)
    assert result["status"] == "rejected"
    assert (
        "training/bookings/bookings.csv" in result["error"] and "column 'status'" in result["error"]
    )
    assert (
        "allowed values" in result["error"]
        and "'no-show'" in result["error"]
        and "lines 11" in result["error"]
    )
    assert keys(s3, buckets.models, "models/booking_status/v0002") == []
    aliases = json.loads(
        s3.get_object(Bucket=buckets.models, Key="models/booking_status/aliases.json")[
            "Body"
        ].read()
    )
    assert aliases["champion"] == "v0001"
