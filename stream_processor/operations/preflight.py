"""Checks that run before Spark starts, so that a new user's mistake ends in one line naming the
cause within seconds: an input file that is not there, an output folder that cannot be created,
a face model that is missing or not the pinned one, a Kafka broker that cannot be reached or that
refuses the credentials."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

from ..config import Config
from ..frames import face_model
from .logs import first_line


class PreflightError(RuntimeError):
    """One line for the user; `exit_code` 2 for a wrong path or setting, 1 for Kafka."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def check_input_file(path: str) -> None:
    if not Path(path).is_file():
        raise PreflightError(f"input file {path} does not exist" if not Path(path).exists()
                             else f"input {path} is not a file", 2)
    if not os.access(path, os.R_OK):
        raise PreflightError(f"input file {path} cannot be read (permission denied)", 2)


def check_writable_dir(setting: str, path: str) -> None:
    """Creates the folder `path` (the value of `setting`) if missing, and checks we can write in it."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise PreflightError(f"{setting}: cannot create {path}: a file is in the way", 2) from None
    except OSError as exc:
        raise PreflightError(f"{setting}: cannot create {path}: {exc.strerror or exc}", 2) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PreflightError(f"{setting}: cannot write in {path} (permission denied)", 2)


def check_face_model(cfg: Config) -> None:
    """The face decision needs the pinned model: no fallback to another detector, ever."""
    reason = face_model.problem(face_model.model_path(cfg.face_model))
    if reason is not None:
        raise PreflightError(reason, 2)


def _host_port(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    if not host:
        return server.strip(), 9092
    return host.strip("[]"), int(port)


class _KafkaErrors(logging.Handler):
    """Keeps the exceptions kafka-python logs while it retries: its own error only says
    "Unable to bootstrap", the cause (refused login, TLS failure) is only in its log."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.errors.extend(a for a in args if isinstance(a, BaseException))


def check_kafka(cfg: Config, timeout_s: float = 15.0) -> None:
    """Connects to the brokers as the job will (TCP, TLS, SASL) and asks for the cluster's
    metadata; raises PreflightError naming the cause (unreachable, login refused, TLS) within
    about `timeout_s`."""
    from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError

    from ..kafka.clients import admin_client

    deadline = time.monotonic() + timeout_s
    servers = [s for s in cfg.bootstrap_servers.split(",") if s.strip()]
    unreachable = []
    for server in servers:
        try:
            host, port = _host_port(server)
            socket.create_connection((host, port), timeout=max(1.0, min(5.0, deadline - time.monotonic()))).close()
            break
        except (OSError, ValueError) as exc:
            unreachable.append(f"{server.strip()}: {getattr(exc, 'strerror', None) or exc}")
    else:
        raise PreflightError(f"cannot reach the Kafka broker at {cfg.bootstrap_servers} ({'; '.join(unreachable)})", 1)

    kafka_log = logging.getLogger("kafka")
    errors = _KafkaErrors()
    saved = kafka_log.level, kafka_log.propagate
    kafka_log.addHandler(errors)
    kafka_log.setLevel(logging.WARNING)
    kafka_log.propagate = False  # its retries would print many lines; we print one
    try:
        admin = admin_client(cfg, timeout_ms=int(max(1.0, deadline - time.monotonic()) * 1000))
        try:
            admin.describe_cluster()
        finally:
            admin.close()
    except Exception as exc:  # noqa: BLE001 - the cause is reported from what kafka-python logged
        refused = next((e for e in errors.errors if isinstance(e, SaslAuthenticationFailedError)), None)
        causes = [e for e in errors.errors if not isinstance(e, KafkaTimeoutError)]  # the last try's, not "Unable to bootstrap"
        cause = first_line(refused or (causes[-1] if causes else exc))
        where = f"Kafka at {cfg.bootstrap_servers}"
        if cfg.security_protocol.startswith("SASL_"):
            # The broker closes the connection on a wrong password; kafka-python often sees only that.
            login = f"the {cfg.security_protocol} login of user {cfg.sasl_username!r} ({(cfg.sasl_mechanism or 'PLAIN').upper()})"
            raise PreflightError(f"{where} {'refused' if refused else 'did not accept'} {login} within {timeout_s:.0f} s: "
                                 f"check sasl_username, sasl_password and sasl_mechanism (last error: {cause})", 1) from None
        raise PreflightError(f"{where} did not answer as {cfg.security_protocol} within {timeout_s:.0f} s: check "
                             f"security_protocol, the broker may require SSL or SASL (last error: {cause})", 1) from None
    finally:
        kafka_log.removeHandler(errors)
        kafka_log.setLevel(saved[0])
        kafka_log.propagate = saved[1]
