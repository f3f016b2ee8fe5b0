"""The compat suite runs against the same real libvirtd as the integration suite: its
fixtures (``libvirt_conn``, ``bridge``) are ``tests/conftest.py``'s."""
