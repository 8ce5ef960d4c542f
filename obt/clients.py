"""Google client construction, identical for GCP and the local cloud.

The official libraries already honour ``STORAGE_EMULATOR_HOST`` and ``PUBSUB_EMULATOR_HOST``; Dataproc has
no such variable, so ``Settings.dataproc_endpoint`` points its REST transport at the local endpoint. Under an
emulator variable (``BIGQUERY_EMULATOR_HOST`` too) a client uses anonymous credentials: there are none to find.
Clients are cached per process: Cloud Functions reuse instances, and creating clients is slow.
"""

from __future__ import annotations

import functools
import os

from obt.config import Settings


@functools.cache
def storage_client(project: str):
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


@functools.cache
def bigquery_client(project: str, location: str):
    from google.cloud import bigquery

    host = os.environ.get("BIGQUERY_EMULATOR_HOST")
    if host:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        endpoint = host if "://" in host else f"http://{host}"
        return bigquery.Client(
            project=project,
            location=location,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return bigquery.Client(project=project, location=location)


@functools.cache
def publisher_client():
    from google.cloud import pubsub_v1

    return pubsub_v1.PublisherClient()


@functools.cache
def subscriber_client():
    from google.cloud import pubsub_v1

    return pubsub_v1.SubscriberClient()


@functools.cache
def batch_client(region: str, endpoint: str):
    """Dataproc BatchController over REST; ``endpoint`` is empty on GCP (regional endpoint)."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import dataproc_v1

    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        return dataproc_v1.BatchControllerClient(
            transport="rest",
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=endpoint),
        )
    return dataproc_v1.BatchControllerClient(
        transport="rest",
        client_options=ClientOptions(api_endpoint=f"{region}-dataproc.googleapis.com"),
    )


def batches(settings: Settings):
    return batch_client(settings.region, settings.dataproc_endpoint)


def storage(settings: Settings):
    return storage_client(settings.project)


def reset() -> None:
    """Forget cached clients, after the emulator environment changed (tests, ``obt demo``)."""
    for factory in (storage_client, bigquery_client, publisher_client, subscriber_client, batch_client):
        factory.cache_clear()
