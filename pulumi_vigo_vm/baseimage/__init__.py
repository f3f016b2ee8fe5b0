"""VigoBaseImage: a base image downloaded from a URL, verified, and placed on a hypervisor.

Pure parts: :mod:`.spec` (inputs, defaults, what a change does), :mod:`.urls`,
:mod:`.limits`, :mod:`.decompress`, :mod:`.progress`. Effects: :mod:`.record` (the digest
record beside the file), :mod:`.download` (the source, on the runner), :mod:`.fetch` (to a
temporary on the host, either way), :mod:`.place` (verify, check, move into place, adopt,
remove). Glue: :mod:`.provider`,
:mod:`.resource`.
"""
