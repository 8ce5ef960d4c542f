"""The OBT build job: raw purchases, movie reviews and review logs into one verified OBT build.

Shipped to Dataproc as ``dist/spark_job.zip`` (``--py-files``) next to the entry point ``build_obt.py``.
Imports only the standard library, ``pyspark`` and the stage contract ``obt_contract`` (zipped beside it;
``google.cloud.storage`` only in local mirror mode), never the ``obt`` package, which does not exist on Dataproc.
"""
