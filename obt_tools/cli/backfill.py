"""``obt backfill``: publish completion messages for existing builds (see ``obt_tools.backfill``)."""

from __future__ import annotations

import argparse

from obt.services import Services
from obt_tools import backfill
from obt_tools.cli import iso_date, reach


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="publish a build's completion message again (load or reload it)",
        description="Publish the completion message of existing builds to the build topic (the local cloud's Pub/Sub "
        "emulator when OBT_ENV=local, the default), exactly like `gcloud pubsub topics publish`. The loader skips "
        "builds already loaded or older than the last loaded one, and says so in the load ledger.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--build-id", help="a build id (obt-…); its manifest is read from the curated bucket")
    which.add_argument("--manifest", help="a manifest URI gs://CURATED/obt/build_id=B/_MANIFEST.json")
    which.add_argument(
        "--all-since",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="every build created on or after this day, oldest first",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print each message and the commands that publish it (local and production); publish nothing",
    )
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # A dry run reads the manifests only; publishing needs Pub/Sub too.
    needs = (reach.STORAGE,) if args.dry_run else (reach.STORAGE, reach.PUBSUB)
    reached = reach.reach(args, *needs)
    settings = reached.settings
    services = Services.from_settings(settings)
    if args.build_id:
        announcements = [backfill.for_build(settings, services, args.build_id)]
    elif args.manifest:
        announcements = [backfill.for_manifest(settings, services, args.manifest)]
    else:
        announcements = backfill.since(settings, services, args.all_since)
        if not announcements:
            print(f"no builds created on or after {args.all_since.isoformat()} in gs://{settings.curated_bucket}")
    for item in announcements:
        if args.dry_run:
            print(f"{item.build_id} ({item.status}): would publish {item.data.decode()}")
            for label, command in backfill.equivalent_commands(settings, item, reached.state_dir):
                print(f"  {label + ':':<11} {command}")
            continue
        message_id = backfill.publish(settings, services, item)
        print(f"published {item.build_id} ({item.status}) to {settings.topic_path}: message {message_id}")
    return 0
