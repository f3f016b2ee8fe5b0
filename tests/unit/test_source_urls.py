"""A source URL as it may be shown: a query or userinfo is redacted in every spelling a
library may quote it in, and a plain URL is shown as it is."""

from __future__ import annotations

import pytest

from pulumi_vigo_vm.baseimage.spec import check_inputs
from pulumi_vigo_vm.baseimage.urls import carries_secret, scrubbed, shown
from pulumi_vigo_vm.spec import ProviderDefaults

PRESIGNED = "https://b.s3.example/k/img.qcow2?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=5ec2e7"


def test_a_query_or_userinfo_can_hold_a_secret_and_is_redacted() -> None:
    assert carries_secret(PRESIGNED) and carries_secret("https://u:p@h/x.img")
    assert not carries_secret("https://h/x.img") and not carries_secret("file:///srv/x.img")
    assert shown(PRESIGNED) == "https://b.s3.example/k/img.qcow2?<redacted>"
    assert shown("https://u:p@h:8443/x.img") == "https://<redacted>@h:8443/x.img"
    assert shown("https://h/x.img") == "https://h/x.img"


@pytest.mark.parametrize(
    "said",
    [
        f"GET {PRESIGNED} failed",
        "Max retries exceeded with url: /k/img.qcow2?" + PRESIGNED.split("?")[1],
        "url: /k/img.qcow2?X-Amz-Credential=AKIA/x&X-Amz-Signature=5ec2e7 (unquoted)",
    ],
)
def test_every_spelling_of_the_secret_is_scrubbed_from_a_message(said: str) -> None:
    cleaned = scrubbed(said, PRESIGNED)

    assert "5ec2e7" not in cleaned and "AKIA" not in cleaned, cleaned


def test_check_failures_never_echo_a_query() -> None:
    _, faults = check_inputs(
        {"source": "ftp://h/x.img?sig=5ec2e7", "sha256": "ab" * 32},
        ProviderDefaults(images_dir="/i", uri="qemu:///system"),
    )

    assert faults and all("5ec2e7" not in fault.reason for fault in faults)
