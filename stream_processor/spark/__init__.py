"""The Spark side of one batch: the batch function the stream and replay share (batch), the SQL
step that parses messages, Arrow rows, and the bridge to the job's JVM classes. May import output,
kafka (the consumer's settings), frames, config and records; never engines or operations."""
