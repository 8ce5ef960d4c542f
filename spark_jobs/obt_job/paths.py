"""Where the job really reads and writes a URI.

On Dataproc Spark reads ``gs://`` itself (Cloud Storage connector): a pinned input ``gs://b/p#G`` is read as
``gs://b/p``, the live object, since a Hadoop path carries no generation (``inputs`` checks the live one is G).
Under the local Dataproc endpoint the Spark property ``spark.obt.localGcsMirror=DIR`` is set: a URI then lives at
``DIR/<obt_contract.layout.mirror_name(uri)>`` (the endpoint has downloaded each pinned input's generation there)
and outputs are uploaded from there afterwards (see ``mirror.py``).
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from obt_contract.layout import mirror_name, unpin

MIRROR_CONF = "spark.obt.localGcsMirror"


@dataclass(frozen=True)
class PathMap:
    mirror_dir: str | None = None

    @property
    def mirrored(self) -> bool:
        return bool(self.mirror_dir)

    def spark_uri(self, uri: str) -> str:
        """The URI Spark and the Hadoop FileSystem API use for ``uri``."""
        if not uri.startswith("gs://"):
            return uri
        if self.mirror_dir:
            # Not Path.as_uri(): it percent-encodes '=' (build_id=B), which Hadoop would take literally.
            return "file://" + str(self.local_path(uri).resolve()) + ("/" if uri.endswith("/") else "")
        return unpin(uri)[0]

    def local_path(self, uri: str) -> Path:
        """The file behind a ``file://`` URI, or behind a ``gs://`` URI in mirror mode (its mirror file)."""
        if uri.startswith("file://"):
            return Path(urllib.request.url2pathname(urllib.parse.urlparse(uri).path))
        if not self.mirror_dir or not uri.startswith("gs://"):
            raise ValueError(f"no local path for {uri!r}")
        return Path(self.mirror_dir, mirror_name(uri))
