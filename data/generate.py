"""Synthetic bookings with real signal, in the original assignment's exact file layout.

The original files carry random labels, so no model can learn from them; this world has
a labelling function (`data.signal`) a model can learn, and incidents that break it in
the ways production breaks: an upstream outage, a shift in inputs, a shift in behaviour,
a renamed column. Everything is a pure function of the seed (and the day for batches).

Each booking has its own hotel_id (1:1 with the hotels source, as in the original data);
the hotels file lists about 97% of a batch's hotels plus a few hotels without a booking,
so a LEFT join from bookings has coverage just under 1 on a clean day. How rows are
drawn, what each incident changes and when each status becomes known, is in `data.draw`.

A batch's labels arrive complete (`Batch.labels`, days after the batch) or as daily
increments of the rows whose status became known (`label_increment`).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from data import csvbytes, draw, signal
from data.draw import INCIDENTS, MAX_LEAD, MAX_STAY, Chunk, draw_chunk, id_base

BOOKING_COLUMNS = [
    "hotel_id",
    "day_distance",
    "length_of_stay",
    "status",
    "date",
    "check_in",
    "check_out",
]
BATCH_COLUMNS = [c for c in BOOKING_COLUMNS if c != "status"]
HOTEL_COLUMNS = ["hotel_id", "country_code"]
LABEL_COLUMNS = ["hotel_id", "status"]

RENAMED_COLUMN = ("check_in", "checkin_date")  # the schema_break incident
BATCH_WINDOW_DAYS = 3  # a batch made on day D holds bookings made on D-3 .. D-1
_TRAINING, _BATCH = 0, 1  # seed-sequence namespaces: training never reuses a batch's draws


@dataclass(frozen=True)
class Batch:
    """One day's delivery: inference inputs, and the labels that arrive days later.

    `labels_known_on` holds, aligned with `labels`, the day (days since 1970-01-01) each
    status became known; None for a batch whose labels were made some other way.
    """

    day: str
    bookings: pd.DataFrame
    hotels: pd.DataFrame
    labels: pd.DataFrame
    incident: str | None = None
    labels_known_on: np.ndarray | None = None


def _day_number(day) -> int:
    return int((pd.Timestamp(day).normalize() - pd.Timestamp("1970-01-01")).days)


def _iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]")).astype(object)


def _bookings_frame(chunk: Chunk, with_status: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "hotel_id": chunk.ids.astype(str).astype(object),
            "day_distance": chunk.day_distance,
            "length_of_stay": chunk.length_of_stay,
            "status": np.array(signal.CLASSES, dtype=object)[chunk.status],
            "date": _iso(chunk.date),
            "check_in": _iso(chunk.check_in),
            "check_out": _iso(chunk.check_out),
        }
    )
    return frame[BOOKING_COLUMNS if with_status else BATCH_COLUMNS]


def _hotels_frame(chunk: Chunk) -> pd.DataFrame:
    codes = np.append(signal.COUNTRY_CODES.astype(object), None)  # index -1 -> None
    return pd.DataFrame(
        {
            "hotel_id": chunk.hotel_ids.astype(str).astype(object),
            "country_code": codes[chunk.hotel_country],
        }
    )


def _batch_keys(seed: int, day: int) -> tuple[list[int], int]:
    keys = [seed, _BATCH, day]
    return keys, id_base(keys)


def make_training(
    n_rows: int, seed: int, start="2025-01-01", end="2025-12-31"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training sources: bookings (with status) made between start and end, and hotels."""
    keys = [seed, _TRAINING]
    chunk = draw_chunk(keys, id_base(keys), 0, n_rows, n_rows, _day_number(start), _day_number(end))
    return _bookings_frame(chunk, with_status=True), _hotels_frame(chunk)


def make_batch(
    day, n_rows: int, seed: int, incident: str | None = None, magnitude: draw.Magnitude = None
) -> Batch:
    """The batch delivered on `day`: bookings made in the BATCH_WINDOW_DAYS before it.
    `magnitude`: how large the incident is (`data.draw.check_magnitude`; None: its default)."""
    magnitude = draw.check_magnitude(incident, magnitude)
    number = _day_number(day)
    keys, base = _batch_keys(seed, number)
    first, last = number - BATCH_WINDOW_DAYS, number - 1
    chunk = draw_chunk(keys + [0], base, 0, n_rows, n_rows, first, last, incident, magnitude)
    bookings = _bookings_frame(chunk, with_status=False)
    if incident == "schema_break":
        bookings = bookings.rename(columns=dict([RENAMED_COLUMN]))
    labels = pd.DataFrame(
        {
            "hotel_id": bookings["hotel_id"],
            "status": np.array(signal.CLASSES, dtype=object)[chunk.status],
        }
    )
    return Batch(
        pd.Timestamp(day).date().isoformat(),
        bookings,
        _hotels_frame(chunk),
        labels,
        incident,
        chunk.status_known_on,
    )


def label_increment(batch: Batch, through_day, after_day=None) -> pd.DataFrame:
    """The labels (hotel_id, status) whose status became known after `after_day` and on
    or before `through_day`; every label known by `through_day` without `after_day`.

    Days are anything pd.Timestamp reads: an ISO date string or a datetime.date.
    """
    if batch.labels_known_on is None:
        raise ValueError(f"batch {batch.day} does not say when its labels became known")
    known_on = batch.labels_known_on
    new = known_on <= _day_number(through_day)
    if after_day is not None:
        new &= known_on > _day_number(after_day)
    return batch.labels[new].reset_index(drop=True)


