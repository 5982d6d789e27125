"""The step server: one long-lived Spark driver per worker that Airflow's step tasks reach as thin clients.

A Spark start costs 8-14 s on two cores, a Hive metastore client and the first Delta commit a few more;
a task process that pays them for a few hundred rows spends most of its life warming up. The step
server pays them once: it holds the SparkSession (local, or the driver of a standalone cluster with the
s3a lake and the metastore of the production profile) and runs each step a task sends it in a thread of
its own, streaming the step's log records back so each task's log reads as it did in-process.
See `jobs.service.client` (what a task calls) and `jobs.service.server` (the process).
"""
