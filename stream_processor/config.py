"""Settings: `conf/stream_processor.toml`, overridden by environment variables, then CLI flags.

Every setting is one field of `Config`; its TOML section and environment variable live in the
field's metadata, so the file, the environment and the flags can never drift apart.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Optional

DEFAULT_CONFIG_FILE = Path(__file__).resolve().parent.parent / "conf" / "stream_processor.toml"
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting has a wrong value; the message names the key."""


def _setting(section: str, default: Any, env: str, help: str, choices: tuple = ()) -> Any:
    return field(default=default, metadata={"section": section, "env": env, "help": help, "choices": choices})


@dataclass(frozen=True)
class Config:
    # [kafka]
    bootstrap_servers: str = _setting("kafka", "localhost:9092", "KAFKA_BOOTSTRAP_SERVERS", "Kafka bootstrap servers, host:port[,host:port]")
    topic: str = _setting("kafka", "videoCollector", "KAFKA_TOPIC", "topic the video service publishes frames to")
    group_id: str = _setting("kafka", "stream-processor", "KAFKA_GROUP_ID", "consumer group whose offsets the job commits")
    starting_offsets: str = _setting("kafka", "committed", "KAFKA_STARTING_OFFSETS", "where to start: committed (else earliest), earliest or latest", ("committed", "earliest", "latest"))
    dlq_topic: str = _setting("kafka", "", "KAFKA_DLQ_TOPIC", "dead-letter topic; empty means '<topic>.dlq'")
    security_protocol: str = _setting("kafka", "PLAINTEXT", "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"))
    sasl_mechanism: str = _setting("kafka", "", "KAFKA_SASL_MECHANISM", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; empty when not using SASL")
    sasl_username: str = _setting("kafka", "", "KAFKA_SASL_USERNAME", "SASL user name")
    sasl_password: str = _setting("kafka", "", "KAFKA_SASL_PASSWORD", "SASL password (prefer the environment variable)")
    ssl_cafile: str = _setting("kafka", "", "KAFKA_SSL_CAFILE", "PEM file of the CA that signed the brokers' certificates")
    max_rate_per_partition: int = _setting("kafka", 0, "KAFKA_MAX_RATE_PER_PARTITION", "records per second per partition read in a batch; 0 = unbounded")
    backpressure: bool = _setting("kafka", True, "KAFKA_BACKPRESSURE", "let Spark adapt the batch size to the processing rate")
    # [job]
    output_dir: str = _setting("job", "./training-data", "OUTPUT_DIR", "the training set: one folder of face crops per user, nothing else")
    state_dir: str = _setting("job", "", "STATE_DIR", "manifest, dead letters of replay, enrollment status, rejected examples; empty = '<output_dir>-state'")
    engine: str = _setting("job", "dstream", "ENGINE", "dstream (Spark Streaming's Kafka direct stream) or structured (Structured Streaming's Kafka source; docs/engines.md)", ("dstream", "structured"))
    batch_interval_s: float = _setting("job", 5.0, "BATCH_INTERVAL_S", "micro-batch interval in seconds")
    checkpoint_dir: str = _setting("job", "", "CHECKPOINT_DIR", "DStream engine: checkpoint folder for StreamingContext.getOrCreate; empty = none (the structured engine keeps its own in the state location)")
    exit_when_idle_s: float = _setting("job", 0.0, "EXIT_WHEN_IDLE_S", "stop once nothing arrived for this long and all is committed; 0 = run forever")
    batch_attempts: int = _setting("job", 8, "BATCH_ATTEMPTS", "tries of a failing batch (backoff up to 30 s) before the job stops, uncommitted")
    # [limits]
    max_message_bytes: int = _setting("limits", 8 * MIB, "MAX_MESSAGE_BYTES", "larger messages are rejected as message_too_large")
    max_image_pixels: int = _setting("limits", 4096 * 4096, "MAX_IMAGE_PIXELS", "width*height from the image header above this is image_too_large")
    # [faces]
    face_model: str = _setting("faces", "", "FACE_MODEL", "the BlazeFace ONNX file (SHA-256 pinned); empty = .local/models/ as make setup fetches it")
    min_face_fraction: float = _setting("faces", 0.12, "MIN_FACE_FRACTION", "smallest face looked for, as a fraction of the frame's shorter side")
    face_score: float = _setting("faces", 0.75, "FACE_SCORE", "BlazeFace score (0-1) a face needs before the Haar cascade is asked to confirm it")
    sure_face_score: float = _setting("faces", 0.85, "SURE_FACE_SCORE", "a face scoring below this must also show an eye to the eye cascade")
    other_face_score: float = _setting("faces", 0.65, "OTHER_FACE_SCORE", "another BlazeFace proposal scoring this much makes the frame multiple_faces")
    scale_factor: float = _setting("faces", 1.1, "SCALE_FACTOR", "Haar pyramid step between scales, when the cascade confirms a face")
    min_neighbors: int = _setting("faces", 3, "MIN_NEIGHBORS", "Haar detections needed to confirm a face")
    crop_margin: float = _setting("faces", 0.4, "CROP_MARGIN", "face box grown by this fraction of its size on each side")
    crop_size: int = _setting("faces", 160, "CROP_SIZE", "side of the square crop in px; 0 keeps native size")
    max_images_per_user: int = _setting("faces", 60, "MAX_IMAGES_PER_USER", "crops kept per user (the enrollment target); later frames are user_cap_reached")
    # [quality] (defaults calibrated by benchmarks/gates.py)
    min_face_px: int = _setting("quality", 56, "MIN_FACE_PX", "faces whose box is smaller (shorter side, source px) are face_too_small")
    min_sharpness: float = _setting("quality", 10.0, "MIN_SHARPNESS", "faces whose sharpness (least directional variance of the Laplacian, quality.measure) is below this are blurry")
    min_brightness: float = _setting("quality", 54.0, "MIN_BRIGHTNESS", "faces whose mean grey (0-255) is below this are underexposed")
    max_brightness: float = _setting("quality", 165.0, "MAX_BRIGHTNESS", "faces whose mean grey (0-255) is above this are overexposed")
    max_dark_share: float = _setting("quality", 0.25, "MAX_DARK_SHARE", "faces with more than this share of pixels at grey <= 16 are underexposed")
    max_bright_share: float = _setting("quality", 0.2, "MAX_BRIGHT_SHARE", "faces with more than this share of pixels at grey >= 240 are overexposed")
    min_crop_distance: int = _setting("quality", 12, "MIN_CROP_DISTANCE", "a crop whose 64-bit hash is within this many bits of a kept crop of the user is near_duplicate; 0 = off")
    # [enrollment]
    enrollment_topic: str = _setting("enrollment", "", "ENROLLMENT_TOPIC", "topic of the enrollment status events; empty means '<topic>.enrollment'")
    enrollment_idle_s: float = _setting("enrollment", 120.0, "ENROLLMENT_IDLE_S", "a user below the target with no new crop for this long is stalled")
    rejected_examples: int = _setting("enrollment", 3, "REJECTED_EXAMPLES", "rejected frames kept as thumbnails per user and reason, for the review page")
    # [operations]
    log_format: str = _setting("operations", "text", "LOG_FORMAT", "text, or json: one JSON object per log line", ("text", "json"))
    max_lag: int = _setting("operations", 1000, "MAX_LAG", "`status` exits 1 when the group is behind by more records than this")

    @property
    def dead_letter_topic(self) -> str:
        return self.dlq_topic or f"{self.topic}.dlq"

    @property
    def status_topic(self) -> str:
        return self.enrollment_topic or f"{self.topic}.enrollment"

    @property
    def state_path(self) -> str:
        """The state location: next to the training set, never inside it."""
        return self.state_dir or os.path.normpath(self.output_dir) + "-state"

    def __post_init__(self) -> None:
        _validate(self)


_NON_NEGATIVE = ("max_rate_per_partition", "exit_when_idle_s", "crop_size", "crop_margin",
                 "rejected_examples", "min_crop_distance", "max_lag", "min_face_px", "min_sharpness")
_POSITIVE = ("batch_interval_s", "batch_attempts", "max_message_bytes", "max_image_pixels", "max_images_per_user", "min_neighbors",
             "enrollment_idle_s")
_NON_EMPTY = ("bootstrap_servers", "topic", "group_id", "output_dir")


def _validate(cfg: Config) -> None:
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata["choices"] and value not in f.metadata["choices"]:
            raise ConfigError(f"{f.name}: {value!r} is not one of {', '.join(f.metadata['choices'])}")
    for name in _NON_EMPTY:
        if not str(getattr(cfg, name)).strip():
            raise ConfigError(f"{name}: must not be empty")
    for name in _NON_NEGATIVE:
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{name}: must be >= 0, got {getattr(cfg, name)!r}")
    for name in _POSITIVE:
        if getattr(cfg, name) <= 0:
            raise ConfigError(f"{name}: must be > 0, got {getattr(cfg, name)!r}")
    if not 0 < cfg.min_face_fraction < 1:
        raise ConfigError(f"min_face_fraction: must be between 0 and 1, got {cfg.min_face_fraction!r}")
    if cfg.scale_factor <= 1:
        raise ConfigError(f"scale_factor: must be > 1, got {cfg.scale_factor!r}")
    for name in ("max_dark_share", "max_bright_share"):
        if not 0 <= getattr(cfg, name) <= 1:
            raise ConfigError(f"{name}: must be between 0 and 1, got {getattr(cfg, name)!r}")
    if not 0 <= cfg.min_brightness < cfg.max_brightness <= 255:
        raise ConfigError(f"min_brightness, max_brightness: need 0 <= min < max <= 255, got {cfg.min_brightness!r}, {cfg.max_brightness!r}")
    if cfg.min_crop_distance > 64:
        raise ConfigError(f"min_crop_distance: must be at most 64 (bits of the hash), got {cfg.min_crop_distance!r}")
    for name in ("face_score", "sure_face_score", "other_face_score"):
        if not 0 < getattr(cfg, name) < 1:
            raise ConfigError(f"{name}: must be between 0 and 1, got {getattr(cfg, name)!r}")
    _check_apart(cfg.output_dir, cfg.state_path)
    _validate_security(cfg)


def _check_apart(output_dir: str, state_dir: str) -> None:
    """The trainer takes every folder of the training set for a user: the state must live elsewhere."""
    training, state = Path(os.path.abspath(output_dir)), Path(os.path.abspath(state_dir))
    if state == training or training in state.parents or state in training.parents:
        raise ConfigError(f"state_dir: {state_dir!r} must be outside the training set {output_dir!r} (and not hold it)")


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _validate_security(cfg: Config) -> None:
    """SASL/SSL settings that could only fail later, at the first connection, fail here."""
    sasl = cfg.security_protocol.startswith("SASL_")
    if sasl:
        if cfg.sasl_mechanism and cfg.sasl_mechanism.upper() not in SASL_MECHANISMS:
            raise ConfigError(f"sasl_mechanism: {cfg.sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}")
        for name in ("sasl_username", "sasl_password"):
            if not getattr(cfg, name):
                raise ConfigError(f"{name}: required with security_protocol {cfg.security_protocol}")
    else:
        for name in ("sasl_mechanism", "sasl_username", "sasl_password"):
            if getattr(cfg, name):
                raise ConfigError(f"{name}: set, but security_protocol is {cfg.security_protocol} "
                                  "(SASL needs SASL_PLAINTEXT or SASL_SSL)")
    if cfg.ssl_cafile:
        if not cfg.security_protocol.endswith("SSL"):
            raise ConfigError(f"ssl_cafile: set, but security_protocol is {cfg.security_protocol} (SSL or SASL_SSL)")
        if not Path(cfg.ssl_cafile).is_file():
            raise ConfigError(f"ssl_cafile: {cfg.ssl_cafile} is not a file")


def _coerce(name: str, raw: Any, target: type) -> Any:
    """Turn a TOML, environment or CLI value into the field's type, or fail naming the key."""
    try:
        if target is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if target is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            return int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
        if target is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)
        if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
            raise ValueError(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {raw!r} is not a valid {target.__name__}") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _field_types() -> dict[str, type]:
    return {f.name: _TYPES[f.type] for f in fields(Config)}


def load_config(
    path: Optional[str | Path] = None,
    env: Optional[Mapping[str, str]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> Config:
    """File, then environment, then explicit overrides (CLI flags); unknown keys are errors."""
    types = _field_types()
    values: dict[str, Any] = {}
    path = Path(path) if path else Path(os.environ.get("STREAM_PROCESSOR_CONFIG", DEFAULT_CONFIG_FILE))
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        sections = {f.name: f.metadata["section"] for f in fields(Config)}
        for section, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{section}: expected a [{section}] table in {path}")
            for key, raw in table.items():
                if sections.get(key) != section:
                    raise ConfigError(f"{section}.{key}: unknown setting in {path}")
                values[key] = _coerce(f"{section}.{key}", raw, types[key])
    elif path != DEFAULT_CONFIG_FILE:
        raise ConfigError(f"config file {path} does not exist")
    env = os.environ if env is None else env
    for f in fields(Config):
        if f.metadata["env"] in env and env[f.metadata["env"]] != "":
            values[f.name] = _coerce(f.metadata["env"], env[f.metadata["env"]], types[f.name])
    for key, raw in (overrides or {}).items():
        if key not in types:
            raise ConfigError(f"{key}: unknown setting")
        if raw is not None:
            values[key] = _coerce(f"--{key.replace('_', '-')}", raw, types[key])
    return Config(**values)


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One `--kebab-name` flag per setting, plus `--config FILE`."""
    parser.add_argument("--config", help=f"settings file (default {DEFAULT_CONFIG_FILE.name}, env STREAM_PROCESSOR_CONFIG)")
    group = parser.add_argument_group("settings (override the file and the environment)")
    for f in fields(Config):
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", metavar=f.type.upper(), help=f"{f.metadata['help']} (env {f.metadata['env']})")


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f"cfg_{f.name}", None) for f in fields(Config)}
    return load_config(getattr(args, "config", None), overrides=overrides)


def render_toml(cfg: Config = Config()) -> str:
    """The settings file with every key, its value and its one-line comment."""
    out: list[str] = []
    section = None
    for f in fields(cfg):
        if f.metadata["section"] != section:
            section = f.metadata["section"]
            out.append(("\n" if out else "") + f"[{section}]")
        value = getattr(cfg, f.name)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str):
            text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            text = repr(value)
        out.append(f"{f.name} = {text}  # {f.metadata['help']} (env {f.metadata['env']})")
    return "\n".join(out) + "\n"
