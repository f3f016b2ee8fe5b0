"""Hypervisor and Guest: a thin, careful wrapper over the libvirt calls this package makes.

Modelled on Nova's ``guest.py``/``host.py``: no decisions, only calls; every
``libvirtError`` becomes a :class:`~pulumi_vigo_vm.errors.LibvirtCallError` that keeps
libvirt's error code, and "no such domain" becomes ``None``. A call that fails because
the connection died (:func:`~.connection.is_broken`) drops it from the cache, so the next
call reconnects; an idempotent read is retried once on a new connection when the error
itself says the link is lost (:func:`~.connection.is_connection_lost`).

Every call that libvirt answers by asking the qemu guest agent goes through
:meth:`Guest._agent`, which first sets the domain's agent response timeout to
:data:`AGENT_TIMEOUT_S`: libvirt's default is to block forever, so an agent (a program in
the guest) that answers the sync and then stalls would hang the provider. Nothing else
here lets libvirt talk to the agent (``shutdown`` presses the ACPI button explicitly).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple, TypeVar

import libvirt

from ..errors import DefineConflictError, LibvirtCallError
from .connection import drop_if_lost, is_broken, is_connection_lost, libvirt_connection
from .power import PowerState

__all__ = [
    "AGENT_TIMEOUT_S",
    "DomainDefinition",
    "DomainSnapshot",
    "Guest",
    "Hypervisor",
    "PowerState",
]

T = TypeVar("T")

AGENT_TIMEOUT_S: Final = 5
"""Seconds libvirt waits for the guest agent's answer to one command (its sync before it has
its own bound of the same 5 s, ``QEMU_AGENT_WAIT_TIME``): a working agent answers in
milliseconds; a guest whose agent does not answer in time has its agent source counted as
unavailable for that look, never fatal."""

# Undefine must also drop what libvirt keeps beside a domain, or it refuses; the NVRAM
# and TPM flags remove the VM's UEFI variables and swtpm state (both harmless for a domain
# that has neither, as every domain of the previous release). Snapshot metadata is not
# among them: a domain that holds snapshots is refused by libvirt ("cannot delete inactive
# domain with N snapshots"), so none is ever dropped silently (the VM's provider refuses
# first, naming them; this is the backstop should one appear in between).
_UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | getattr(libvirt, "VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA", 0)
    | getattr(libvirt, "VIR_DOMAIN_UNDEFINE_TPM", 0)
)
_UNDEFINE_TPM = getattr(libvirt, "VIR_DOMAIN_UNDEFINE_TPM", 0)
_UNDEFINE_KEEP_TPM = getattr(libvirt, "VIR_DOMAIN_UNDEFINE_KEEP_TPM", 0)


_JOB_OPERATIONS = {
    libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT: "a migration",
    libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_IN: "an incoming migration",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SAVE: "a save",
    libvirt.VIR_DOMAIN_JOB_OPERATION_RESTORE: "a restore",
    libvirt.VIR_DOMAIN_JOB_OPERATION_DUMP: "a dump",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT: "a snapshot",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_REVERT: "a snapshot revert",
    libvirt.VIR_DOMAIN_JOB_OPERATION_SNAPSHOT_DELETE: "a snapshot delete",
    libvirt.VIR_DOMAIN_JOB_OPERATION_BACKUP: "a backup",
}
"""libvirt's job operations, as a refusal names them."""

_POWER_STATES = {
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.SHUTTING_DOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
}


_AUTOSTART_ON: Final = libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART
_AUTOSTART_OFF: Final = libvirt.VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART


class DomainDefinition(NamedTuple):
    """One domain as a listing of the host sees it."""

    name: str
    persistent_xml: str
    """The inactive definition (for a transient domain: its live one)."""
    live_xml: str | None
    """The definition the running domain was started with; None when it is not running."""


class DomainSnapshot(NamedTuple):
    """One snapshot of a domain as libvirt keeps it: its name and its XML (the description
    carrying a claim, the disks it covers, the domain as it was)."""

    name: str
    xml: str


