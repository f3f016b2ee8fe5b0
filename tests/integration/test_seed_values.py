"""What reaches the guest's seed is what the program wrote, against a real libvirtd: numbers
keep their type across the engine's wire, and a network-config a guest could not read is
refused at preview, naming the input, before anything is made."""

from __future__ import annotations

import io
import json
import re

import pycdlib
import pytest
from support.lab import Lab

from pulumi_vigo_vm.testing import CheckFailedError

pytestmark = pytest.mark.libvirt


def seed_file(lab: Lab, short: str, name: str) -> str:
    """The text of ``name`` in VM ``short``'s seed ISO, read with pycdlib."""
    (seed,) = lab.seeds(short)
    iso = pycdlib.PyCdlib()
    iso.open(str(seed))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=f"/{name}")
        return out.getvalue().decode()
    finally:
        iso.close()


def test_integers_in_meta_data_reach_the_seed_as_integers(lab: Lab) -> None:
    meta = {"port": 8080, "ratio": 0.5, "nested": {"ports": [22, 443], "on": True}}
    lab.vm("a", state="defined", cloud_init_meta_data=meta)
    lab.up()

    text = seed_file(lab, "a", "meta-data")
    written = json.loads(text)
    assert {k: written[k] for k in meta} == meta
    assert type(written["port"]) is int and type(written["nested"]["ports"][0]) is int
    assert "8080.0" not in text and "443.0" not in text
    assert lab.harness().preview().counts() == {"same": 1}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("version: 2\nethernets:\n  eth0: [dhcp4: true\n", r"not valid YAML at line 4, column 1"),
        ("ethernets: {}\n", "must say 'version: 1' or 'version: 2'"),
        ("- version: 2\n", "must be a YAML mapping"),
    ],
)
def test_a_network_config_a_guest_cannot_read_fails_preview_naming_the_input(
    lab: Lab, document: str, reason: str
) -> None:
    lab.vm("a", state="defined", cloud_init_network_config=document)

    with pytest.raises(CheckFailedError) as caught:
        lab.preview()

    (failure,) = caught.value.failures
    assert failure.property == "cloud_init_network_config"
    assert re.search(reason, failure.reason), failure
    with pytest.raises(CheckFailedError):
        lab.up()
    assert lab.domains() == set() and lab.files() == set()
