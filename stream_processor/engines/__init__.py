"""What drives batches through spark.batch: the DStream job (`run`, dstream) and `replay` of a
JSONL file. May import every sub-package below it (operations, spark, kafka, output, frames),
config and records; only cli imports it."""
