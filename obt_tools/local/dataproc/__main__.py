"""``python -m obt_tools.local.dataproc --host 127.0.0.1 --port P --state-dir D``: serve until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from obt.log import get_logger
from obt_tools.local.dataproc.server import DataprocServer
from obt_tools.local.dataproc.service import DataprocService

log = get_logger("obt_tools.local.dataproc")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m obt_tools.local.dataproc", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port (logged)")
    parser.add_argument("--state-dir", type=Path, required=True, help="state goes under STATE_DIR/dataproc")
    parser.add_argument("--max-concurrent", type=int, default=1, help="batches running at once (default 1)")
    parser.add_argument("--master", default="local[*]", help="spark-submit --master (default local[*])")
    parser.add_argument("--driver-memory", default="1g", help="spark-submit --driver-memory (default 1g)")
    args = parser.parse_args(argv)
    if args.max_concurrent < 1:
        parser.error("--max-concurrent must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        service = DataprocService(
            args.state_dir,
            max_concurrent=args.max_concurrent,
            master=args.master,
            driver_memory=args.driver_memory,
        )
    except OSError as exc:
        print(f"local dataproc: error: cannot use state folder {args.state_dir}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        server = DataprocServer(args.host, args.port, service)
    except OSError as exc:
        print(f"local dataproc: error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2

    def stop(signum: int, _frame: object) -> None:
        log.info("stopping local dataproc endpoint", signal=signal.Signals(signum).name)
        # shutdown() waits for serve_forever to return, so it must not run on the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve()
    server.server_close()
    service.stop()
    log.info("local dataproc endpoint stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
