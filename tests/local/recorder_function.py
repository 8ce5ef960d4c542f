"""A CloudEvent function that records every delivery, for the Eventarc stand-in tests.

Served by functions-framework from this file. Each delivery becomes one JSON file in ``RECORD_DIR``. An event
whose subject or message data contains ``fail-once`` fails (HTTP 500) on its first delivery only.
"""

import base64
import json
import os
import pathlib
import time
import uuid

import functions_framework

OUT = pathlib.Path(os.environ["RECORD_DIR"])


@functions_framework.cloud_event
def record(event):
    attributes = dict(event.get_attributes())
    data = event.data
    marker = attributes.get("subject", "")
    if isinstance(data, dict) and "message" in data:
        marker += base64.b64decode(data["message"].get("data", "")).decode(errors="replace")
    first = not (OUT / f"seen-{attributes['id']}").exists()
    (OUT / f"seen-{attributes['id']}").touch()
    # Written aside then renamed, so a reader never sees half a file.
    partial = OUT / f"partial-{uuid.uuid4().hex}"
    partial.write_text(json.dumps({"attributes": attributes, "data": data, "failed": "fail-once" in marker and first}))
    partial.rename(OUT / f"delivery-{time.time_ns()}-{uuid.uuid4().hex}.json")
    if "fail-once" in marker and first:
        raise RuntimeError("failing the first delivery on purpose")
