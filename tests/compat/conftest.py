"""The compat suite runs against the same real libvirtd as the integration suite."""

from integration.conftest import bridge, libvirt_conn

__all__ = ["bridge", "libvirt_conn"]
