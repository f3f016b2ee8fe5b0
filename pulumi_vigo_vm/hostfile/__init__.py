"""A file on a hypervisor that a resource owns, refused while in use: the lifecycle that
VigoDisk and VigoBaseImage share. :mod:`.claim` decides (pure), :mod:`.ops` acts, and
:mod:`.side` holds the files we write beside it (records, sidecars) to the same rules."""