class Hypervisor:
    """One libvirt URI. Holds only the URI; the connection comes from the shared cache."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[libvirt.virConnect]:
        conn = libvirt_connection(self.uri)
        try:
            yield conn
        except libvirt.libvirtError as exc:
            drop_if_lost(self.uri, conn, exc)
            raise LibvirtCallError(
                f"{what} on {self.uri} failed: {exc.get_error_message()}", exc.get_error_code()
            ) from exc

    def _read(self, what: str, call: Callable[[libvirt.virConnect], T]) -> T:
        """Run an idempotent read, retrying once on a fresh connection if the old one died."""
        try:
            with self._call(what) as conn:
                return call(conn)
        except LibvirtCallError as exc:
            cause = exc.__cause__
            if not (isinstance(cause, libvirt.libvirtError) and is_connection_lost(cause)):
                raise
        with self._call(what) as conn:
            return call(conn)

    def lookup(self, name: str) -> Guest | None:
        """The domain named ``name``, or None when no such domain is defined."""
        return self._find(name, lambda conn: conn.lookupByName(name), name)

    def lookup_uuid(self, uuid: str) -> Guest | None:
        """The domain whose UUID is ``uuid``, whatever its name, or None."""
        return self._find(uuid, lambda conn: conn.lookupByUUIDString(uuid))

    def _find(
        self,
        key: str,
        lookup: Callable[[libvirt.virConnect], libvirt.virDomain],
        name: str | None = None,
    ) -> Guest | None:
        def find(conn: libvirt.virConnect) -> libvirt.virDomain | None:
            try:
                return lookup(conn)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return None
                raise

        domain = self._read(f"looking up domain {key}", find)
        return None if domain is None else Guest(self, domain, name)

    def domain_definitions(self) -> list[DomainDefinition]:
        """Every domain on the host, persistent or transient, running or not, with its
        definitions: what "which domains use this file" is answered from. A domain that
        vanishes while the listing runs is left out."""

        def describe(domain: libvirt.virDomain) -> DomainDefinition | None:
            try:
                persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
                live = domain.XMLDesc(0) if domain.isActive() else None
                return DomainDefinition(domain.name(), str(persistent), live and str(live))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return None
                raise

        def listing(conn: libvirt.virConnect) -> list[DomainDefinition]:
            found = (describe(domain) for domain in conn.listAllDomains(0))
            return [definition for definition in found if definition is not None]

        return self._read("listing the domains", listing)

    def autostart_flags(self) -> dict[str, bool]:
        """Each domain's autostart flag by UUID, in two listings (``listAllDomains`` with
        the AUTOSTART and NO_AUTOSTART filters) instead of one call per domain. A domain
        whose flag changed between the two (found in both) is left out, as is one defined
        after them: ask :meth:`Guest.autostart` for those."""

        def listing(conn: libvirt.virConnect) -> dict[str, bool]:
            on = {d.UUIDString() for d in conn.listAllDomains(_AUTOSTART_ON)}
            off = {d.UUIDString() for d in conn.listAllDomains(_AUTOSTART_OFF)}
            return {uuid: uuid in on for uuid in on ^ off}

        return self._read("listing the domains' autostart flags", listing)

    def define(self, xml: str) -> Guest:
        """Define (or redefine, same name and UUID) a persistent domain.

        Raises :class:`~pulumi_vigo_vm.errors.DefineConflictError` when a domain of that name
        or UUID already exists with another identity."""
        try:
            with self._call("defining a domain") as conn:
                return Guest(self, conn.defineXML(xml))
        except LibvirtCallError as exc:
            if exc.code == libvirt.VIR_ERR_OPERATION_FAILED:
                raise DefineConflictError(str(exc), exc.code) from exc
            raise

    def pool_volume_path(self, pool: str, volume: str) -> str | None:
        """The host path of ``volume`` in storage pool ``pool``, or None if either is missing."""

        def find(conn: libvirt.virConnect) -> str | None:
            try:
                return str(conn.storagePoolLookupByName(pool).storageVolLookupByName(volume).path())
            except libvirt.libvirtError as exc:
                if exc.get_error_code() in (
                    libvirt.VIR_ERR_NO_STORAGE_POOL,
                    libvirt.VIR_ERR_NO_STORAGE_VOL,
                ):
                    return None
                raise

        return self._read(f"resolving volume {pool}:{volume}", find)

    def network_active(self, network: str) -> bool | None:
        """Whether libvirt network ``network`` is running; None when there is no such network."""

        def state(conn: libvirt.virConnect) -> bool | None:
            try:
                return bool(conn.networkLookupByName(network).isActive())
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
                    return None
                raise

        return self._read(f"looking up network {network}", state)

    def network_leases(self, network: str) -> list[dict[str, Any]] | None:
        """The DHCP leases libvirt's dnsmasq holds on ``network``, or None when there is no
        such network (or it is not running): the source is unavailable, not an error."""

        def leases(conn: libvirt.virConnect) -> list[dict[str, Any]] | None:
            try:
                found = conn.networkLookupByName(network).DHCPLeases()
            except libvirt.libvirtError as exc:
                if is_broken(conn, exc):
                    raise
                return None
            return list(found)

        return self._read(f"reading the DHCP leases of network {network}", leases)

    def capabilities_xml(self) -> str:
        """``virConnectGetCapabilities``: the host and the guest arches it runs."""
        return str(self._read("reading host capabilities", lambda conn: conn.getCapabilities()))

    def domain_capabilities_xml(self, arch: str, machine: str, virttype: str) -> str:
        """``virConnectGetDomainCapabilities`` for one arch, machine and domain type:
        firmware, TPM and CPU modes libvirt offers there."""
        return str(
            self._read(
                f"reading domain capabilities of {arch} {machine}",
                lambda conn: conn.getDomainCapabilities(None, arch, machine, virttype, 0),
            )
        )

    def architecture(self) -> str:
        """The host CPU architecture (``x86_64``, ``aarch64``...)."""
        return str(self._read("reading host info", lambda conn: conn.getInfo()[0]))

    # --- What a VM's hardware and tuning need of the host (operations spec §4) ----------

    def node_device_xml(self, name: str) -> str | None:
        """The XML of node device ``name`` (``pci_0000_3b_00_0``), or None when the host
        has none of that name (``virsh nodedev-dumpxml``)."""

        def find(conn: libvirt.virConnect) -> str | None:
            try:
                return str(conn.nodeDeviceLookupByName(name).XMLDesc(0))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_NODE_DEVICE:
                    return None
                raise

        return self._read(f"looking up node device {name}", find)

    def usb_devices_xml(self) -> list[str]:
        """The XML of every USB device the host has (``virsh nodedev-list --cap
        usb_device``)."""

        def listing(conn: libvirt.virConnect) -> list[str]:
            flags = libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV
            return [str(device.XMLDesc(0)) for device in conn.listAllDevices(flags)]

        return self._read("listing the USB devices", listing)

    def free_pages(self, page_kib: int, cells: int) -> dict[int, int]:
        """Free pages of ``page_kib`` on each of the host's NUMA nodes 0..``cells``-1
        (``virsh freepages``)."""

        def free(conn: libvirt.virConnect) -> dict[int, int]:
            found = conn.getFreePages([page_kib], 0, cells, 0) or {}
            return {int(cell): int(sizes.get(page_kib, 0)) for cell, sizes in found.items()}

        return self._read(f"reading the free {page_kib} KiB pages", free)

    def library_version(self) -> int:
        """libvirt's version on the host, as ``major * 1000000 + minor * 1000 + micro``."""
        return int(self._read("reading the libvirt version", lambda conn: conn.getLibVersion()))


