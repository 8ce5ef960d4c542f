"""``obt upload FILE``: put a vendor file into the raw bucket, as the vendor does; its event then drives the chain."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from google.api_core import exceptions as gexc

from obt import clients
from obt.errors import UserError
from obt_contract.layout import gs_uri
from obt_contract.sources import VENDOR_SOURCES
from obt_tools.cli import iso_date, reach
from obt_tools.demo import vendor_object


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="upload a vendor file (movie_review or log_reviews) into the raw bucket",
        description="Upload FILE as gs://RAW/SOURCE/ingest_date=D/SOURCE.csv[.gz], as the vendor does. On the local "
        "cloud the upload's OBJECT_FINALIZE event reaches on_raw_landed through the Eventarc stand-in, which submits "
        "the build once every input is there (`obt status` shows the batch). A .csv.xz file goes up as .csv.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="movie_review.csv or log_reviews.csv (.gz, .xz)")
    parser.add_argument("--source", choices=VENDOR_SOURCES, help="the vendor source (default: from the file name)")
    parser.add_argument(
        "--ingest-date", type=iso_date, metavar="YYYY-MM-DD", help="the delivery's date (default: today, UTC)"
    )
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source = args.source or args.file.name.split(".")[0]
    if source not in VENDOR_SOURCES:
        raise UserError(f"cannot tell the source of {args.file.name}: pass --source ({' or '.join(VENDOR_SOURCES)})")
    if not args.file.is_file():
        raise UserError(f"{args.file}: no such file")
    reached = reach.reach(args, reach.STORAGE)
    settings = reached.settings
    ingest_date = args.ingest_date or datetime.now(UTC).date()
    name, local = vendor_object(source, args.file, ingest_date, reached.state_dir / "data" / "vendor-plain")
    uri = gs_uri(settings.raw_bucket, name)
    blob = clients.storage(settings).bucket(settings.raw_bucket).blob(name)
    try:
        blob.upload_from_filename(str(local), content_type="application/gzip" if name.endswith(".gz") else "text/csv")
    except gexc.GoogleAPICallError as exc:
        raise UserError(f"uploading {uri} failed: {exc.message}") from exc
    print(f"uploaded {uri}: generation {blob.generation}, {blob.size:,} bytes")
    return 0
