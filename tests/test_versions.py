"""The RIFE v4 family: the per-version specs against the published facts, names, checkpoints per version
and the strict key check that names the right version. Fast (no conversion; about 3 s)."""
import pytest
import torch
from conftest import REPO

from rifebuild.checkpoint import load as weights
from rifebuild.checkpoint.load import CheckpointError
from rifebuild.core import config
from rifebuild.core.errors import ConfigError
from rifebuild.model import pins, spec
from rifebuild.model.ifnet import IFNet
from rifebuild.report.family import check_sizes, flops

# Published facts per version (block widths, block input planes, feature channels, padding multiple),
# as the public IFNet_HDv3 descriptions state them; the spec derives the input planes and the padding.
FACTS = {
    "rife-v4": ((192, 128, 96, 64), (7, 12, 12, 12), 0, 32),
    "rife-v4.5": ((192, 128, 96, 64), (7, 12, 12, 12), 0, 32),
    "rife-v4.6": ((192, 128, 96, 64), (7, 12, 12, 12), 0, 32),
    "rife-v4.7": ((192, 128, 96, 64), (15, 20, 20, 20), 4, 32),
    "rife-v4.10": ((192, 128, 96, 64), (23, 28, 28, 28), 8, 32),
    "rife-v4.12-lite": ((128, 96, 64, 48), (15, 20, 20, 20), 4, 32),
    "rife-v4.13": ((192, 128, 96, 64), (23, 28, 28, 28), 8, 32),
    "rife-v4.15-lite": ((128, 96, 64, 48), (15, 20, 20, 20), 4, 32),
    "rife-v4.20": ((384, 192, 96, 48), (23, 28, 28, 28), 8, 32),
    "rife-v4.21": ((256, 192, 96, 48), (23, 36, 36, 36), 8, 32),
    "rife-v4.22-lite": ((192, 128, 64, 32), (15, 28, 28, 28), 4, 32),
    "rife-v4.25": ((192, 128, 96, 64, 32), (15, 28, 28, 28, 28), 4, 64),
    "rife-v4.25-lite": ((192, 128, 96, 64, 24), (15, 28, 28, 28, 28), 4, 128),
    "rife-v4.25-heavy": ((384, 256, 192, 128, 64), (15, 28, 28, 28, 28), 4, 64),
    "rife-v4.26": ((192, 128, 96, 64, 32), (15, 28, 28, 28, 28), 4, 64),
    "rife-v4.26-heavy": ((192, 128, 96, 64, 32), (39, 52, 52, 52, 52), 16, 64),
}
# Versions whose published modules and forward pass are the same (their checkpoints are interchangeable).
SAME = [("rife-v4", "rife-v4.1"), ("rife-v4.2", "rife-v4.3", "rife-v4.4"), ("rife-v4.7", "rife-v4.8", "rife-v4.9"),
        ("rife-v4.10", "rife-v4.11", "rife-v4.12"), ("rife-v4.12-lite", "rife-v4.13-lite"),
        ("rife-v4.13", "rife-v4.14", "rife-v4.15", "rife-v4.17", "rife-v4.18", "rife-v4.19", "rife-v4.24"),
        ("rife-v4.15-lite", "rife-v4.16-lite", "rife-v4.17-lite"), ("rife-v4.21", "rife-v4.22", "rife-v4.23"),
        ("rife-v4.25", "rife-v4.26")]


def test_every_published_version_is_known():
    numbers = [v.number for v in spec.VERSIONS.values()]
    assert numbers == [f"4.{i}" for i in range(12)] + [
        "4.12", "4.12-lite", "4.13", "4.13-lite", "4.14", "4.14-lite", "4.15", "4.15-lite", "4.16-lite", "4.17",
        "4.17-lite", "4.18", "4.19", "4.20", "4.21", "4.22", "4.22-lite", "4.23", "4.24", "4.25", "4.25-lite",
        "4.25-heavy", "4.26", "4.26-heavy"]