class Guest:
    """One libvirt domain. Every method is a single libvirt call."""

    def __init__(
        self, hypervisor: Hypervisor, domain: libvirt.virDomain, name: str | None = None
    ) -> None:
        """``name``: the domain's name when the caller knows it (it looked it up by name),
        so that it is not asked of libvirt again."""
        self._hypervisor = hypervisor
        self._domain = domain
        self.name: str = name if name is not None else domain.name()

    @contextlib.contextmanager
    def _call(self, what: str) -> Iterator[None]:
        with self._hypervisor._call(f"{what} domain {self.name}"):
            yield

    def power_state(self) -> PowerState:
        """The current run state."""
        with self._call("reading the state of"):
            state, _reason = self._domain.state()
        return _POWER_STATES.get(state, PowerState.UNKNOWN)

    def xml(self) -> str:
        """The persistent (inactive) definition: what the next boot will use."""
        with self._call("reading the definition of"):
            return str(self._domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    def running_xml(self) -> str:
        """The definition the running domain was started with (differs from :meth:`xml`
        until the next boot after a redefine)."""
        with self._call("reading the running definition of"):
            return str(self._domain.XMLDesc(0))

    def set_marker(self, xml: str, prefix: str, namespace: str) -> None:
        """Rewrite our ``<metadata>`` element in place, in the persistent definition and,
        when it runs, the live one: no redefine, no restart."""
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if self._domain.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        with self._call("marking"):
            self._domain.setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, prefix, namespace, flags
            )

    def autostart(self) -> bool:
        """Whether libvirt starts the domain when the host (its libvirtd) boots."""
        with self._call("reading the autostart flag of"):
            return bool(self._domain.autostart())

    def set_autostart(self, enabled: bool) -> None:
        """Set libvirt's autostart flag: no redefine, no restart."""
        with self._call("setting the autostart flag of"):
            self._domain.setAutostart(int(enabled))

    def job(self) -> str | None:
        """The job the domain runs, named ("a migration", "a save", "a dump", ...; "a job"
        where libvirt does not say which), or None (virsh domjobinfo)."""
        with self._call("reading the job of"):
            stats = self._domain.jobStats()
        if stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE) == libvirt.VIR_DOMAIN_JOB_NONE:
            return None
        return _JOB_OPERATIONS.get(stats.get("operation"), "a job")

    def block_job_active(self, target: str) -> bool:
        """A block job (copy, commit, pull) runs on the disk ``target`` (``vda``...)."""
        with self._call(f"reading the block job on {target} of"):
            return bool(self._domain.blockJobInfo(target, 0))

    def migrate(
        self, dest: Hypervisor, persistent_xml: str, disks: list[str], *, full: bool
    ) -> None:
        """Move the running domain to ``dest``, live, with the block devices ``disks``
        copied by qemu: only the top image's own blocks (the base is there already), or the
        whole disk with ``full``. libvirt's managed migration, driven over this process's
        own connection to each host (no third connection: the source's libvirtd opens none
        of its own); the memory and disks flow qemu to qemu, host to host, to the address
        the destination names (its ``migration_host``, else its hostname). Blocks until the
        domain runs there, or raises (then it runs on here and libvirt has removed it
        there). The destination keeps ``persistent_xml`` as its definition; the source's
        stays defined (inactive) for the caller to remove once it has looked."""
        flags = (
            libvirt.VIR_MIGRATE_LIVE
            | libvirt.VIR_MIGRATE_PERSIST_DEST
            | libvirt.VIR_MIGRATE_ABORT_ON_ERROR
            | libvirt.VIR_MIGRATE_AUTO_CONVERGE
            | (libvirt.VIR_MIGRATE_NON_SHARED_DISK if full else libvirt.VIR_MIGRATE_NON_SHARED_INC)
        )
        params: dict[str, Any] = {
            libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: persistent_xml,
            libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: disks,
        }
        with self._call(f"migrating to {dest.uri}"), dest._call("receiving a migration") as dconn:
            self._domain.migrate3(dconn, params, flags)

    def job_stats(self, *, completed: bool = False) -> dict[str, Any]:
        """The domain's job statistics (``virsh domjobinfo``): bytes processed, total and
        remaining, rates; with ``completed``, those of the job that just ended (its
        ``downtime`` in ms among them). Empty when no job runs."""
        flags = libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED if completed else 0
        with self._call("reading the job of"):
            stats: dict[str, Any] = self._domain.jobStats(flags)
        return stats

    def abort_job(self) -> None:
        """Cancel the job the domain runs (a migration: it keeps running here)."""
        with self._call("aborting the job of"):
            self._domain.abortJob()

    def start(self) -> None:
        """Boot the domain from its persistent definition."""
        with self._call("starting"):
            self._domain.create()

    def resume(self) -> None:
        """Continue a paused domain."""
        with self._call("resuming"):
            self._domain.resume()

    def wakeup(self) -> None:
        """Wake a guest from ACPI suspend (S3/S4 as libvirt's pmsuspended)."""
        with self._call("waking up"):
            self._domain.pMWakeup(0)

    def shutdown(self) -> None:
        """Ask the guest to power off (ACPI power button). Returns at once.

        The button is named: with no flag libvirt asks the guest agent first, when one is
        connected, and waits up to a minute for it."""
        with self._call("shutting down"):
            self._domain.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)

    def destroy(self) -> None:
        """Power off at once (pull the plug). Disks are untouched."""
        with self._call("powering off"):
            self._domain.destroy()

    def undefine(self, *, keep_state: bool = False) -> None:
        """Forget the definition, with the flags managed-save, NVRAM and TPM state need (the
        NVRAM file and swtpm state go with it, unless ``keep_state``: an adopted domain's are
        not ours). Refused by libvirt while the domain holds snapshots."""
        flags = _UNDEFINE_FLAGS
        if keep_state:
            flags &= ~(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | _UNDEFINE_TPM)
            flags |= libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM | _UNDEFINE_KEEP_TPM
        with self._call("undefining"):
            self._domain.undefineFlags(flags)

    def rename(self, new_name: str) -> None:
        """Rename the (inactive) domain; libvirt refuses for a running one."""
        with self._call("renaming"):
            self._domain.rename(new_name, 0)
        self.name = new_name

    def agent_addresses(self) -> dict[str, Any] | None:
        """``virDomainInterfaceAddresses`` as the guest agent reports them, or None when the
        agent cannot answer (none running in the guest, or not within
        :data:`AGENT_TIMEOUT_S`): unavailable, never fatal."""
        source = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT
        found = self._agent(
            "reading the agent's addresses of", lambda d: d.interfaceAddresses(source, 0)
        )
        return None if found is None else dict(found or {})

    def _agent(self, what: str, call: Callable[[libvirt.virDomain], T]) -> T | None:
        """``call`` on the domain with the agent response timeout set first (the one place
        every guest agent call goes through), or None when the agent did not answer. A lost
        connection is still an error."""
        try:
            self._domain.agentSetResponseTimeout(AGENT_TIMEOUT_S, 0)
            return call(self._domain)
        except libvirt.libvirtError as exc:
            if is_broken(self._domain.connect(), exc):
                with self._call(what):
                    raise
            return None

    def set_vcpus_live(self, count: int) -> None:
        """Hot-plug (or unplug) vCPUs of the running guest, up to its ``<vcpu>`` maximum.
        The running guest only: the persistent definition is the redefine's."""
        with self._call("setting the vCPUs of"):
            self._domain.setVcpusFlags(count, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_memory_live(self, mib: int) -> None:
        """Set the balloon's target for the running guest, up to its ``<memory>``."""
        with self._call("setting the memory of"):
            self._domain.setMemoryFlags(mib * 1024, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def set_io_limits_live(self, target: str, iops: int | None, bytes_per_s: int | None) -> None:
        """Set a disk's total IO limits in the running guest (``virDomainSetBlockIoTune``;
        None: no limit). The running guest only: the persistent definition is the
        redefine's."""
        limits = {"total_iops_sec": iops or 0, "total_bytes_sec": bytes_per_s or 0}
        with self._call("setting the IO limits of"):
            self._domain.setBlockIoTune(target, limits, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def attach_live(self, device_xml: str) -> None:
        """Hot-plug one device into the running guest."""
        with self._call("hot-plugging a device into"):
            self._domain.attachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def detach_live(self, device_xml: str) -> None:
        """Ask the running guest to release one device. Returns once asked (libvirt waits a
        few seconds at most): the guest may take longer, or never; read the running
        definition to know (as Nova's ``detach_device_with_retry`` does)."""
        with self._call("unplugging a device from"):
            self._domain.detachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def block_resize(self, target: str, size_bytes: int) -> None:
        """Grow a disk of the running guest (its overlay) to ``size_bytes``."""
        with self._call("resizing a disk of"):
            self._domain.blockResize(target, size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)

    def snapshots(self) -> list[DomainSnapshot]:
        """Every snapshot libvirt keeps for the domain (one vanishing meanwhile is left out)."""

        def describe(snapshot: libvirt.virDomainSnapshot) -> DomainSnapshot | None:
            try:
                return DomainSnapshot(str(snapshot.getName()), str(snapshot.getXMLDesc(0)))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                    return None
                raise

        with self._call("listing the snapshots of"):
            found = (describe(snapshot) for snapshot in self._domain.listAllSnapshots(0))
            return [snapshot for snapshot in found if snapshot is not None]

    def snapshot(self, name: str) -> DomainSnapshot | None:
        """The snapshot called ``name``, or None when the domain has none of that name."""
        with self._call(f"looking up snapshot {name} of"):
            try:
                found = self._domain.snapshotLookupByName(name, 0)
                return DomainSnapshot(name, str(found.getXMLDesc(0)))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                    return None
                raise

    def create_snapshot(self, xml: str) -> None:
        """Take the snapshot ``xml`` describes, atomically: on failure libvirt leaves no
        snapshot (its metadata nor the disks' internal snapshots) behind."""
        with self._call("snapshotting"):
            self._domain.snapshotCreateXML(xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)

    def redefine_snapshot(self, xml: str) -> None:
        """Rewrite an existing snapshot's metadata (its description) from ``xml``, the
        snapshot's own XML edited: the disks' data is not touched."""
        with self._call("redefining a snapshot of"):
            self._domain.snapshotCreateXML(xml, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)

    def delete_snapshot(self, name: str) -> bool:
        """Delete the snapshot ``name`` (its metadata and the disks' internal snapshots; a
        child is re-parented). Returns False when there was none of that name."""
        with self._call(f"deleting snapshot {name} of"):
            try:
                self._domain.snapshotLookupByName(name, 0).delete(0)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                    return False
                raise
        return True
