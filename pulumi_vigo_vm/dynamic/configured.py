"""The base of the package's dynamic providers: defaults from stack config, no secret.

Each provider object is pickled into the program's state (the ``__provider`` blob) when a
resource is declared, before the engine's Configure reaches the provider process; so the
object holds only :class:`~pulumi_vigo_vm.spec.ProviderDefaults` as built then, and
``configure`` replaces them with the stack's ``vigo:*`` config in the process that serves
the calls.
"""

from __future__ import annotations

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from ..spec import ProviderDefaults
from . import lastwords

__all__ = ["ConfiguredProvider"]


class ConfiguredProvider(ResourceProvider):
    """A dynamic provider whose omitted inputs take their defaults from ``vigo:*`` config."""

    serialize_as_secret_always = False
    """Its pickle is the class by reference plus the defaults built before Configure: no
    secret, so the ``__provider`` blob need not be encrypted in every resource's state."""

    def __init__(self) -> None:
        super().__init__()
        self._defaults = ProviderDefaults()

    def configure(self, req: ConfigureRequest) -> None:
        """Take ``vigo:uri``, ``vigo:domainType``, ``vigo:imagesDir``, ``vigo:curator``,
        ``vigo:puddle``, ``vigo:artifactsDir`` from stack config as defaults.

        Only the provider process configures a provider (the program never does): so this
        is also where that process is made to leave its reason if it dies
        (:func:`~pulumi_vigo_vm.dynamic.lastwords.install`, once per process)."""
        lastwords.install()
        self._defaults = ProviderDefaults.from_config(lambda key: req.config.get(f"vigo:{key}"))
