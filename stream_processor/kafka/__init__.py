"""Kafka from Python: the client settings (shared with the JVM's consumer), the kafka-python
producer and admin clients, the dead-letter topic and the `produce` command. May import config and
records only; never pyspark. Inside it, `import kafka` is kafka-python: imports here are absolute."""
