"""Where the job really reads and writes a URI.

On Dataproc Spark reads ``gs://`` itself (Cloud Storage connector). Under the local Dataproc endpoint the Spark
property ``spark.obt.localGcsMirror=DIR`` is set: ``gs://b/p`` then lives at ``DIR/b/p`` (the endpoint has
downloaded the inputs there) and outputs are uploaded from there afterwards (see ``mirror.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MIRROR_CONF = "spark.obt.localGcsMirror"


@dataclass(frozen=True)
class PathMap:
    mirror_dir: str | None = None

    @property
    def mirrored(self) -> bool:
        return bool(self.mirror_dir)

    def spark_uri(self, uri: str) -> str:
        """The URI Spark and the Hadoop FileSystem API use for ``uri``."""
        if self.mirror_dir and uri.startswith("gs://"):
            # Not Path.as_uri(): it percent-encodes '=' (build_id=B), which Hadoop would take literally.
            return (
                "file://"
                + str(Path(self.mirror_dir, uri[len("gs://") :]).resolve())
                + ("/" if uri.endswith("/") else "")
            )
        return uri

    def local_path(self, uri: str) -> Path:
        """The mirror file behind a ``gs://`` URI (mirror mode only)."""
        if not self.mirror_dir or not uri.startswith("gs://"):
            raise ValueError(f"no local mirror path for {uri!r}")
        return Path(self.mirror_dir, uri[len("gs://") :])
