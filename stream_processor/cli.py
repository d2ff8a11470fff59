"""`python -m stream_processor run | replay | produce | status`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Optional, Sequence

from .config import Config, ConfigError, add_config_flags, config_from_args
from .operations import logs
from .operations.preflight import PreflightError, check_face_model, check_input_file, check_kafka, check_writable_dir


def _absolute_output(cfg: Config) -> Config:
    """Executors run in other working directories: every path they use must be absolute."""
    return replace(cfg, output_dir=os.path.abspath(cfg.output_dir), state_dir=os.path.abspath(cfg.state_path),
                   face_model=os.path.abspath(cfg.face_model) if cfg.face_model else "")


def _reset(cfg: Config, username: str, publish: bool) -> int:
    import time

    from .output.enrollment import event
    from .output.reset import ResetError, reset_user

    try:
        status, crops = reset_user(cfg, username)
    except ResetError as exc:
        print(f"reset-user: {exc}", file=sys.stderr)
        return 2
    print(f"reset-user: {status.username} starts again (generation {status.generation}); {crops} crops removed")
    if publish:
        from .kafka import clients as kafka_clients

        try:
            kafka_clients.publish_events(cfg, cfg.status_topic, [(status.username, event(status, int(time.time() * 1000),
                                                                                    cfg.enrollment_idle_s))])
        except Exception as exc:  # noqa: BLE001 - the reset itself is done and durable
            print(f"reset-user: the enrollment event could not be published to {cfg.status_topic}: {exc}",
                  file=sys.stderr)
            return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stream_processor",
                                     description="Kafka video frames -> per-person face crops.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the streaming job (what spark-submit.sh submits)")
    run.add_argument("--exit-when-idle", type=float, metavar="SECONDS", dest="cfg_exit_when_idle_s",
                     help="stop gracefully once nothing arrived for SECONDS and all is committed")
    run.add_argument("--available-now", action="store_true",
                     help="structured engine: process what the topic holds now, then stop (a backfill)")
    add_config_flags(run)

    rep = commands.add_parser("replay", help="the same batch processing over a JSONL file of messages")
    rep.add_argument("--input", required=True, metavar="FILE.jsonl", help="one JSON message per line")
    add_config_flags(rep)

    reset = commands.add_parser("reset-user", help="let a user enrol again: remove their crops and status")
    reset.add_argument("username")
    reset.add_argument("--no-event", action="store_true", help="do not publish the enrollment event (no Kafka at hand)")
    add_config_flags(reset)

    produce = commands.add_parser("produce", help="publish images, a folder, a video or a JSONL file to Kafka")
    from .kafka.produce import add_produce_arguments
    add_produce_arguments(produce)
    add_config_flags(produce)

    status = commands.add_parser("status", help="where the job stands: lag, last batch, users, dead letters "
                                 "(exit 1 when behind by more than --max-lag, 3 when the broker does not answer)")
    add_config_flags(status)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        print(f"stream_processor: bad setting: {exc}", file=sys.stderr)
        return 2
    logs.setup(cfg.log_format)
    try:
        _preflight(args, cfg)
    except PreflightError as exc:
        print(f"stream_processor: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.command == "replay":
        from .engines.replay import local_session, replay
        summary = replay(local_session(), args.input, _absolute_output(cfg))
        print(json.dumps(summary.to_dict()) if cfg.log_format == "json" else summary.line())
        return 0
    if args.command == "reset-user":
        return _reset(_absolute_output(cfg), args.username, publish=not args.no_event)
    if args.command == "run" and cfg.engine == "structured":
        from .engines.structured import run_structured
        return run_structured(_absolute_output(cfg), available_now=args.available_now)
    if args.command == "run":
        from .engines.dstream import run_job
        return run_job(_absolute_output(cfg))
    if args.command == "status":
        from .operations.status import status
        return status(cfg)
    from .kafka.produce import produce
    return produce(args, cfg)


def _preflight(args: argparse.Namespace, cfg: Config) -> None:
    """What would otherwise fail only after Spark started, or with a traceback."""
    if args.command == "replay":
        check_input_file(args.input)
    if args.command == "run" and args.available_now and cfg.engine != "structured":
        raise PreflightError("--available-now needs the structured engine (--engine structured)", exit_code=2)
    if args.command in ("replay", "run", "reset-user"):
        check_writable_dir("output_dir", cfg.output_dir)
        check_writable_dir("state_dir", cfg.state_path)
    if args.command in ("replay", "run"):
        check_face_model(cfg)
    if args.command in ("run", "produce"):  # `status` reports an unreachable broker itself (exit 3)
        check_kafka(cfg)
