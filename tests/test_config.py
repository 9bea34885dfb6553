import re
import subprocess
import sys

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
    assert c["model"] == "rife-v4.6" and c["models"] == ["rife-v4.6"]


@pytest.mark.parametrize("bad, message", [
    ({"export": {"height": 100}}, r"export.height = 100: must be a multiple of 32"),
    ({"verify": {"resolutions": [[736, 1270]]}}, r"verify.resolutions.0.1 = 1270: must be a multiple of 32"),
    ({"wieghts": "official"}, r"'wieghts' was unexpected"),
    ({"export": {"hieght": 64}}, r"export: .*'hieght' was unexpected"),
    ({"threads": "two"}, r"threads: 'two' is not of type 'integer'"),
    ({"model": "rife-v4.99"}, r"model: 'rife-v4.99' is not one of \['rife-v4', "),
    ({"models": ["rife-v4.6", "rife-v4.6"]}, r"models: .* has non-unique elements"),
    ({"models": ["rife-v4.6", "v4.17"]}, r"models.1: 'v4.17' is not one of"),
    ({"models": ["rife-v4.6", "rife-v4.17"], "weights": "/tmp/flownet.pkl"},
     r"weights: '/tmp/flownet.pkl' is one version's file, but `models` lists 2 \(rife-v4.6, rife-v4.17\)"),
    ({"models": ["rife-v4.6", "rife-v4.17"], "weights_sha256": "a" * 64}, r"weights_sha256: 'a{64}' is one version"),
    ({"models": ["rife-v4.6", "rife-v4.17"], "weights_url": "https://x/f.pkl"}, r"weights_url: .* unset weights_url"),
    ({"export": {"onnx_opset": 13}}, r"export.onnx_opset: 13 is less than the minimum of 16"),
    ({"weights_sha256": "abc"}, r"weights_sha256"),
    ({"export": {"height": 256.0}}, r"export.height: 256.0 is not of type 'integer'"),
    ({"export": {"height": 100000}}, r"export.height = 100000: at most 8192; lower it"),
    ({"export": {"height": 8192, "width": 8192}},
     r"export.height x export.width = 8192 x 8192: 67,108,864 pixels is more than the 16,777,216"),
    ({"verify": {"resolutions": [[4096, 8192]]}}, r"verify.resolutions.0 = 4096 x 8192: .* lower it"),
    ({"bench": {"sizes": [[736, 1280], [8192, 4096]]}}, r"bench.sizes.1 = 8192 x 4096: .* lower it"),
    ({"calibration": {"resolution": [4128, 4096]}}, r"calibration.resolution = 4128 x 4096: .* lower it"),
    ({"export": {"height": "sixty"}}, r"export.height: 'sixty' is not of type 'integer'"),
])
def test_bad_values_name_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        config.validate(bad)


