"""The local Dataproc endpoint's composition root: a ``DataprocService`` behind a threading HTTP server.

The parts: ``store`` keeps the batch records under the state folder, ``service`` holds the use cases and the
spark-submit queue (``runner`` turns a batch into a run), ``handler`` maps the REST API onto the service. This module
only binds the handler to a socket and ties the service's workers to serving; ``__main__`` and the tests build one.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer

from obt.log import get_logger
from obt_tools.local.dataproc.handler import make_handler
from obt_tools.local.dataproc.service import DataprocService

log = get_logger(__name__)


class DataprocServer(ThreadingHTTPServer):
    # A client's keep-alive connection parks its request thread; daemon threads let server_close() not wait on it.
    daemon_threads = True

    def __init__(self, host: str, port: int, service: DataprocService) -> None:
        super().__init__((host, port), make_handler(service))
        self.service = service

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self) -> None:
        self.service.start()
        log.info("local dataproc endpoint listening", url=self.url, state_dir=str(self.service.store.root))
        self.serve_forever()

    def close(self) -> None:
        """Stop serving (from another thread than ``serve``), then stop the drivers."""
        self.shutdown()
        self.server_close()
        self.service.stop()
