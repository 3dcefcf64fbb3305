"""The generator: exact file layout, determinism, incidents that do what they claim,
and a signal a model can learn (the platform's promotion gate depends on it)."""

import datetime as dt
import filecmp
import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits

from data import draw, generate, signal
from data.generate import (
    BATCH_COLUMNS,
    BOOKING_COLUMNS,
    HOTEL_COLUMNS,
    label_increment,
    make_batch,
    make_training,
    write_batch,
    write_large_batch,
    write_training,
)

DAY = "2026-01-10"


def coverage(bookings, hotels):
    return bookings["hotel_id"].isin(hotels["hotel_id"]).mean()


def features(bookings, hotels):
    """The example model's inputs: LEFT join, lead, stay, check-in month/weekday, country."""
    joined = bookings.merge(hotels, on="hotel_id", how="left")
    check_in = pd.to_datetime(joined["check_in"])
    return joined, pd.DataFrame(
        {
            "day_distance": joined["day_distance"],
            "length_of_stay": joined["length_of_stay"],
            "month": check_in.dt.month,
            "weekday": check_in.dt.weekday,
            "country_code": pd.Categorical(joined["country_code"], categories=signal.COUNTRY_CODES),
        }
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """HistGradientBoosting's OpenMP threads spin for tens of seconds when the two cores
    are busy with other work; one thread fits these 16k rows in well under a second."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def training():
    return make_training(20_000, seed=11)


@pytest.fixture(scope="module")
def trained(training):
    """Model on the first 80% of training by booking date; the rest is the holdout."""
    joined, x = features(*training)
    order = np.argsort(pd.to_datetime(joined["date"]).to_numpy(), kind="stable")
    fit, holdout = order[:16_000], order[16_000:]
    model = HistGradientBoostingClassifier(categorical_features=["country_code"], random_state=0)
    model.fit(x.iloc[fit], joined["status"].iloc[fit])
    majority = joined["status"].iloc[fit].value_counts().idxmax()
    return model, majority, x.iloc[holdout], joined["status"].iloc[holdout]


def test_written_files_have_the_original_layout_and_parse(tmp_path):
    paths = write_training(tmp_path, 2000, seed=1)
    bookings = pd.read_csv(paths["bookings"], dtype=str, keep_default_na=False)
    hotels = pd.read_csv(paths["hotels"], dtype=str, keep_default_na=False)
    assert list(bookings.columns) == BOOKING_COLUMNS
    assert list(hotels.columns) == HOTEL_COLUMNS
    for ids in (bookings["hotel_id"], hotels["hotel_id"]):
        assert ids.str.fullmatch(r"[1-9]\d{9}").all() and ids.is_unique
    for column in ("day_distance", "length_of_stay"):
        assert bookings[column].str.fullmatch(r"\d+").all()
    for column in ("date", "check_in", "check_out"):
        pd.to_datetime(bookings[column], format="%Y-%m-%d")  # raises if any is not ISO
    assert set(bookings["status"]) == set(signal.CLASSES)
    codes = hotels["country_code"]
    assert codes.str.fullmatch(r"[A-Z]{2}|").all()
    assert 0 < (codes == "").mean() < 0.05
    typed = pd.read_csv(paths["bookings"])  # the default parse gives the types a reader expects
    assert typed["day_distance"].dtype == typed["length_of_stay"].dtype == np.int64
    assert typed["hotel_id"].dtype == np.int64


def test_derived_columns_agree_with_the_dates(training):
    bookings = training[0]
    date, check_in, check_out = (
        pd.to_datetime(bookings[column]) for column in ("date", "check_in", "check_out")
    )
    assert ((check_in - date).dt.days == bookings["day_distance"]).all()
    assert ((check_out - check_in).dt.days == bookings["length_of_stay"]).all()
    assert bookings["day_distance"].min() >= 0 and bookings["length_of_stay"].min() >= 1
    assert date.min() >= pd.Timestamp("2025-01-01") and date.max() <= pd.Timestamp("2025-12-31")


def test_every_class_is_well_represented(training):
    shares = training[0]["status"].value_counts(normalize=True)
    assert set(shares.index) == set(signal.CLASSES) and shares.min() > 0.2


def test_same_seed_same_data_other_seed_or_day_other_data():
    pd.testing.assert_frame_equal(make_training(500, 3)[0], make_training(500, 3)[0])
    assert not make_training(500, 3)[0].equals(make_training(500, 4)[0])
    first, again = make_batch(DAY, 300, 3), make_batch(DAY, 300, 3)
    for name in ("bookings", "hotels", "labels"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    np.testing.assert_array_equal(first.labels_known_on, again.labels_known_on)
    assert not first.bookings.equals(make_batch("2026-01-11", 300, 3).bookings)


def test_batch_holds_recent_bookings_and_their_labels():
    batch = make_batch(DAY, 1000, seed=2)
    assert list(batch.bookings.columns) == BATCH_COLUMNS and batch.day == DAY
    dates = pd.to_datetime(batch.bookings["date"])
    assert dates.min() >= pd.Timestamp(DAY) - pd.Timedelta(days=3)
    assert dates.max() <= pd.Timestamp(DAY) - pd.Timedelta(days=1)
    assert list(batch.labels.columns) == ["hotel_id", "status"]
    assert batch.labels["hotel_id"].equals(batch.bookings["hotel_id"])


def known_days(batch):
    """Each label's known day, and the booking's date, check-in and check-out, as days."""
    days = {
        column: (pd.to_datetime(batch.bookings[column]) - pd.Timestamp("1970-01-01")).dt.days
        for column in ("date", "check_in", "check_out")
    }
    return pd.Series(batch.labels_known_on), days


@pytest.mark.parametrize("incident", [None, "concept_drift", "covariate_shift"])
def test_each_status_becomes_known_on_its_day(incident):
    batch = make_batch(DAY, 3000, seed=9, incident=incident)
    known, days = known_days(batch)
    status = batch.labels["status"]
    cancelled = status == "cancelled"
    assert (known[status == "booked"] == days["check_in"][status == "booked"]).all()
    assert (known[status == "fulfilled"] == days["check_out"][status == "fulfilled"]).all()
    assert (known[cancelled] >= days["date"][cancelled]).all()
    assert (known[cancelled] <= days["check_in"][cancelled]).all()
    # Uniform over the window: not bunched on the booking day, centred half-way to check-in.
    lead = days["check_in"] - days["date"]
    far = cancelled & (lead > 30)
    assert (known[far] == days["date"][far]).mean() < 0.1
    assert 0.35 < ((known[far] - days["date"][far]) / lead[far]).mean() < 0.65


def test_concept_drift_keeps_the_clean_cancellation_days():
    clean, drifted = make_batch(DAY, 3000, 6), make_batch(DAY, 3000, 6, "concept_drift")
    both = (clean.labels["status"] == "cancelled").to_numpy()
    assert both.any()
    assert (clean.labels_known_on[both] == drifted.labels_known_on[both]).all()


def test_daily_increments_partition_the_complete_labels():
    batch = make_batch(DAY, 2000, seed=7)
    first_booking = pd.Timestamp(DAY) - pd.Timedelta(days=3)
    last_known = pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(batch.labels_known_on.max()))
    days = [d.date().isoformat() for d in pd.date_range(first_booking, last_known)]
    increments = [label_increment(batch, days[0])] + [
        label_increment(batch, through, after) for after, through in itertools.pairwise(days)
    ]
    assert all(list(i.columns) == ["hotel_id", "status"] for i in increments)
    union = pd.concat(increments, ignore_index=True)
    assert len(union) == len(batch.labels) and union["hotel_id"].is_unique
    by_id = union.set_index("hotel_id").loc[batch.labels["hotel_id"]].reset_index()
    pd.testing.assert_frame_equal(by_id, batch.labels)

    early = label_increment(batch, dt.date.fromisoformat(DAY))
    pd.testing.assert_frame_equal(early, label_increment(batch, DAY))
    assert 0 < len(early) < 0.1 * len(batch.labels)
    assert (early["status"] == "cancelled").mean() > 0.5  # cancellations are known first
    assert len(early) + len(label_increment(batch, days[-1], DAY)) == len(batch.labels)


def test_hotels_cover_most_but_not_all_bookings(training):
    batch = make_batch(DAY, 5000, seed=2)
    for bookings, hotels in (training, (batch.bookings, batch.hotels)):
        assert 0.95 < coverage(bookings, hotels) < 0.99
        assert hotels["hotel_id"].is_unique
        assert (~hotels["hotel_id"].isin(bookings["hotel_id"])).any()  # hotels without bookings


def test_source_outage_collapses_join_coverage_only():
    clean, outage = make_batch(DAY, 5000, 4), make_batch(DAY, 5000, 4, "source_outage")
    assert 0.03 < coverage(outage.bookings, outage.hotels) < 0.12
    pd.testing.assert_frame_equal(outage.bookings, clean.bookings)
    pd.testing.assert_frame_equal(outage.labels, clean.labels)


def expected_class_shares(batch, cancel_shift=0.0):
    """Mean class probabilities under the labelling function, over the rows whose
    country the hotels file states (the file only omits or blanks countries)."""
    joined = batch.bookings.merge(batch.hotels, on="hotel_id", how="left")
    known = joined[joined["country_code"].notna()]
    lead, stay = known["day_distance"].to_numpy(), known["length_of_stay"].to_numpy()
    country = pd.Categorical(known["country_code"], categories=signal.COUNTRY_CODES).codes
    cancel = signal.cancel_probability(
        lead, stay, country, pd.to_datetime(known["check_in"]).dt.month.to_numpy(), cancel_shift
    )
    booked = (1 - cancel) * signal.booked_probability(lead, stay)
    expected = pd.Series(
        {
            "cancelled": cancel.mean(),
            "booked": booked.mean(),
            "fulfilled": (1 - cancel - booked).mean(),
        }
    )
    realised = batch.labels.loc[known.index, "status"].value_counts(normalize=True)
    return expected, realised.reindex(expected.index)


def test_covariate_shift_floods_last_minute_bookings_under_the_same_labels():
    clean, shifted = make_batch(DAY, 5000, 5), make_batch(DAY, 5000, 5, "covariate_shift")
    assert (clean.bookings["day_distance"] <= 7).mean() < 0.2
    assert (shifted.bookings["day_distance"] <= 7).mean() > 0.8
    expected, realised = expected_class_shares(shifted)
    assert (expected - realised).abs().max() < 0.03, (expected, realised)


def test_concept_drift_keeps_inputs_and_raises_cancellations(trained):
    clean, drifted = make_batch(DAY, 5000, 6), make_batch(DAY, 5000, 6, "concept_drift")
    pd.testing.assert_frame_equal(drifted.bookings, clean.bookings)
    pd.testing.assert_frame_equal(drifted.hotels, clean.hotels)
    clean_rate = (clean.labels["status"] == "cancelled").mean()
    drifted_rate = (drifted.labels["status"] == "cancelled").mean()
    assert clean_rate < 0.4 and drifted_rate > 0.5
    expected, realised = expected_class_shares(drifted, signal.DRIFT_CANCEL_SHIFT)
    assert (expected - realised).abs().max() < 0.03, (expected, realised)
    assert (drifted.labels["status"][clean.labels["status"] == "cancelled"] == "cancelled").all()
    model = trained[0]
    accuracy = {
        name: accuracy_score(
            batch.labels["status"], model.predict(features(batch.bookings, batch.hotels)[1])
        )
        for name, batch in (("clean", clean), ("drifted", drifted))
    }
    assert accuracy["clean"] - accuracy["drifted"] >= 0.15, accuracy


def test_a_given_outage_share_lists_a_subset_of_the_clean_hotels():
    clean, outage = make_batch(DAY, 5000, 4), make_batch(DAY, 5000, 4, "source_outage", 0.2)
    assert 0.18 < coverage(outage.bookings, outage.hotels) < 0.22
    assert outage.hotels["hotel_id"].isin(clean.hotels["hotel_id"]).all()
    pd.testing.assert_frame_equal(outage.bookings, clean.bookings)
    pd.testing.assert_frame_equal(outage.labels, clean.labels)


def test_market_outage_removes_one_country_from_the_clean_hotels_file():
    clean, outage = make_batch(DAY, 5000, 4), make_batch(DAY, 5000, 4, "market_outage", "IN")
    kept = clean.hotels[clean.hotels["country_code"] != "IN"].reset_index(drop=True)
    pd.testing.assert_frame_equal(outage.hotels, kept)
    assert len(kept) < len(clean.hotels)
    pd.testing.assert_frame_equal(outage.bookings, clean.bookings)
    pd.testing.assert_frame_equal(outage.labels, clean.labels)
    default = make_batch(DAY, 500, 4, "market_outage").hotels["country_code"]
    assert draw.MARKET_OUTAGE_COUNTRY not in set(default)


def test_benign_shift_is_the_campaign_with_its_share_of_last_minute_bookings():
    campaign, benign = (
        make_batch(DAY, 2000, 5, "covariate_shift"),
        make_batch(DAY, 2000, 5, "benign_shift", draw.CAMPAIGN_SHARE),
    )
    for name in ("bookings", "hotels", "labels"):
        pd.testing.assert_frame_equal(getattr(campaign, name), getattr(benign, name))
    smaller = make_batch(DAY, 5000, 5, "benign_shift", 0.4)
    assert 0.4 < (smaller.bookings["day_distance"] <= 7).mean() < 0.55
    expected, realised = expected_class_shares(smaller)
    assert (expected - realised).abs().max() < 0.03, (expected, realised)


def test_harmful_shift_corrupts_the_lead_time_and_costs_accuracy(trained):
    clean, corrupt = make_batch(DAY, 5000, 6), make_batch(DAY, 5000, 6, "harmful_shift", 0.6)
    lead = np.rint(clean.bookings["day_distance"].to_numpy() * 0.6).astype(np.int64)
    np.testing.assert_array_equal(corrupt.bookings["day_distance"].to_numpy(), lead)
    shown = {c: pd.to_datetime(corrupt.bookings[c]) for c in ("date", "check_in", "check_out")}
    assert ((shown["check_in"] - shown["date"]).dt.days == lead).all()
    assert (
        (shown["check_out"] - shown["check_in"]).dt.days == clean.bookings["length_of_stay"]
    ).all()
    for column in ("hotel_id", "date", "length_of_stay"):
        assert corrupt.bookings[column].equals(clean.bookings[column])
    pd.testing.assert_frame_equal(corrupt.labels, clean.labels)  # the world did not change
    np.testing.assert_array_equal(corrupt.labels_known_on, clean.labels_known_on)
    model = trained[0]
    accuracy = [
        accuracy_score(b.labels["status"], model.predict(features(b.bookings, b.hotels)[1]))
        for b in (clean, corrupt)
    ]
    assert accuracy[0] - accuracy[1] >= 0.03, accuracy


def test_concept_drift_magnitude_is_the_cancellation_log_odds_shift():
    default = make_batch(DAY, 3000, 6, "concept_drift")
    same = make_batch(DAY, 3000, 6, "concept_drift", signal.DRIFT_CANCEL_SHIFT)
    pd.testing.assert_frame_equal(default.labels, same.labels)
    rates = [
        (make_batch(DAY, 3000, 6, "concept_drift", shift).labels["status"] == "cancelled").mean()
        for shift in (0.5, 1.0, 3.0)
    ]
    assert rates == sorted(rates) and rates[-1] - rates[0] > 0.3


@pytest.mark.parametrize(
    ("incident", "magnitude", "message"),
    [
        ("market_outage", "XX", "missing country"),
        ("source_outage", 1.5, "share of hotels listed"),
        ("benign_shift", -0.1, "share of last-minute"),
        ("harmful_shift", 1, "lead-time factor"),
        ("concept_drift", "big", "must be a number"),
        ("source_outage", True, "must be a number"),
        ("schema_break", 0.5, "takes no magnitude"),
        (None, 0.5, "takes no magnitude"),
    ],
)
def test_a_wrong_magnitude_is_refused_with_what_it_means(incident, magnitude, message):
    with pytest.raises(ValueError, match=message):
        make_batch(DAY, 10, 1, incident, magnitude)


def test_schema_break_renames_a_required_column():
    clean, broken = make_batch(DAY, 200, 7), make_batch(DAY, 200, 7, "schema_break")
    assert "check_in" not in broken.bookings.columns
    renamed = [c.replace("check_in", "checkin_date") for c in BATCH_COLUMNS]
    assert list(broken.bookings.columns) == renamed
    assert broken.bookings["checkin_date"].equals(clean.bookings["check_in"])


def test_unknown_incident_is_refused():
    with pytest.raises(ValueError, match="unknown incident"):
        make_batch(DAY, 10, 1, "meteor")


def test_a_model_beats_the_class_prior_on_a_later_holdout(trained):
    model, majority, x, y = trained
    predicted = model.predict(x)
    prior = (y == majority).mean()
    assert accuracy_score(y, predicted) - prior >= 0.15
    prior_f1 = f1_score(y, np.full(len(y), majority), average="macro")
    assert f1_score(y, predicted, average="macro") >= prior_f1 + 0.3


def test_large_batch_streams_the_same_rows_as_a_batch(tmp_path):
    small = write_batch(make_batch(DAY, 3000, 8), tmp_path / "frame")
    large = write_large_batch(
        tmp_path / "stream", 3000, 8, chunk_rows=5000, day=DAY, with_labels=True
    )
    for name in ("bookings", "hotels", "labels"):
        assert filecmp.cmp(small[name], large[name], shallow=False), name
    chunked = write_large_batch(tmp_path / "stream", 3000, 8, chunk_rows=700, day=DAY)
    assert not (tmp_path / "stream" / "labels.csv").exists()  # stale labels would mislead
    bookings, hotels = pd.read_csv(chunked["bookings"]), pd.read_csv(chunked["hotels"])
    assert len(bookings) == 3000 and bookings["hotel_id"].is_unique and hotels["hotel_id"].is_unique
    assert 0.95 < coverage(bookings, hotels) < 0.99
    check_in = pd.to_datetime(bookings["check_in"])
    assert ((check_in - pd.to_datetime(bookings["date"])).dt.days == bookings["day_distance"]).all()


def test_committed_sample_is_small_and_regenerates_identically(tmp_path):
    written = generate.write_sample(tmp_path)
    committed = [generate.SAMPLE_DIR / path.relative_to(tmp_path) for path in written]
    assert all(filecmp.cmp(a, b, shallow=False) for a, b in zip(written, committed, strict=True))
    assert sum(path.stat().st_size for path in committed) < 1_000_000


def test_cli_writes_a_batch_with_an_incident(tmp_path, capsys):
    generate.main(
        [
            "batch",
            "--out",
            str(tmp_path),
            "--day",
            DAY,
            "--rows",
            "50",
            "--seed",
            "1",
            "--incident",
            "schema_break",
        ]
    )
    assert "checkin_date" in pd.read_csv(tmp_path / "bookings.csv").columns
    assert len(capsys.readouterr().out.splitlines()) == 3
    args = ["batch", "--out", str(tmp_path), "--day", DAY, "--rows", "500", "--seed", "1"]
    generate.main([*args, "--incident", "market_outage", "--magnitude", "US"])
    assert "US" not in set(pd.read_csv(tmp_path / "hotels.csv")["country_code"])
    generate.main([*args, "--incident", "source_outage", "--magnitude", "0.5"])
    hotels = pd.read_csv(tmp_path / "hotels.csv", dtype=str)
    assert 0.4 < coverage(pd.read_csv(tmp_path / "bookings.csv", dtype=str), hotels) < 0.6
