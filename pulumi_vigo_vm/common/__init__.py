"""Pure facts every resource shares: libvirt URIs (:mod:`.uri`), numbers as the engine sends
them (:mod:`.numbers`), qcow2 headers (:mod:`.qcow2`), the claim's grammar (:mod:`.claimtext`),
a host's capabilities (:mod:`.hostcaps`). No I/O, and no import of a resource."""