@pytest.mark.parametrize("name", sorted(FACTS))
def test_spec_matches_published_facts(name):
    widths, planes, features, padding = FACTS[name]
    arch = spec.get(name).arch
    assert (arch.widths, arch.in_planes, arch.feature_channels, arch.padding) == (widths, planes, features, padding)
    assert len(arch.scales) == len(widths) and arch.scales[-1] == 1


def test_aliases_share_one_architecture_and_nothing_else_does():
    for group in SAME:
        assert {spec.get(n).arch for n in group} == {spec.get(group[0]).arch}
        assert spec.same_architecture(spec.get(group[0])) == list(group)
    grouped = {n for g in SAME for n in g}
    alone = [v for v in spec.VERSIONS.values() if v.name not in grouped]
    assert len({v.arch for v in alone}) == len(alone)  # e.g. 4.5 and 4.6 differ (lastconv 20 vs 24 channels)
    assert spec.get("4.5").arch != spec.get("4.6").arch


@pytest.mark.parametrize("spelling, folder, asset", [
    ("4.0", "rife-v4", "flownet_v4.0.pkl"), ("rife-v4", "rife-v4", "flownet_v4.0.pkl"),
    ("4.6", "rife-v4.6", "flownet_v4.6.pkl"), ("v4.13.lite", "rife-v4.13-lite", "flownet_v4.13.lite.pkl"),
    ("rife-v4.13_lite", "rife-v4.13-lite", "flownet_v4.13.lite.pkl"),
    ("4.26.heavy", "rife-v4.26-heavy", "flownet_v4.26.heavy.pkl"), ("RIFE-V4.25-LITE", "rife-v4.25-lite", None)])
def test_names_follow_rife_ncnn_vulkan_and_vs_rife(spelling, folder, asset):
    assert spec.model_dir_name(spelling) == folder
    if asset:
        assert pins.load()[folder].url == "https://github.com/HolyWu/vs-rife/releases/download/model/" + asset


def test_unknown_version_is_one_sentence_naming_the_key():
    with pytest.raises(ConfigError, match=r"^`model: 4.27` is not a known RIFE v4 version; use one of rife-v4, "):
        spec.get("4.27")
    with pytest.raises(ConfigError):
        spec.get("4.6-lite")


def test_sizes_must_respect_the_padding_multiple():
    spec.check_size(spec.get("4.26").arch, 768, 1280)
    with pytest.raises(ConfigError, match="736x1280 is not a multiple of 64.*use 768x1280"):
        spec.check_size(spec.get("4.26").arch, 736, 1280)
    assert check_sizes(32) == ((64, 96), (96, 128))
    assert check_sizes(64) == ((64, 128), (128, 192))
    assert check_sizes(128) == ((128, 128), (128, 256))


@pytest.mark.parametrize("name", ["rife-v4", "rife-v4.7", "rife-v4.26-heavy"])
def test_synthetic_checkpoint_has_the_versions_key_layout(name, tmp_path):
    state = weights.synthetic_state_dict(0, name)
    assert all(k.startswith("module.") for k in state)
    assert {k[7:]: tuple(v.shape) for k, v in state.items()} == weights.layout(spec.get(name).arch)
    assert all(torch.equal(state[k], v) for k, v in weights.synthetic_state_dict(0, name).items())
    weights.save_state_dict(state, tmp_path / "a.pkl")
    weights.save_state_dict(state, tmp_path / "b.pkl")
    assert (tmp_path / "a.pkl").read_bytes() == (tmp_path / "b.pkl").read_bytes()  # byte-deterministic
    net = weights.load_ifnet(tmp_path / "a.pkl", name)
    assert net.spec == spec.get(name).arch


def test_key_layouts_of_the_encoders():
    keys = set(weights.layout(spec.get("4.7").arch))
    assert {"encode.0.weight", "encode.1.weight"} <= keys and "encode.2.weight" not in keys
    assert {"encode.0.weight", "encode.6.weight"} <= set(weights.layout(spec.get("4.12").arch))
    assert {"encode.cnn0.weight", "encode.cnn3.bias"} <= set(weights.layout(spec.get("4.13").arch))
    old = weights.layout(spec.get("4.0").arch)
    assert old["block0.conv0.0.1.weight"] == (96,) and old["block0.lastconv.weight"] == (192, 5, 4, 4)  # PReLU
    assert weights.layout(spec.get("4.14-lite").arch)["block0.convblock.0.conv.weight"] == (192, 96, 3, 3)


