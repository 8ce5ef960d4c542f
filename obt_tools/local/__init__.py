"""The local cloud: real emulators and servers on 127.0.0.1 standing in for Google Cloud (``obt local up``).

``stack`` starts and stops everything and tells a process how to reach it (``stack_env``); ``procs`` owns
process lifecycles; one module per service (``postgres``, ``pubsub``, ``gcs``, ``functions``, ``eventarc``,
``dataproc``). Test fixtures built on them live in ``tests/conftest.py``.
"""
