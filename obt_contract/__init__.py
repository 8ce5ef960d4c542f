"""The contract between the stages, defined once (``docs/contracts.md``): standard library only.

Imported by the deployed ``obt`` package and zipped into the Spark job's package, so the functions and the
job cannot disagree on a source name, a quarantine reason, an object name, the completion message or the
OBT's columns:

- ``sources``: source names and the quarantine reasons each can produce, in rule order;
- ``layout``: raw and curated object names (build folder, manifest and marker names, quarantine folders, the
  classified layer's files, markers and key);
- ``message``: the completion message (shape, builder, parser, size limits);
- ``schema``: the OBT's columns and key (``obt/warehouse/sql/obt.sql`` is checked against it by a test).
"""


class ContractError(ValueError):
    """A name, id or message that does not follow the contract."""
