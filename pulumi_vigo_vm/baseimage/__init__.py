"""VigoBaseImage: a base image downloaded from a URL, verified, and placed on a hypervisor.

Pure parts: :mod:`.spec` (inputs, defaults, what a change does), :mod:`.decompress`,
:mod:`.progress`, :mod:`.record` (the digest record's text). Effects: :mod:`.download`
(the source, on the runner), :mod:`.fetch` (to a temporary on the host, either way),
:mod:`.place` (verify, check, move into place, adopt, remove). Glue: :mod:`.provider`,
:mod:`.resource`.
"""
