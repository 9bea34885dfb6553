import pytest
from conftest import REPO

from rifebuild.core import config
from rifebuild.core.config import ConfigError


def test_defaults_fill_everything():
    c = config.validate({})
    assert c["weights"] == "synthetic"
    assert c["export"] == {"height": 256, "width": 448, "onnx_opset": 17}
    assert c["verify"]["resolutions"] == [[736, 1280]]


def test_repo_config_is_valid():
    c = config.load(REPO / "config.yaml")
    assert c["model_name"] == "rife-v4.6"


@pytest.mark.parametrize("bad, message", [
    ({"export": {"height": 100}}, r"export.height = 100: must be a multiple of 32"),
    ({"verify": {"resolutions": [[736, 1270]]}}, r"verify.resolutions.0.1 = 1270: must be a multiple of 32"),
    ({"wieghts": "official"}, r"'wieghts' was unexpected"),
    ({"export": {"hieght": 64}}, r"export: .*'hieght' was unexpected"),
    ({"threads": "two"}, r"threads: 'two' is not of type 'integer'"),
    ({"model_name": ".."}, r"model_name: '\.\.' does not match"),
    ({"model_name": "a/b"}, r"model_name: 'a/b' does not match"),
    ({"export": {"onnx_opset": 13}}, r"export.onnx_opset: 13 is less than the minimum of 16"),
    ({"weights_sha256": "abc"}, r"weights_sha256"),
])
def test_bad_values_name_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        config.validate(bad)


def test_bad_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("export: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(tmp_path / "c.yaml")
