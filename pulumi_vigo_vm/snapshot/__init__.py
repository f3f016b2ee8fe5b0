"""VigoSnapshot: an internal snapshot of a VM's disks, taken before a risky change
(operations spec §5).

:mod:`.spec` validates (pure), :mod:`.plan` decides what the snapshot covers or why it
cannot be taken (pure), :mod:`.effects` is the only code that takes or deletes one,
:mod:`.provider` wires them, :mod:`.resource` declares.
"""
