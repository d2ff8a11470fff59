"""`python -m stream_processor run | replay | produce`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace
from typing import Optional, Sequence

from .config import Config, ConfigError, add_config_flags, config_from_args
from .preflight import PreflightError, check_input_file, check_kafka, check_writable_dir


def _absolute_output(cfg: Config) -> Config:
    """Executors run in other working directories: every path they use must be absolute."""
    return replace(cfg, output_dir=os.path.abspath(cfg.output_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stream_processor",
                                     description="Kafka video frames -> per-person face crops.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the streaming job (what spark-submit.sh submits)")
    run.add_argument("--exit-when-idle", type=float, metavar="SECONDS", dest="cfg_exit_when_idle_s",
                     help="stop gracefully once nothing arrived for SECONDS and all is committed")
    add_config_flags(run)

    rep = commands.add_parser("replay", help="the same batch processing over a JSONL file of messages")
    rep.add_argument("--input", required=True, metavar="FILE.jsonl", help="one JSON message per line")
    add_config_flags(rep)

    produce = commands.add_parser("produce", help="publish images, a folder, a video or a JSONL file to Kafka")
    from .produce import add_produce_arguments
    add_produce_arguments(produce)
    add_config_flags(produce)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for chatty in ("kafka", "py4j"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        print(f"stream_processor: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        _preflight(args, cfg)
    except PreflightError as exc:
        print(f"stream_processor: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.command == "replay":
        from .replay import local_session, replay
        summary = replay(local_session(), args.input, _absolute_output(cfg))
        print(summary.line())
        return 0
    if args.command == "run":
        from .job import run_job
        return run_job(_absolute_output(cfg))
    from .produce import produce
    return produce(args, cfg)


def _preflight(args: argparse.Namespace, cfg: Config) -> None:
    """What would otherwise fail only after Spark started, or with a traceback."""
    if args.command == "replay":
        check_input_file(args.input)
    if args.command in ("replay", "run"):
        check_writable_dir("output_dir", cfg.output_dir)
    if args.command in ("run", "produce", "status"):
        check_kafka(cfg)
