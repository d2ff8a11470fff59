"""The demo's frames from real faces (photos, samples) and `python -m stream_processor.demo
FILE.jsonl` (__main__). May import records only; nothing in the job imports it (the tests and
benchmarks do)."""
