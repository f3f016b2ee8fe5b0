"""VigoDisk: a data disk that outlives its VMs (fleet spec §3).

:mod:`.spec` validates (pure), :mod:`.plan` decides (pure), :mod:`.effects` is the only code
that changes a data disk, :mod:`.provider` wires them, :mod:`.resource` declares.
"""