def _save(tmp_path, name, extra=None):
    state = weights.synthetic_state_dict(0, name)
    state.update(extra or {})
    path = tmp_path / f"{name}.pkl"
    weights.save_state_dict(state, path)
    return path


def test_wrong_version_names_the_versions_it_is(tmp_path):
    path = _save(tmp_path, "rife-v4.13")
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(path, "rife-v4.6")
    assert str(info.value) == (
        f"{path}: not an IFNet v4.6 checkpoint: its keys and shapes are those of rife-v4.13, rife-v4.14, "
        "rife-v4.15, rife-v4.17, rife-v4.18, rife-v4.19, rife-v4.24; set `model:` to whichever of those it is or "
        "use the v4.6 flownet.pkl")
    weights.load_ifnet(path, "4.24")  # the same architecture loads


@pytest.mark.parametrize("actual, chosen", [("rife-v4.5", "rife-v4.6"), ("rife-v4.14-lite", "rife-v4.14"),
                                            ("rife-v4.26-heavy", "rife-v4.26"), ("rife-v4", "rife-v4.2")])
def test_same_keys_other_shapes_still_name_the_version(tmp_path, actual, chosen):
    with pytest.raises(CheckpointError, match=rf"its keys and shapes are those of {actual}(, [^;]*)?; set `model"):
        weights.load_ifnet(_save(tmp_path, actual), chosen)


def test_training_only_parts_are_dropped_and_unknown_keys_are_not(tmp_path):
    extra = {"module.teacher.conv0.0.0.weight": torch.zeros(1), "caltime.0.bias": torch.zeros(1)}
    weights.load_ifnet(_save(tmp_path, "rife-v4.26", extra), "rife-v4.26")
    with pytest.raises(CheckpointError, match=r"not an IFNet v4.26 checkpoint: 0 missing keys \[\], 1 unexpected "
                                              r"keys \[block9.x\]; use the v4.26 flownet.pkl$"):
        weights.load_ifnet(_save(tmp_path, "rife-v4.26", {"module.block9.x": torch.zeros(1)}), "rife-v4.26")


@pytest.mark.parametrize("name", ["rife-v4.6", "rife-v4.7"])
def test_ensemble_is_symmetric_in_the_two_frames(name):
    torch.manual_seed(0)
    net = IFNet(spec.get(name).arch, ensemble=True).eval()
    a, b = torch.rand(1, 3, 32, 64), torch.rand(1, 3, 32, 64)
    t = torch.full((1, 1, 32, 64), 0.3)
    with torch.no_grad():
        forward, backward = net(a, b, t), net(b, a, 1 - t)
    assert torch.allclose(forward, backward, atol=1e-5)
    plain = IFNet(spec.get(name).arch).eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(a, b, t), plain(b, a, 1 - t), atol=1e-5)  # the property is the ensemble's


def test_ensemble_is_refused_where_the_version_has_none():
    with pytest.raises(ValueError, match="no ensemble"):
        IFNet(spec.get("4.21").arch, ensemble=True)


@pytest.mark.parametrize("spelling, version, name", [
    ("rife-v4.6-ensemble", "4.6", "rife-v4.6-ensemble"),
    ("4.13-lite-ensemble", "4.13-lite", "rife-v4.13-lite-ensemble"),
    ("rife-v4_ensemble", "4.0", "rife-v4-ensemble"),
    ("rife-v4.24-ensemble", "4.24", "rife-v4.24-ensemble"),
])
def test_an_ensemble_id_resolves_to_its_version_in_ensemble_mode(spelling, version, name):
    """One place turns a model id into (version, mode); the name keeps the version's folder name as a
    prefix, which clients match to pick v4 mode and padding (VapourSynth-RIFE-ncnn-Vulkan)."""
    got = spec.get(spelling)
    assert (got.number, got.ensemble, got.name, got.base) == (version, True, name, spec.get(version).name)
    assert got.arch is spec.get(version).arch and name.startswith(got.base)
    plain = spec.get(version)
    assert not plain.ensemble and plain.name == plain.base


