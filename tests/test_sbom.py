"""The bundle's CycloneDX SBOM (issue 21 item 4): valid against the CycloneDX 1.6 JSON schema (the spec's
own Python library validates it), complete (every lock pin, the ncnn source sha256, compilers and cmake
with the versions they report), deterministic, listed in MANIFEST and checked by `release verify`."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from test_release import bundle, outputs, repo  # noqa: F401  (fixtures)

from rifebuild.core.config import validate
from rifebuild.core.files import sha256_of
from rifebuild.release import sbom
from rifebuild.release.verify import verify


def first_line(tool: str) -> str:
    return subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]


def test_bundle_sbom_is_valid_cyclonedx_and_listed_in_the_manifest(bundle):  # noqa: F811
    data = (bundle / sbom.NAME).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(data) is None
    broken = data.replace('"alg": "SHA-256"', '"alg": "SHA-257"')  # the validator does refuse a bad one
    assert broken != data and JsonStrictValidator(SchemaVersion.V1_6).validate_str(broken) is not None
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["sbom"] == {"path": sbom.NAME, "size": len(data.encode()), "sha256": sha256_of(bundle / sbom.NAME)}
    bom = json.loads(data)
    assert "timestamp" not in bom["metadata"] and bom["metadata"]["component"]["version"] == manifest["git"]["commit"]
    names = {c["name"]: c for c in bom["components"]}
    assert {"gcc", "g++", "cmake"} <= set(names) and "aarch64-linux-gnu-gcc" not in names  # host binaries only
    assert names["gcc"]["description"] == first_line("gcc")
    assert names["gcc"]["version"] in first_line("gcc") and names["cmake"]["version"] in first_line("cmake")
    native = manifest["config"]["native"]
    assert names["ncnn"]["version"] == native["ncnn_version"]
    assert names["ncnn"]["hashes"] == [{"alg": "SHA-256", "content": native["ncnn_sha256"]}]


def test_sbom_lists_every_locked_package_and_the_cross_compilers():
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("no aarch64 cross compiler here")
    bom = json.loads(sbom.render(sbom.LOCK, validate({})["native"], ["host", "linux-arm64"], {"commit": None}))
    pins = [line.split("==") for line in sbom.LOCK.read_text().splitlines() if "==" in line and line[0] != "#"]
    python = {c["name"]: c for c in bom["components"] if c.get("purl", "").startswith("pkg:pypi/")}
    assert {name: c["version"] for name, c in python.items()} == dict(pins)
    assert python["torch"]["purl"] == f"pkg:pypi/torch@{dict(pins)['torch']}"
    tools = {c["name"]: c["version"] for c in bom["components"] if c["bom-ref"].startswith("tool:")}
    assert list(tools) == ["gcc", "g++", "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "cmake"]
    assert tools["aarch64-linux-gnu-g++"] in first_line("aarch64-linux-gnu-g++")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None


def test_serial_number_is_derived_from_the_content():
    native = validate({})["native"]
    a = json.loads(sbom.render(sbom.LOCK, native, [], {"commit": "a" * 40}))
    assert a == json.loads(sbom.render(sbom.LOCK, native, [], {"commit": "a" * 40}))
    b = json.loads(sbom.render(sbom.LOCK, native, [], {"commit": "b" * 40}))
    assert a["serialNumber"] != b["serialNumber"] and a["serialNumber"].startswith("urn:uuid:")


def test_verify_names_a_changed_or_missing_sbom(bundle):  # noqa: F811
    bom = bundle / sbom.NAME
    bom.write_text(bom.read_text().replace('"cmake"', '"cmake2"'))
    assert f"changed: {sbom.NAME} (differs from MANIFEST.json)" in verify(bundle)[1]
    bom.unlink()
    assert f"missing: {sbom.NAME}" in verify(bundle)[1]
