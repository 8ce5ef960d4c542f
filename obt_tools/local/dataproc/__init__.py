"""A local stand-in for Dataproc Serverless batches: the v1 REST API over a spark-submit queue.

Run it with ``python -m obt_tools.local.dataproc --host 127.0.0.1 --port P --state-dir D``; point the official
client at it with ``obt.clients.batch_client(region, "http://127.0.0.1:P")``.

Modules: ``store`` (batch records on disk), ``service`` (the API's use cases and the batch queue), ``runner``
(spark-submit), ``handler`` (HTTP), ``server`` (wires them into one server).
"""

from obt_tools.local.dataproc.server import DataprocServer
from obt_tools.local.dataproc.service import DataprocService

__all__ = ["DataprocServer", "DataprocService"]
