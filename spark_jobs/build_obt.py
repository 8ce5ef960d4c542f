"""Entry point of the OBT build (Dataproc Serverless batch main file; ``obt_job`` arrives in --py-files).

Arguments: see ``docs/contracts.md`` ("Spark job arguments").
"""

import sys

from obt_job.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
