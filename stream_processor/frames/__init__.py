"""The frame core: decode a frame, find its one face (the BlazeFace landmark DNN and its pinned
model file), align, crop and hash it, gate its quality, and normalise the username. Pure functions
of bytes and Config. May import config and records only: never output, kafka, spark, engines,
operations, demo, nor pyspark or kafka-python (.importlinter)."""
