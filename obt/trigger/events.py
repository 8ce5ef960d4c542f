"""Storage ``object.finalized`` CloudEvents, parsed into a typed object.

Eventarc delivers them in binary mode (``ce-*`` headers, the GCS object resource as the JSON body);
functions-framework accepts structured mode too. Either way the function receives a
``cloudevents`` event whose attributes and ``data`` are read here. GCS sends ``generation``,
``metageneration`` and ``size`` as decimal strings (JSON API int64); integers are accepted too.
Anything that does not fit raises ``PermanentError`` naming the offending field: redelivering it
cannot help.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obt.errors import PermanentError

FINALIZED = "google.cloud.storage.object.v1.finalized"
STORAGE_SOURCE_PREFIX = "//storage.googleapis.com/projects/_/buckets/"


@dataclass(frozen=True)
class StorageObjectEvent:
    event_id: str
    event_type: str
    source: str
    subject: str | None
    time: str | None
    bucket: str
    name: str
    generation: int
    metageneration: int | None
    size: int
    content_type: str | None
    time_created: str | None

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"

    def log_fields(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "bucket": self.bucket,
            "object": self.name,
            "generation": self.generation,
            "size": self.size,
        }


def _attributes(event: Any) -> Mapping[str, Any]:
    if hasattr(event, "get_attributes"):
        return event.get_attributes()
    if isinstance(event, Mapping):
        return {k: v for k, v in event.items() if k not in ("data", "data_base64")}
    raise PermanentError(f"not a CloudEvent: {type(event).__name__}")


def _data(event: Any) -> Any:
    data = event.get_data() if hasattr(event, "get_data") else event.get("data")
    # Without a JSON content type the SDK hands over raw bytes; the payload is still the object resource.
    if isinstance(data, bytes | bytearray):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PermanentError(f"event data is not UTF-8: {exc}") from exc
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise PermanentError(f"event data is not JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PermanentError(f"event data must be a JSON object, got {type(data).__name__}")
    return data


def _text(container: Mapping[str, Any], key: str, where: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value:
        shown = "missing" if value is None else f"{type(value).__name__} {value!r}"
        raise PermanentError(f"{where} {key!r} must be a non-empty string, got {shown}")
    return value


def _optional_text(container: Mapping[str, Any], key: str, where: str) -> str | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PermanentError(f"{where} {key!r} must be a string, got {type(value).__name__} {value!r}")
    return value


def _count(data: Mapping[str, Any], key: str, *, minimum: int) -> int:
    value = data.get(key)
    # bool is an int subclass; a JSON true is never a valid generation or size.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        number = int(value)
    else:
        shown = "missing" if value is None else f"{type(value).__name__} {value!r}"
        raise PermanentError(f"event data {key!r} must be a decimal integer, got {shown}")
    if number < minimum:
        raise PermanentError(f"event data {key!r} must be >= {minimum}, got {number}")
    return number


def parse_storage_event(event: Any) -> StorageObjectEvent:
    """Validate a storage finalized CloudEvent; ``PermanentError`` says what is wrong."""
    attributes = _attributes(event)
    event_type = _text(attributes, "type", "CloudEvent attribute")
    if event_type != FINALIZED:
        raise PermanentError(f"unexpected CloudEvent type {event_type!r}; on_raw_landed handles only {FINALIZED}")
    event_id = _text(attributes, "id", "CloudEvent attribute")
    source = _text(attributes, "source", "CloudEvent attribute")
    if not source.startswith(STORAGE_SOURCE_PREFIX) or len(source) == len(STORAGE_SOURCE_PREFIX):
        raise PermanentError(f"CloudEvent source {source!r} is not {STORAGE_SOURCE_PREFIX}BUCKET")
    subject = _optional_text(attributes, "subject", "CloudEvent attribute")

    data = _data(event)
    bucket = _text(data, "bucket", "event data")
    name = _text(data, "name", "event data")
    if source != STORAGE_SOURCE_PREFIX + bucket:
        raise PermanentError(f"CloudEvent source {source!r} does not match data bucket {bucket!r}")
    if subject is not None and subject != f"objects/{name}":
        raise PermanentError(f"CloudEvent subject {subject!r} does not match data name {name!r}")
    return StorageObjectEvent(
        event_id=event_id,
        event_type=event_type,
        source=source,
        subject=subject,
        time=_optional_text(attributes, "time", "CloudEvent attribute"),
        bucket=bucket,
        name=name,
        generation=_count(data, "generation", minimum=1),
        metageneration=_count(data, "metageneration", minimum=1) if "metageneration" in data else None,
        size=_count(data, "size", minimum=0),
        content_type=_optional_text(data, "contentType", "event data"),
        time_created=_optional_text(data, "timeCreated", "event data"),
    )