def test_the_ensemble_of_a_version_without_one_is_one_sentence_naming_the_key():
    with pytest.raises(ConfigError, match=r"^`model: rife-v4.22-ensemble`: rife-v4.22 has no ensemble mode .*; use "
                                          r"rife-v4.22$"):
        spec.get("rife-v4.22-ensemble")


def test_the_no_ensemble_sentence_names_the_versions_that_have_one():
    """The error's claim ("only the versions up to 4.20 and 4.24 have one") is the spec's table."""
    def number(v):
        return tuple(int(x) for x in v.number.split("-")[0].split("."))
    have = {n for n, v in spec.VERSIONS.items() if v.arch.ensemble}
    assert "up to 4.20 and 4.24" in spec.NO_ENSEMBLE
    assert have == {n for n, v in spec.VERSIONS.items() if number(v) <= (4, 20) or number(v) == (4, 24)}


def test_model_ids_pair_each_version_with_each_ensemble_mode():
    assert spec.model_ids(["rife-v4.6", "rife-v4.17-lite"], [False]) == (["rife-v4.6", "rife-v4.17-lite"], [])
    assert spec.model_ids(["rife-v4.6", "rife-v4.25", "rife-v4.17-lite"], [False, True]) == (
        ["rife-v4.6", "rife-v4.6-ensemble", "rife-v4.25", "rife-v4.17-lite", "rife-v4.17-lite-ensemble"], ["rife-v4.25"])
    assert spec.model_ids(["rife-v4.6"], [True]) == (["rife-v4.6-ensemble"], [])
    with pytest.raises(ConfigError, match=r"^ensemble: \[true\] builds only ensemble variants, but rife-v4.25 has no "
                                          r"ensemble mode .*remove rife-v4.25 from `models`$"):
        spec.model_ids(["rife-v4.6", "rife-v4.25"], [True])
    every = spec.all_model_ids()
    assert len(every) == len(set(every)) == len(spec.VERSIONS) + sum(v.arch.ensemble for v in spec.VERSIONS.values())


def test_an_ensemble_id_loads_its_versions_checkpoint_in_ensemble_mode(tmp_path):
    path = tmp_path / "flownet.pkl"
    weights.save_state_dict(weights.synthetic_state_dict(0, "rife-v4.6"), path)
    assert weights.load_ifnet(path, "rife-v4.6-ensemble").ensemble
    assert not weights.load_ifnet(path, "rife-v4.6").ensemble


def test_flops_count_convolutions_at_the_padded_size():
    total, size = flops("rife-v4.6", 736, 1280)
    assert size == (736, 1280) and 70e9 < total < 100e9
    heavy, size = flops("rife-v4.25-heavy", 736, 1280)
    assert size == (768, 1280) and heavy > 1.5 * total  # doubled widths


def test_config_key_model_lists_every_version_and_sizes_fit_each_version():
    assert config.load_schema()["$defs"]["version"]["enum"] == list(spec.VERSIONS)
    assert config.load(REPO / "config.yaml")["models"] == ["rife-v4.6"]
    assert spec.fit("rife-v4.6", 736, 1280) == (736, 1280)
    assert spec.fit("rife-v4.26", 736, 1280) == (768, 1280)
    assert spec.fit("rife-v4.25-lite", 256, 448) == (256, 512)
    for name in spec.VERSIONS:
        h, w = spec.fit(name, 736, 1280)
        spec.check_size(spec.get(name).arch, h, w)  # raises if the rounding missed the multiple
    with pytest.raises(ConfigError, match="^model: 'rife-v4.27' is not one of"):
        config.validate({"model": "rife-v4.27"})
