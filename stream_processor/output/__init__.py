"""What the job writes and reads back: each message's analysis and the per-user writer (analyze),
the capped user folders (storage), the manifest, the state location (state, enrollment), replay's
dead-letter files, reset-user and the review report. May import frames, config and records;
never kafka, spark, engines, operations, demo, pyspark or kafka-python (.importlinter)."""
