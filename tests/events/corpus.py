"""Golden CloudEvents (``tests/events/corpus/``) and consistent variants of them, for any test to import.

``load(name)`` returns a ``CorpusEvent`` (headers + body bytes) ready to POST to a functions-framework
test client; ``storage_finalized(...)`` and ``pubsub_published(...)`` derive events for other objects or
messages from the golden files, keeping every field that repeats a value (id, subject, selfLink, …)
consistent, in ``binary`` (what Eventarc sends) or ``structured`` mode.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

CORPUS_DIR = Path(__file__).parent / "corpus"
STORAGE_FINALIZED = "storage_finalized"
PUBSUB_PUBLISHED = "pubsub_message_published"
MODES = ("binary", "structured")

_ids = itertools.count(1)


@dataclass(frozen=True)
class CorpusEvent:
    headers: dict[str, str]
    body: bytes
    mode: str
    attributes: dict[str, Any] = field(default_factory=dict)
    data: Any = None

    def post(self, client, path: str = "/"):
        """Deliver through a Flask/functions-framework test client (or anything with ``post``)."""
        return client.post(path, headers=self.headers, data=self.body)


def names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in CORPUS_DIR.glob("*.json"))


def _raw(kind: str, mode: str) -> dict[str, Any]:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return json.loads((CORPUS_DIR / f"{kind}.{mode}.json").read_text())


def _split(raw: dict[str, Any], mode: str) -> tuple[dict[str, Any], Any, dict[str, str]]:
    """(CloudEvent attributes, data, non-ce headers) of a raw corpus entry."""
    headers = dict(raw["headers"])
    if mode == "binary":
        attributes = {k[3:]: headers.pop(k) for k in list(headers) if k.lower().startswith("ce-")}
        return attributes, raw["body"], headers
    body = dict(raw["body"])
    data = body.pop("data")
    body.pop("datacontenttype", None)
    return body, data, headers


def _build(attributes: dict[str, Any], data: Any, headers: dict[str, str], mode: str) -> CorpusEvent:
    if mode == "binary":
        all_headers = {**headers, **{f"ce-{k}": str(v) for k, v in attributes.items()}}
        body = json.dumps(data).encode("utf-8")
    else:
        all_headers = dict(headers)
        body = json.dumps({**attributes, "datacontenttype": "application/json", "data": data}).encode("utf-8")
    return CorpusEvent(all_headers, body, mode, dict(attributes), data)


def load(name: str) -> CorpusEvent:
    """A golden event by file name, e.g. ``storage_finalized.binary``."""
    kind, _, mode = name.rpartition(".")
    raw = _raw(kind, mode)
    attributes, data, headers = _split(raw, mode)
    return _build(attributes, data, headers, mode)


def storage_finalized(
    name: str,
    *,
    bucket: str = "obt-raw",
    generation: int | str = 1763892034568381,
    size: int | str = 5284531,
    mode: str = "binary",
    event_id: str | None = None,
    content_type: str = "text/csv",
    data_overrides: dict[str, Any] | None = None,
    attribute_overrides: dict[str, Any] | None = None,
) -> CorpusEvent:
    """The golden finalize event, re-aimed at ``gs://bucket/name`` (``None`` in an override drops a field)."""
    attributes, data, headers = _split(_raw(STORAGE_FINALIZED, mode), mode)
    data = copy.deepcopy(data)
    encoded = quote(name, safe="")
    generation = str(generation)
    data.update(
        id=f"{bucket}/{name}/{generation}",
        selfLink=f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{encoded}",
        mediaLink=f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{encoded}"
        f"?generation={generation}&alt=media",
        name=name,
        bucket=bucket,
        generation=generation,
        size=str(size),
        contentType=content_type,
    )
    attributes.update(
        id=event_id or f"{13195867453800000 + next(_ids)}",
        source=f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        subject=f"objects/{name}",
        bucket=bucket,
    )
    _override(data, data_overrides)
    _override(attributes, attribute_overrides)
    return _build(attributes, data, headers, mode)


def pubsub_published(
    message: dict[str, Any] | bytes,
    *,
    attributes: dict[str, str] | None = None,
    project: str = "obt-local",
    topic: str = "obt-build-complete",
    mode: str = "binary",
    message_id: str | None = None,
) -> CorpusEvent:
    """The golden messagePublished event carrying ``message`` (a dict is sent as JSON, bytes as they are)."""
    ce_attributes, data, headers = _split(_raw(PUBSUB_PUBLISHED, mode), mode)
    data = copy.deepcopy(data)
    payload = message if isinstance(message, bytes) else json.dumps(message).encode("utf-8")
    message_id = message_id or f"{13195871226400000 + next(_ids)}"
    data["message"].update(
        data=base64.b64encode(payload).decode("ascii"),
        messageId=message_id,
        message_id=message_id,
        attributes=dict(attributes or {}),
    )
    if not attributes:
        del data["message"]["attributes"]  # Pub/Sub omits an empty attribute map
    data["subscription"] = f"projects/{project}/subscriptions/eventarc-us-central1-load-obt-trigger-sub-118"
    ce_attributes.update(id=message_id, source=f"//pubsub.googleapis.com/projects/{project}/topics/{topic}")
    return _build(ce_attributes, data, headers, mode)


def _override(target: dict[str, Any], overrides: dict[str, Any] | None) -> None:
    for key, value in (overrides or {}).items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
