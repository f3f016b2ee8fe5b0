"""libvirt, and only libvirt: the calls, the connections they ride on, and the SSH tunnel.

* :mod:`.hypervisor` — :class:`Hypervisor` (one URI) and :class:`Guest` (one domain): thin
  calls, every ``libvirtError`` a :class:`~pulumi_vigo_vm.errors.LibvirtCallError`;
* :mod:`.connection` — one cached connection per URI, reopened when it died, and the rule
  for "this error means the connection is lost";
* :mod:`.tunnel` — libvirt RPC over an exec channel of the host's paramiko transport, so a
  ``qemu+ssh://`` run opens one SSH connection per host.

Files and commands on a host are :mod:`pulumi_vigo_vm.hosts`; pure modules never import
this package.
"""
