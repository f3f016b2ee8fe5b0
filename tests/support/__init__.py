"""What several test suites share, as plain modules (not conftests, so any suite imports
them without clashing with its own conftest): the per-test world under /var/tmp and the
local libvirtd (:mod:`.world`), disk inspection with qemu-img and qemu-io (:mod:`.disks`),
the Lab driving ``tests/integration/program`` (:mod:`.lab`), its artifact-backed variant
(:mod:`.artifacts`) and its VigoSnapshot variant (:mod:`.snapshots`), the private sshd
(:mod:`.sshd`) and docker-registry (:mod:`.registry`), the two-host rig (:mod:`.twohost`).
The session fixtures built on them live in ``tests/conftest.py``.
"""