def write_batch(batch: Batch, folder) -> dict[str, Path]:
    """Write bookings.csv, hotels.csv and labels.csv into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"bookings": batch.bookings, "hotels": batch.hotels, "labels": batch.labels}
    paths = {name: folder / f"{name}.csv" for name in frames}
    for name, frame in frames.items():
        frame.to_csv(paths[name], index=False)
    return paths


def write_training(folder, n_rows: int, seed: int) -> dict[str, Path]:
    """Write <folder>/bookings/bookings.csv and <folder>/hotels/hotels.csv (S3 layout)."""
    bookings, hotels = make_training(n_rows, seed)
    paths = {
        "bookings": Path(folder) / "bookings" / "bookings.csv",
        "hotels": Path(folder) / "hotels" / "hotels.csv",
    }
    for name, frame in (("bookings", bookings), ("hotels", hotels)):
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(paths[name], index=False)
    return paths


def write_large_batch(
    folder,
    n_rows: int,
    seed: int,
    chunk_rows: int = 1_000_000,
    day="2026-01-02",
    with_labels: bool = False,
) -> dict[str, Path]:
    """Stream a clean batch of n_rows (e.g. 10M) to bookings.csv and hotels.csv.

    Memory is bounded by chunk_rows: each chunk is drawn and encoded (data.csvbytes)
    and appended. With chunk_rows >= n_rows the files are byte-identical to
    write_batch(make_batch(day, n_rows, seed)); the content depends on chunk_rows.
    Without labels, a labels.csv left by an earlier run is removed: it would not match.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not with_labels:
        (folder / "labels.csv").unlink(missing_ok=True)
    number = _day_number(day)
    keys, base = _batch_keys(seed, number)
    first_day = number - BATCH_WINDOW_DAYS
    dates = csvbytes.text_table(list(_iso(np.arange(first_day, number + MAX_LEAD + MAX_STAY))))
    countries = csvbytes.text_table(list(signal.COUNTRY_CODES) + [""])
    statuses = csvbytes.text_table(signal.CLASSES)
    names = ["bookings", "hotels"] + (["labels"] if with_labels else [])
    headers = {"bookings": BATCH_COLUMNS, "hotels": HOTEL_COLUMNS, "labels": LABEL_COLUMNS}
    paths = {name: folder / f"{name}.csv" for name in names}
    files = {name: paths[name].open("wb") for name in names}
    try:
        for name in names:
            files[name].write((",".join(headers[name]) + "\n").encode())
        for index, start in enumerate(range(0, n_rows, chunk_rows)):
            rows = min(chunk_rows, n_rows - start)
            chunk = draw_chunk(
                keys + [index], base, start, n_rows + start, rows, first_day, number - 1
            )
            ids = csvbytes.digits(chunk.ids, 10)
            files["bookings"].write(
                csvbytes.encode_rows(
                    [
                        ids,
                        csvbytes.digits(chunk.day_distance, 3),
                        csvbytes.digits(chunk.length_of_stay, 2),
                        dates[chunk.date - first_day],
                        dates[chunk.check_in - first_day],
                        dates[chunk.check_out - first_day],
                    ]
                )
            )
            files["hotels"].write(
                csvbytes.encode_rows(
                    [csvbytes.digits(chunk.hotel_ids, 10), countries[chunk.hotel_country]]
                )
            )
            if with_labels:
                files["labels"].write(csvbytes.encode_rows([ids, statuses[chunk.status]]))
    finally:
        for handle in files.values():
            handle.close()
    return paths


SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_SEED, SAMPLE_TRAINING_ROWS, SAMPLE_BATCH_ROWS, SAMPLE_DAY = 7, 5000, 500, "2026-01-02"


def write_sample(folder=SAMPLE_DIR) -> list[Path]:
    """The committed sample, laid out like the S3 data bucket."""
    folder = Path(folder)
    written = list(write_training(folder / "training", SAMPLE_TRAINING_ROWS, SAMPLE_SEED).values())
    batch = make_batch(SAMPLE_DAY, SAMPLE_BATCH_ROWS, SAMPLE_SEED)
    targets = {
        "bookings": folder / "incoming" / SAMPLE_DAY / "bookings.csv",
        "hotels": folder / "incoming" / SAMPLE_DAY / "hotels.csv",
        "labels": folder / "labels" / f"{SAMPLE_DAY}.csv",
    }
    for name, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        getattr(batch, name).to_csv(path, index=False)
    return written + list(targets.values())


def _magnitude(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m data.generate", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    training = commands.add_parser("training", help="training/<source>/ files")
    batch = commands.add_parser("batch", help="one day's bookings, hotels and labels")
    commands.add_parser("sample", help=f"regenerate {SAMPLE_DIR}")
    for sub in (training, batch):
        sub.add_argument("--out", required=True, type=Path)
        sub.add_argument("--rows", required=True, type=int)
        sub.add_argument("--seed", required=True, type=int)
    batch.add_argument("--day", required=True)
    batch.add_argument("--incident", choices=INCIDENTS)
    batch.add_argument(
        "--magnitude", type=_magnitude, help="the incident's size: a number or a country code"
    )
    args = parser.parse_args(argv)
    if args.command == "training":
        written = list(write_training(args.out, args.rows, args.seed).values())
    elif args.command == "batch":
        written = list(
            write_batch(
                make_batch(args.day, args.rows, args.seed, args.incident, args.magnitude),
                args.out,
            ).values()
        )
    else:
        written = write_sample()
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
