
import pytest

from stream_processor.config import DEFAULT_CONFIG_FILE, Config, ConfigError, load_config, render_toml

pytestmark = pytest.mark.unit


def test_shipped_file_lists_every_setting_with_its_default():
    shipped = DEFAULT_CONFIG_FILE.read_text()
    assert render_toml(Config()) in shipped
    assert load_config(DEFAULT_CONFIG_FILE, env={}) == Config()


def test_environment_overrides_file_and_flags_override_both(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[job]\noutput_dir = "/from/file"\nbatch_interval_s = 2\n[kafka]\ntopic = "t"\n')
    cfg = load_config(f, env={"OUTPUT_DIR": "/from/env", "KAFKA_TOPIC": "env-topic"},
                      overrides={"topic": "flag-topic"})
    assert (cfg.output_dir, cfg.batch_interval_s, cfg.topic) == ("/from/env", 2.0, "flag-topic")


@pytest.mark.parametrize("text, key", [
    ('[faces]\ncrop_size = -1\n', "crop_size"),
    ('[faces]\nmax_images_per_user = "many"\n', "faces.max_images_per_user"),
    ('[kafka]\nstarting_offsets = "middle"\n', "starting_offsets"),
    ('[kafka]\nbogus = 1\n', "kafka.bogus"),
    ('[job]\ntopic = "x"\n', "job.topic"),
    ('[faces]\nscale_factor = 1.0\n', "scale_factor"),
    ('[kafka]\nbackpressure = "maybe"\n', "kafka.backpressure"),
    ('[faces]\nface_score = 0\n', "face_score"),
    ('[faces]\nface_score = 1.0\n', "face_score"),
    ('[faces]\nother_face_score = 1.5\n', "other_face_score"),
    ('[faces]\nsure_face_score = 1\n', "sure_face_score"),
    ('[faces]\nother_face_score = "high"\n', "faces.other_face_score"),
    ('[faces]\ndetect_max_side = 320\n', "faces.detect_max_side"),  # gone with the Haar-only detector
])
def test_bad_values_fail_naming_the_key(tmp_path, text, key):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(f, env={})


def test_the_face_decision_settings_come_from_the_environment():
    cfg = load_config(DEFAULT_CONFIG_FILE, env={"FACE_SCORE": "0.8", "OTHER_FACE_SCORE": "0.6", "FACE_MODEL": "/m/face.onnx",
                                                "MIN_FACE_FRACTION": "0.1"})
    assert (cfg.face_score, cfg.other_face_score, cfg.face_model, cfg.min_face_fraction) == (0.8, 0.6, "/m/face.onnx", 0.1)
    assert (Config().face_score, Config().other_face_score, Config().face_model) == (0.75, 0.65, "")
    assert (Config().min_face_fraction, Config().min_face_px) == (0.12, 56)


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="BATCH_INTERVAL_S"):
        load_config(DEFAULT_CONFIG_FILE, env={"BATCH_INTERVAL_S": "soon"})


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_dead_letter_topic_defaults_to_topic_dot_dlq():
    assert Config(topic="frames").dead_letter_topic == "frames.dlq"
    assert Config(dlq_topic="x").dead_letter_topic == "x"


@pytest.mark.parametrize("settings, key", [
    ({"security_protocol": "SASL_SSL"}, "sasl_username"),
    ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u"}, "sasl_password"),
    ({"security_protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p", "sasl_mechanism": "GSSAPI"},
     "sasl_mechanism"),
    ({"sasl_mechanism": "SCRAM-SHA-512"}, "sasl_mechanism"),  # forgot security_protocol
    ({"sasl_username": "u"}, "sasl_username"),
    ({"security_protocol": "SSL", "ssl_cafile": "/nonexistent/ca.pem"}, "ssl_cafile"),
    ({"ssl_cafile": __file__}, "ssl_cafile"),  # a CA file, but PLAINTEXT
])
def test_bad_security_settings_fail_with_the_rest_naming_the_key(settings, key):
    with pytest.raises(ConfigError, match=f"^{key}:"):
        Config(**settings)


def test_good_security_settings_pass(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    Config(security_protocol="SASL_SSL", sasl_mechanism="scram-sha-512", sasl_username="u", sasl_password="p",
           ssl_cafile=str(ca))
    Config(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p")  # PLAIN by default


def test_a_bad_security_setting_exits_2_naming_the_key(capsys, monkeypatch):
    from stream_processor.cli import main

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "job")
    assert main(["run", "--sasl-password", "pw", "--sasl-mechanism", "KERBEROS"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stream_processor: bad setting: sasl_mechanism:"), err
