"""Curator artifacts: VM base images published to an OCI registry or image-layout directory.

The provider needs three calls::

    ref = parse_reference("alexander4/ubuntu-22.04-cloud:1.4")          # pure, validates input
    resolved = resolve(ref, curator, puddle, platform="linux-amd64")    # read-only, for preview
    path = materialise(host, resolved)                                  # on the hypervisor, once

``path`` is then the backing file of the VM's qcow2 overlay.
"""
