"""``obt backfill``: publish completion messages for existing builds (see ``obt_tools.backfill``)."""

from __future__ import annotations

import argparse
from datetime import date

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
    which.add_argument(
        "--rebuild",
        type=_rebuild_target,
        metavar="all|YYYY-MM-DD[,…]",
        help="submit the current build again with every vendor date (all) or these dates classified again instead "
        "of read from the classified layer, under a new build id; its load then changes nothing unless a layer "
        "was wrong",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print each message and the commands that publish it (local and production); publish nothing",
    )
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)


ALL = "all"


def _rebuild_target(text: str) -> str | list[date]:
    """``all``, or a comma-separated list of days."""
    return ALL if text == ALL else [iso_date(day) for day in text.split(",")]


def _rebuild(args: argparse.Namespace) -> int:
    reached = reach.reach(args, reach.STORAGE) if args.dry_run else reach.reach(args, reach.STORAGE, reach.DATAPROC)
    services = Services.from_settings(reached.settings)
    plan = backfill.rebuild_plan(reached.settings, services, None if args.rebuild == ALL else args.rebuild)
    what = "every vendor date" if plan.full_rebuild else ", ".join(d.isoformat() for d in plan.reclassify)
    if args.dry_run:
        print(f"{plan.build_id}: would rebuild {what} classified again ({len(plan.vendor_dates)} vendor dates)")
        print(
            "  job arguments: "
            + " ".join(
                plan.job_args(
                    reached.settings.raw_bucket,
                    reached.settings.curated_bucket,
                    reached.settings.topic_path,
                    reached.settings.dq_max_quarantine_share,
                )
            )
        )
        return 0
    submission = backfill.submit_rebuild(services, plan)
    print(f"{submission.outcome} {plan.build_id}: rebuild with {what} classified again")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.rebuild is not None:
        return _rebuild(args)
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
