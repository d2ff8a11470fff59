"""What drives batches through spark.batch: the two streaming engines of `run` (dstream: Spark
Streaming; structured: Structured Streaming; driver: what their drivers share) and `replay` of a
JSONL file. May import every sub-package below it (operations, spark, kafka, output, frames),
config and records; only cli imports it."""
