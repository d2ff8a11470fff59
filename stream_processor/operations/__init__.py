"""What the people who run the job see and check: log lines, the job's metrics in Spark's metrics
system, the `status` command and the checks before a start (preflight). May import spark (the
batch summary, the JVM bridge), kafka, output, frames, config and records; never engines or cli."""
