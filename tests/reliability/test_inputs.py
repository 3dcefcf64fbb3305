"""Reliability catalogue, family "inputs": every kind of bad input is quarantined with the
rule and column that broke, nothing of it is published and none of it is lost; inputs the
contract accepts (extra columns, timezone-aware timestamps, formula-like ids) are scored as
the same rows without them would be."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tests.integration.helpers import SAMPLE, SCHEDULED, keys, upload_training
from tests.reliability.faults_helpers import (
    BOOKINGS,
    HOTELS,
    SAMPLE_FILES,
    SAMPLE_ROWS,
    add_column,
    assert_nothing_published,
    assert_published_once,
    assert_quarantined,
    drop_column,
    edit_csv,
    field,
    prediction_rows,
    read_json,
    s3_event,
    set_field,
    upload,
    use_config,
    with_edit,
)


def _batch(name: str) -> str:
    return f"{name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"


def _shift_date(value: str, days: int) -> str:
    return (datetime.date.fromisoformat(value) + datetime.timedelta(days=days)).isoformat()


def _check_out_before_check_in(lines: list[str]) -> list[str]:
    return set_field(lines, 3, "check_out", _shift_date(field(lines, 3, "check_in"), -2))


def _day_distance_off_by_one(lines: list[str]) -> list[str]:
    return set_field(lines, 3, "day_distance", str(int(field(lines, 3, "day_distance")) + 1))


def _raw(source: str, body: bytes) -> dict[str, bytes]:
    return {**SAMPLE_FILES, source: body}


# name: (the batch's files, rule named, column named)
QUARANTINED = {
    "missing_column": (
        with_edit(BOOKINGS, lambda ls: drop_column(ls, "check_in")),
        "required column",
        "check_in",
    ),
    "wrong_type": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 5, "day_distance", "soon")),
        "type integer",
        "day_distance",
    ),
    "number_beyond_float64": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 7, "day_distance", "1e400")),
        "type integer",
        "day_distance",
    ),
    "empty_file": (_raw(BOOKINGS, b""), "not empty", None),
    "header_only": (with_edit(BOOKINGS, lambda ls: ls[:1]), "has data rows", None),
    "duplicate_key_in_hotels": (
        with_edit(HOTELS, lambda ls: ls + [ls[1]]),
        "unique",
        "hotel_id",
    ),
    "duplicate_key_on_the_last_line": (
        with_edit(
            BOOKINGS, lambda ls: set_field(ls, len(ls) - 1, "hotel_id", field(ls, 1, "hotel_id"))
        ),
        "unique",
        "hotel_id",
    ),
    "unparseable_date": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 2, "check_in", "2026-13-45")),
        "date format",
        "check_in",
    ),
    "check_out_before_check_in": (
        with_edit(BOOKINGS, _check_out_before_check_in),
        "check_out on or after check_in",
        "check_out",
    ),
    "calculated_column_disagrees": (
        with_edit(BOOKINGS, _day_distance_off_by_one),
        "equals days from date to check_in",
        "day_distance",
    ),
    "not_utf8": (
        _raw(HOTELS, SAMPLE_FILES[HOTELS].replace(b"\n", b"\n\xff\xfe", 1)),
        "encoding UTF-8",
        None,
    ),
    "utf16_file": (
        _raw(BOOKINGS, SAMPLE_FILES[BOOKINGS].decode().encode("utf-16")),
        "no NUL bytes",
        None,
    ),
    "all_empty_column": (
        with_edit(HOTELS, lambda ls: [ls[0]] + [line.split(",")[0] + "," for line in ls[1:]]),
        "not all missing",
        "country_code",
    ),
    "nul_byte_in_a_key": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 5, "hotel_id", "12\x0034")),
        "no NUL bytes",
        "hotel_id",
    ),
    "duplicate_header_name": (
        with_edit(BOOKINGS, lambda ls: add_column(ls, "day_distance", lambda i, line: "7")),
        "unique column names",
        "day_distance",
    ),
    "join_key_header_twice_with_other_values": (
        with_edit(HOTELS, lambda ls: add_column(ls, "hotel_id", lambda i, line: f"9{i:09d}")),
        "unique column names",
        "hotel_id",
    ),
    "whitespace_only_join_key": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 3, "hotel_id", "   ")),
        "join key present",
        "hotel_id",
    ),
    "empty_join_key": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 3, "hotel_id", "")),
        "join key present",
        "hotel_id",
    ),
    "date_after_the_pandas_range": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 4, "check_in", "2300-01-05")),
        "date in pandas range",
        "check_in",
    ),
    "date_before_the_pandas_range": (
        with_edit(BOOKINGS, lambda ls: set_field(ls, 4, "date", "1600-02-29")),
        "date in pandas range",
        "date",
    ),
}


@pytest.mark.parametrize("case", list(QUARANTINED))
def test_bad_batch_is_quarantined_with_its_rule(case, deployed, s3):
    from handlers import infer

    files, rule, column = QUARANTINED[case]
    batch_id = _batch(case)
    result = infer.handler(upload(s3, deployed.data, batch_id, files), None)

    assert result["counts"] == {"quarantined": 1}
    [outcome] = result["results"]
    doc = assert_quarantined(s3, deployed, batch_id, outcome, rule, column)
    assert f"incoming/{batch_id}/" in doc["reason"]["file"]
    assert rule in doc["reason"]["message"]


def test_out_of_range_date_is_not_called_unparseable(deployed, s3):
    from handlers import infer

    files, rule, column = QUARANTINED["date_after_the_pandas_range"]
    batch_id = _batch("far-future")
    upload(s3, deployed.data, batch_id, files)
    [outcome] = infer.handler({"batch_id": batch_id}, None)["results"]
    reason = assert_quarantined(s3, deployed, batch_id, outcome, rule, column)["reason"]
    assert "'2300-01-05'" in reason["detail"] and "1677-2262" in reason["detail"]
    assert "unparseable" not in reason["detail"]
    assert reason["lines"] == [5]


def test_duplicate_key_across_chunks_is_found(deployed, s3, monkeypatch):
    from handlers import infer

    use_config(monkeypatch, chunk_rows=100)  # the first and the last line are 5 chunks apart
    files = with_edit(
        BOOKINGS, lambda ls: set_field(ls, len(ls) - 1, "hotel_id", field(ls, 1, "hotel_id"))
    )
    batch_id = _batch("dup-across-chunks")
    [outcome] = infer.handler(upload(s3, deployed.data, batch_id, files), None)["results"]

    assert_quarantined(s3, deployed, batch_id, outcome, "unique", "hotel_id")
    assert outcome["reason"]["lines"] == [SAMPLE_ROWS + 1]
    # the multipart upload of the chunks already scored was aborted: nothing half-written
    assert keys(s3, deployed.predictions) == []


_baseline: dict[str, dict] = {}
_baseline_manifest: dict = {}


def _baseline_rows(s3, buckets) -> dict[str, dict]:
    """The sample batch as the champion scores it, by hotel_id (scored once per module)."""
    from handlers import infer

    if not _baseline:
        batch_id = _batch("baseline")
        upload(s3, buckets.data, batch_id)
        assert infer.handler({"batch_id": batch_id}, None)["counts"] == {"published": 1}
        _baseline_manifest.update(
            read_json(s3, buckets.predictions, f"predictions/{batch_id}/_SUCCESS")
        )
        _baseline.update(
            {r["hotel_id"]: r for r in prediction_rows(s3, buckets.predictions, batch_id)}
        )
    return _baseline


def _scores(row: dict) -> tuple:
    return tuple(v for k, v in row.items() if k.startswith(("predicted_", "p_")))


def test_timezone_aware_timestamps_are_converted_to_utc_and_noted(deployed, s3):
    from handlers import infer

    def aware(lines: list[str]) -> list[str]:
        for row, offset in ((1, "+02:00"), (2, "Z"), (3, "-0100")):
            for column in ("check_in", "check_out"):
                hour = {"+02:00": "12", "Z": "10", "-0100": "09"}[offset]
                value = f"{field(lines, row, column)}T{hour}:00:00{offset}"
                lines = set_field(lines, row, column, value)
        return lines

    batch_id = _batch("tz-aware")
    result = infer.handler(upload(s3, deployed.data, batch_id, with_edit(BOOKINGS, aware)), None)

    [outcome] = result["results"]
    assert outcome["status"] == "published", outcome
    manifest = assert_published_once(s3, deployed, batch_id)
    assert any(
        "check_in: 3 timezone-aware value(s) converted to UTC" in n for n in manifest["notes"]
    ), manifest["notes"]
    assert any("check_out: 3 timezone-aware" in n for n in manifest["notes"])
    # the same days in UTC: scored exactly as the naive sample is
    baseline = _baseline_rows(s3, deployed)
    rows = prediction_rows(s3, deployed.predictions, batch_id)
    assert [_scores(r) for r in rows] == [_scores(baseline[r["hotel_id"]]) for r in rows]


def test_extra_columns_are_accepted_and_noted(deployed, s3):
    from handlers import infer

    files = with_edit(BOOKINGS, lambda ls: add_column(ls, "promo_code", lambda i, line: "SUMMER"))
    files = {
        **files,
        HOTELS: edit_csv(files[HOTELS], lambda ls: add_column(ls, "stars", lambda i, line: "4")),
    }
    batch_id = _batch("extra-columns")
    [outcome] = infer.handler(upload(s3, deployed.data, batch_id, files), None)["results"]

    assert outcome["status"] == "published", outcome
    manifest = assert_published_once(s3, deployed, batch_id)
    assert any("extra columns ignored: ['promo_code']" in n for n in manifest["notes"])
    assert any("extra columns ignored: ['stars']" in n for n in manifest["notes"])
    rows = prediction_rows(s3, deployed.predictions, batch_id)
    assert "promo_code" not in rows[0] and "stars" not in rows[0]


FORMULA_IDS = ["=1+2", "+15551234", "-2", "@SUM(A1:A9)", '=HYPERLINK("x")']


def test_formula_like_ids_are_published_verbatim(deployed, s3):
    """Output values are not escaped (ids starting with = + - @ are data, not formulas): the
    ids come back byte for byte, scored as the same rows under their original ids."""
    from handlers import infer

    lines = SAMPLE_FILES[BOOKINGS].decode().splitlines()
    renamed = {field(lines, row, "hotel_id"): new for row, new in enumerate(FORMULA_IDS, start=1)}
    files = {}
    for source, body in SAMPLE_FILES.items():
        text = body.decode()
        for old, new in renamed.items():
            # a quote inside a field is doubled and the field quoted, as CSV writers do
            text = text.replace(
                old, f'"{new.replace(chr(34), chr(34) * 2)}"' if '"' in new else new
            )
        files[source] = text.encode()
    batch_id = _batch("formula-ids")
    [outcome] = infer.handler(upload(s3, deployed.data, batch_id, files), None)["results"]

    assert outcome["status"] == "published", outcome
    manifest = assert_published_once(s3, deployed, batch_id)
    baseline = _baseline_rows(s3, deployed)
    # the renamed ids still join their hotels: coverage as for the sample itself
    assert manifest["join_coverage"] == _baseline_manifest["join_coverage"]
    rows = prediction_rows(s3, deployed.predictions, batch_id)
    assert [r["hotel_id"] for r in rows[: len(FORMULA_IDS)]] == FORMULA_IDS
    body = s3.get_object(Bucket=deployed.predictions, Key=f"predictions/{batch_id}/predictions.csv")
    text = body["Body"].read().decode()
    assert f"\n{batch_id},=1+2," in text and f"\n{batch_id},@SUM(A1:A9)," in text
    back = {new: old for old, new in renamed.items()}
    assert [_scores(r) for r in rows] == [
        _scores(baseline[back.get(r["hotel_id"], r["hotel_id"])]) for r in rows
    ]


INVALID_KEYS = {
    "space_in_the_folder_name": "incoming/2026 01 02/bookings.csv",
    "file_directly_under_incoming": "incoming/bookings.csv",
    "nested_path": "incoming/b-nested/extra/bookings.csv",
    "not_a_csv_file": "incoming/b-notes/notes.txt",
    "folder_starting_with_a_dot": "incoming/.hidden/hotels.csv",
}


@pytest.mark.parametrize("case", list(INVALID_KEYS))
def test_upload_under_an_invalid_key_is_set_aside_with_a_reason(case, deployed, s3):
    import hashlib

    from handlers import infer

    key = INVALID_KEYS[case]
    s3.put_object(Bucket=deployed.data, Key=key, Body=SAMPLE_FILES[BOOKINGS])
    result = infer.handler(s3_event(deployed.data, key), None)

    assert result["counts"] == {"quarantined": 1}
    [outcome] = result["results"]
    assert outcome["status"] == "quarantined" and outcome["key"] == key
    assert outcome["reason"]["rule"] == "incoming/<batch_id>/<source>.csv"
    target = f"quarantine/_invalid-keys/{hashlib.sha256(key.encode()).hexdigest()[:12]}/{key}"
    assert keys(s3, deployed.data, "quarantine/") == sorted([target, f"{target}.reason.json"])
    assert s3.get_object(Bucket=deployed.data, Key=target)["Body"].read() == SAMPLE_FILES[BOOKINGS]
    doc = read_json(s3, deployed.data, f"{target}.reason.json")
    assert doc["files"] == [target] and key in doc["reason"]["message"]
    assert keys(s3, deployed.data, "incoming/") == []
    assert keys(s3, deployed.predictions) == []


def test_rescan_reports_invalid_folders_and_scores_the_valid_batch(deployed, s3):
    from handlers import infer

    valid = _batch("valid")
    upload(s3, deployed.data, valid)
    invalid = [f"incoming/bad batch/{s}.csv" for s in SAMPLE_FILES]
    for key in invalid:
        s3.put_object(Bucket=deployed.data, Key=key, Body=SAMPLE_FILES[BOOKINGS])

    result = infer.handler(SCHEDULED, None)

    assert result["trigger"] == "rescan"
    assert result["counts"] == {"quarantined": 2, "published": 1}
    assert sorted(r["key"] for r in result["results"] if "key" in r) == sorted(invalid)
    assert keys(s3, deployed.data, "incoming/") == [
        f"incoming/{valid}/{s}.csv" for s in sorted(SAMPLE_FILES)
    ]
    assert len(keys(s3, deployed.data, "quarantine/_invalid-keys/")) == 4  # 2 files, 2 reasons
    assert_published_once(s3, deployed, valid)


RESCAN_MISSES = {
    "file_directly_under_incoming": "incoming/hotels.csv",
    "nested_path_in_a_valid_folder": "incoming/b-nested/extra/hotels.csv",
}


@pytest.mark.parametrize("case", list(RESCAN_MISSES))
def test_rescan_sets_aside_an_invalid_key_outside_an_invalid_folder(case, deployed, s3):
    from handlers import infer

    key = RESCAN_MISSES[case]
    s3.put_object(Bucket=deployed.data, Key=key, Body=SAMPLE_FILES[HOTELS])
    result = infer.handler(SCHEDULED, None)

    assert result["counts"] == {"quarantined": 1}
    assert result["results"][0]["key"] == key
    assert keys(s3, deployed.data, "incoming/") == []
    assert len(keys(s3, deployed.data, "quarantine/_invalid-keys/")) == 2


def test_batch_missing_a_source_waits_within_its_deadline(deployed, s3):
    from handlers import infer

    batch_id = _batch("one-source")
    event = upload(s3, deployed.data, batch_id, {BOOKINGS: SAMPLE_FILES[BOOKINGS]})
    first = infer.handler(event, None)["results"]
    again = infer.handler(SCHEDULED, None)["results"]

    for outcome in first + again:
        assert outcome == {"status": "waiting", "batch_id": batch_id, "missing": [HOTELS]}
    assert keys(s3, deployed.data) == [f"incoming/{batch_id}/bookings.csv"]
    assert_nothing_published(s3, deployed, batch_id)


def test_batch_missing_a_source_past_its_deadline_is_quarantined_by_the_rescan(
    deployed, s3, monkeypatch
):
    from handlers import infer

    batch_id = _batch("late-source")
    upload(s3, deployed.data, batch_id, {BOOKINGS: SAMPLE_FILES[BOOKINGS]})
    use_config(monkeypatch, batch_deadline_minutes=0)
    [outcome] = infer.handler(SCHEDULED, None)["results"]

    doc = assert_quarantined(
        s3, deployed, batch_id, outcome, "all sources within the deadline", None, (BOOKINGS,)
    )
    assert f"incoming/{batch_id}/hotels.csv" in doc["reason"]["file"]
    assert "deadline" in doc["reason"]["message"]


def test_training_refuses_an_unknown_target_value_and_keeps_the_champion(own_models, s3):
    from handlers import train

    upload_training(s3, own_models.data)
    body = (SAMPLE / "training" / "bookings" / "bookings.csv").read_bytes()
    bad = edit_csv(body, lambda ls: set_field(ls, 10, "status", "no-show"))
    s3.put_object(Bucket=own_models.data, Key="training/bookings/bookings.csv", Body=bad)

    result = train.handler({}, None)

    assert result["status"] == "rejected", result
    assert result["reason"]["rule"] == "allowed values"
    assert result["reason"]["column"] == "status" and result["reason"]["lines"] == [11]
    assert "'no-show'" in result["reason"]["detail"]
    assert keys(s3, own_models.models, "models/booking_status/v0002") == []
    aliases = read_json(s3, own_models.models, "models/booking_status/aliases.json")
    assert aliases["champion"] == "v0001"