def test_bad_yaml(tmp_path):
    (tmp_path / "c.yaml").write_text("export: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(tmp_path / "c.yaml")


def test_nested_command_line_values_get_the_schema_types():
    """`--config export='{height: 64}'` arrives as strings (Snakemake reads nested values as text)."""
    c = config.validate({"export": {"height": "64", "width": "96"}, "verify": {"resolutions": [["96", "128"]]},
                         "int8": {"requantize": "false"}, "native": {"android_ndk": "null", "targets": "[host]"},
                         "weights": 46, "calibration": {"max_motion": "2.5"}})
    assert c["export"] == {"height": 64, "width": 96, "onnx_opset": 17}
    assert c["verify"]["resolutions"] == [[96, 128]]
    assert c["int8"]["requantize"] is False
    assert c["native"]["android_ndk"] is None and c["native"]["targets"] == ["host"]
    assert c["weights"] == "46"
    assert c["calibration"]["max_motion"] == 2.5


def test_a_boolean_or_name_key_takes_true_and_false_from_the_command_line():
    """native.vulkan.verify is `true | false | auto` (a oneOf): `--config native='{vulkan: {verify: false}}'`
    hands over the string 'false' (failed before: "'false' is not valid under any of the given schemas")."""
    assert config.validate({"native": {"vulkan": {"verify": "false"}}})["native"]["vulkan"]["verify"] is False
    assert config.validate({"native": {"vulkan": {"verify": "true"}}})["native"]["vulkan"]["verify"] is True
    assert config.validate({"native": {"vulkan": {"verify": "auto"}}})["native"]["vulkan"]["verify"] == "auto"


def test_models_default_to_model_and_win_over_it():
    assert config.validate({"model": "rife-v4.17-lite"})["models"] == ["rife-v4.17-lite"]
    c = config.validate({"model": "rife-v4.6", "models": "[rife-v4.25, rife-v4.6]"})
    assert c["models"] == ["rife-v4.25", "rife-v4.6"]
    assert config.validate(c) == c  # the Snakefile validates once; validating again changes nothing


def test_ensemble_modes_default_to_plain_and_come_from_the_command_line():
    assert config.validate({})["ensemble"] == [False]
    assert config.validate({"ensemble": "[false, true]"})["ensemble"] == [False, True]  # --config ensemble='[false, true]'
    # a version without an ensemble mode beside false: built plain (the workflow says so), not refused
    assert config.validate({"models": ["rife-v4.6", "rife-v4.25"], "ensemble": [False, True]})["models"] == [
        "rife-v4.6", "rife-v4.25"]


@pytest.mark.parametrize("bad, message", [
    ({"ensemble": []}, r"^ensemble: \[\] should be non-empty$"),
    ({"ensemble": [True, True]}, r"^ensemble: \[True, True\] has non-unique elements$"),
    ({"ensemble": True}, r"^ensemble: True is not of type 'array'$"),
    ({"model": "rife-v4.6-ensemble"}, r"^model: 'rife-v4.6-ensemble' is not one of"),  # the mode is `ensemble`'s
])
def test_bad_ensemble_values_are_one_sentence_naming_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        config.validate(bad)


def test_strings_stay_strings_where_the_schema_wants_text():
    c = config.validate({"weights": "123.pkl", "native": {"build_dir": "64"}})
    assert c["weights"] == "123.pkl" and c["native"]["build_dir"] == "64"


def snakemake_dry_run(workdir, *config_args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                           "-n", "--cores", "1", "--config", *config_args],
                          capture_output=True, text=True, cwd=REPO)


def test_snakemake_accepts_a_nested_override(tmp_path):
    """The documented override works through Snakemake itself, and a bad one is one sentence."""
    proc = snakemake_dry_run(tmp_path, "export={height: 64, width: 96}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "64x96" in proc.stdout
    proc = snakemake_dry_run(tmp_path, "export={height: 100000}")
    assert proc.returncode != 0
    assert "export.height = 100000: at most 8192; lower it" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_snakemake_builds_each_version_in_each_ensemble_mode_it_has(tmp_path):
    """ensemble=[false,true]: rife-v4.6 and rife-v4.6-ensemble (one checkpoint job), rife-v4.25 alone with a
    start-up line saying why; ensemble=[true] for a version without the mode is one sentence, exit != 0."""
    proc = snakemake_dry_run(tmp_path, "models=[rife-v4.6, rife-v4.25]", "ensemble=[false,true]")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "results/ncnn/rife-v4.6-ensemble/verify.json" in proc.stdout and "rife-v4.25-ensemble" not in proc.stdout
    assert "ensemble: built without an ensemble variant: rife-v4.25 (no ensemble mode" in proc.stderr
    assert re.search(r"^prepare_checkpoint +2$", proc.stdout, re.M)  # rife-v4.6 and rife-v4.25, none for the variant
    proc = snakemake_dry_run(tmp_path, "model=rife-v4.26", "ensemble=[true]")
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert ("ensemble: [true] builds only ensemble variants, but rife-v4.26 has no ensemble mode (only the versions "
            "up to 4.20 and 4.24 have one); use `ensemble: [false, true]` or remove rife-v4.26 from `models`"
            in proc.stdout + proc.stderr)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/", "http://127.0.0.1:9/files/..", "https://h/ncnn", "https://h/.zip"])
def test_ncnn_url_must_end_in_an_archive_file_name(url):
    """(failed before: the schema accepted them and the download died with IsADirectoryError)"""
    with pytest.raises(ConfigError) as info:
        config.validate({"native": {"ncnn_url": url}})
    assert str(info.value) == (f"native.ncnn_url = {url!r}: must be an http(s):// or file:// URL ending in the "
                               "archive's file name (.tar.gz, .tgz, .tar.xz, .tar.bz2, .tar or .zip)")
    assert config.validate({"native": {"ncnn_url": "https://h/mirror/ncnn-1.0.20261020.tar.gz?token=1"}})
