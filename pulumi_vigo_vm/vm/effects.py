"""Apply a Plan on a host: the only code that changes a hypervisor.

Each :class:`~pulumi_vigo_vm.vm.axes.Action` maps to one method. With ``transactional``
(create), everything the call made is undone in reverse order if a later step fails,
so a failed create leaves the host as it was; what existed before is never removed.

The acts that make a new use of a file (the define, an overlay on a base) run under the
host's act lock (:mod:`pulumi_vigo_vm.hostfile.act`), so no checked act of another resource in this
process (a base image renamed over, a disk removed) falls between its check and its act;
the define also asks the data-disk refusals again on a listing taken under that lock
(``define_check``), so two VMs defined side by side cannot both take one disk as free.
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import partial

import pulumi

from ..common.tempnames import stale_temporaries, temporary_name
from ..errors import DefineConflictError, ImageError, LibvirtCallError, NotOwnedError, VigoError
from ..hostfile.act import fresh_listing, holding
from ..hostfile.images import create_copy, create_overlay, grow_overlay, usable_base
from ..hostfile.usage import HostUsage, note_defined, note_undefined
from ..virt.hypervisor import Guest
from ..virt.power import PowerState
from ..virt.target import Target
from .axes import Action, Plan, ResolvedBase
from .changes import LiveChanges
from .cloudinit import build_seed_iso, instance_id
from .domain_xml import (
    MARKER_NAMESPACE,
    MARKER_PREFIX,
    DiskDevice,
    NicDevice,
    device_xml,
    from_xml,
    has_device,
    marker_xml,
    to_xml,
    with_live_addresses,
    with_unmodelled,
)
from .filenames import CONSOLE_LOG_DIR, console_log_path
from .guest.sighting import BootMark, boot_mark
from .ownership import claimed_by_sibling
from .seedfile import seed_identity
from .spec import RunState, VmSpec

__all__ = ["Executor", "StepHook"]

log = logging.getLogger(__name__)

StepHook = Callable[[Action], None]
"""Called before every action; tests use it to fail or kill a run at a step boundary."""

DefineCheck = Callable[[HostUsage], None]
"""Raises when the define may not happen, judged from a listing of the host taken at the
act (under its act lock): the refusals that guard other domains' data."""

SHUTDOWN_POLL_S = 0.25
SHUTDOWN_RESEND_S = 10.0
SEED_MODE = 0o600  # user-data may hold secrets: never world-readable


_temporaries_lock = threading.Lock()
_temporaries: dict[tuple[str, str], Mapping[str, float]] = {}


def _hidden_temporaries(target: Target, directory: str) -> Mapping[str, float]:
    """Name -> mtime of the hidden temporaries in ``directory``, listed once per provider
    process (one run): a killed run's leftovers are there when the run starts, and listing
    a directory of N VMs' files again for each VM made every create cost O(N) (issue 24).
    What a temporary left meanwhile becomes stale later, for the next run to sweep."""
    key = (target.hypervisor.uri, directory)
    with _temporaries_lock:
        known = _temporaries.get(key)
    if known is not None:
        return known
    host, entries = target.host, {}
    for name in host.listdir(directory):
        if name.startswith(".") and name.endswith(".tmp"):
            st = host.stat(posixpath.join(directory, name))
            if st is not None and st.is_file:
                entries[name] = st.mtime
    with _temporaries_lock:
        return _temporaries.setdefault(key, entries)


class Executor:
    """Runs one plan for one VM on one target."""

    def __init__(
        self,
        target: Target,
        spec: VmSpec,
        base: ResolvedBase,
        *,
        before_step: StepHook | None = None,
        fetch_base: Callable[[], ResolvedBase] | None = None,
        guest: Guest | None = None,
        define_check: DefineCheck | None = None,
    ) -> None:
        """``guest``: the VM's domain as just observed, so a plan on it looks it up no more.
        ``define_check``: asked right before the define, on a fresh listing under the
        host's act lock (None: the define needs no listing)."""
        self._target = target
        self._define_check = define_check
        self._fetch_base = fetch_base
        self._spec = spec
        self._base = base
        self._before_step = before_step
        self._undo: list[Callable[[], None]] = []
        self._known_guest = guest
        self._dir_ready = False
        self.boot_mark: BootMark | None = None
        """Where the boot this plan started begins in the console log (None: none started)."""
        self.not_live: list[str] = []
        """The definition's fields (``data_disks``, ``nics``, ``vcpu``, ``memory_mib``) that
        APPLY_LIVE could not change in the running guest: left to the restart rule."""

    def apply(self, plan: Plan, *, transactional: bool = False) -> None:
        """Run ``plan``'s actions in order; undo what this call made on failure if asked."""
        self._undo.clear()
        try:
            for action in plan.actions:
                if self._before_step is not None:
                    self._before_step(action)
                self._run(action, plan)
            if self.not_live and self._restarts_for_what_was_not_live(plan):
                for action in (Action.SHUTDOWN, Action.START):
                    if self._before_step is not None:
                        self._before_step(action)
                    self._run(action, plan)
        except BaseException:
            if transactional:
                self._roll_back()
            raise

    def _run(self, action: Action, plan: Plan) -> None:
        handlers: dict[Action, Callable[[], None]] = {
            Action.FETCH_BASE: self._fetch,
            Action.WRITE_SEED: self._write_seed,
            Action.CREATE_OVERLAY: self._create_overlay,
            Action.GROW_OVERLAY: self._grow_overlay,
            Action.APPLY_LIVE: lambda: self._apply_live(plan.live),
            Action.DEFINE: lambda: self._define(plan),
            Action.WRITE_MARKER: self._write_marker,
            Action.SET_AUTOSTART: lambda: self._guest().set_autostart(self._spec.autostarts),
            Action.SHUTDOWN: self._shutdown,
            Action.START: self._start,
            Action.RESUME: lambda: self._guest().resume(),
            Action.WAKEUP: lambda: self._guest().wakeup(),
            Action.DESTROY: self._destroy,
            Action.UNDEFINE: self._undefine,
            Action.REMOVE_FILES: lambda: self._remove_files(plan.removals),
        }
        handlers[action]()

    def _restarts_for_what_was_not_live(self, plan: Plan) -> bool:
        """The restart rule for a change the guest refused live: a running VM restarts,
        unless ``restart_on_change=False`` (then it is pending) or the plan boots anyway."""
        spec = self._spec
        return spec.restart_on_change and spec.state is RunState.RUNNING and not plan.boots

    def _apply_live(self, live: LiveChanges) -> None:
        """Change the running guest: unplug, then plug, devices (an unplug the guest does
        not complete within ``shutdown_timeout_s`` is left to the restart rule, with a
        warning naming the device), then vCPUs and the balloon. The persistent definition
        is the redefine's, which follows and keeps the slots the guest got here."""
        guest = self._guest()
        definition = guest.xml()
        unplugs: tuple[DiskDevice | NicDevice, ...] = (*live.detach_disks, *live.detach_nics)
        plugs: tuple[DiskDevice | NicDevice, ...] = (*live.attach_disks, *live.attach_nics)
        for device in unplugs:
            self._unplug(guest, device)
        for device in plugs:
            text = device_xml(device, True, definition)
            self._live_step(_field_of(device), _named(device), partial(guest.attach_live, text))
        if live.vcpu is not None:
            count = live.vcpu
            self._live_step("vcpu", f"{count} vCPUs", lambda: guest.set_vcpus_live(count))
        if live.memory_mib is not None:
            mib = live.memory_mib
            self._live_step("memory_mib", f"{mib} MiB", lambda: guest.set_memory_live(mib))
        for target, tune in live.io_limits:
            field = "root_tune" if target == "vda" else "data_disks"
            self._live_step(
                field,
                f"the IO limits of {target}",
                partial(guest.set_io_limits_live, target, tune.iops, tune.bytes_per_s),
            )

    def _live_step(self, field: str, what: str, call: Callable[[], None]) -> None:
        try:
            call()
        except VigoError as exc:
            self._not_live(field, f"{what} could not be applied to the running guest ({exc})")

    def _not_live(self, field: str, why: str) -> None:
        rule = (
            "restarting it"
            if self._spec.restart_on_change
            else "left for its next power cycle (restart_on_change=False)"
        )
        pulumi.log.warn(f"{self._spec.vm_name}: {why}; {rule}")
        self.not_live.append(field)

    def _unplug(self, guest: Guest, device: DiskDevice | NicDevice) -> None:
        """Ask the guest to release ``device`` and wait, polling the running definition,
        until it has (Nova's detach_device_with_retry reads the same)."""
        field, name, timeout = _field_of(device), _named(device), self._spec.shutdown_timeout_s
        try:
            guest.detach_live(device_xml(device, False))
        except VigoError as exc:
            self._not_live(field, f"{name} could not be unplugged ({exc})")
            return
        started = time.monotonic()
        while has_device(guest.running_xml(), device):
            if time.monotonic() - started >= timeout:
                self._not_live(
                    field,
                    f"the guest did not release {name} within shutdown_timeout_s={timeout}",
                )
                return
            time.sleep(SHUTDOWN_POLL_S)

    def _roll_back(self) -> None:
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception as exc:  # keep undoing; the original error is what matters
                log.warning("rollback step failed for %s: %s", self._spec.vm_name, exc)
        self._undo.clear()

    def _guest(self) -> Guest:
        """The VM's domain: the one this run defined, else looked up once."""
        if self._known_guest is None:
            self._known_guest = self._target.hypervisor.lookup(self._spec.vm_name)
        if self._known_guest is None:
            raise VigoError(f"domain {self._spec.vm_name} vanished from {self._spec.uri}")
        return self._known_guest

    @property
    def base(self) -> ResolvedBase:
        """The base as the plan left it (fetched onto the host by FETCH_BASE, if it ran)."""
        return self._base

    def _fetch(self) -> None:
        if self._fetch_base is None:
            raise VigoError(f"{self._spec.vm_name}: the base is not on {self._spec.uri}")
        self._base = self._fetch_base()

    def _start(self) -> None:
        guest = self._guest()
        self.boot_mark = boot_mark(self._target.host, console_log_path(self._spec.vm_name))
        guest.start()

    def guest(self) -> Guest | None:
        """The VM's domain after the plan (None when there is none)."""
        return self._known_guest or self._target.hypervisor.lookup(self._spec.vm_name)

    def guest_power(self) -> PowerState | None:
        """The domain's run state after the plan (None when there is no domain)."""
        guest = self.guest()
        return None if guest is None else guest.power_state()

    def _remove(self, path: str) -> None:
        self._target.host.remove(path)

    def _write_seed(self) -> None:
        """Write the seed under its name only if nothing is there (never over a file: a
        concurrent create of the same VM may have just written it); an identical seed
        already there is used, and is not ours to remove on rollback."""
        spec, host = self._spec, self._target.host
        assert spec.seed_iso_path and spec.seed_hash
        self._prepare_images_dir()
        iso = build_seed_iso(spec.vm_name, spec.seed_content, spec.seed_hash)
        path = spec.seed_iso_path
        temporary = temporary_name(path)
        host.write_atomic(temporary, iso, SEED_MODE)
        try:
            host.rename_noreplace(temporary, path)
        except FileExistsError:
            host.remove(temporary)
            self._require_our_seed(path)
            return
        self._undo.append(lambda: self._remove(path))

    def _require_our_seed(self, path: str) -> None:
        spec = self._spec
        assert spec.seed_hash is not None
        identity = seed_identity(self._target.host, path)
        if identity is None or identity.instance_id != instance_id(spec.vm_name, spec.seed_hash):
            raise ImageError(
                f"{path} already exists and is not this VM's seed; it is left alone: move it "
                "away and run again"
            )

    def _prepare_images_dir(self) -> None:
        """Make the images dir and remove what a killed run left half-written under this
        VM's file names there: once per plan (its seed and its overlay share the dir), and
        only when this plan writes such a file."""
        if self._dir_ready:
            return
        self._dir_ready = True
        spec = self._spec
        self._target.host.makedirs(spec.images_dir)
        finals = [posixpath.basename(p) for p in (spec.overlay_path, spec.seed_iso_path) if p]
        entries = _hidden_temporaries(self._target, spec.images_dir)
        for path in stale_temporaries(spec.images_dir, finals, entries, time.time()):
            log.info("%s: removing %s, left by an interrupted run", spec.vm_name, path)
            self._remove(path)

    def _create_overlay(self) -> None:
        spec, base = self._spec, self._base
        assert base.format is not None and base.virtual_size is not None
        self._prepare_images_dir()
        with holding(self._target):  # the base as it is now, not as planned: see module doc
            info = usable_base(self._target.host, base.path, "disk_path")
            make = create_overlay if spec.root_backing else create_copy
            make(self._target.host, spec.overlay_path, info, spec.disk_size_bytes)
        self._undo.append(lambda: self._remove(spec.overlay_path))

    def _grow_overlay(self) -> None:
        size = self._spec.disk_size_bytes
        assert size is not None
        guest = self._known_guest or self._target.hypervisor.lookup(self._spec.vm_name)
        if guest is not None and guest.power_state().is_active:
            guest.block_resize("vda", size)  # qemu holds the image: resize through it
        else:
            backing = self._base.path if self._spec.root_backing else None
            grow_overlay(self._target.host, self._spec.overlay_path, backing, size)

    def _write_marker(self) -> None:
        assert self._spec.claim is not None
        self._guest().set_marker(marker_xml(self._spec.claim), MARKER_PREFIX, MARKER_NAMESPACE)

    def _undefine(self) -> None:
        self._guest().undefine(keep_state=self._spec.adopt is not None)
        self._known_guest = None
        note_undefined(self._spec.uri, self._spec.vm_name)

    def _define(self, plan: Plan) -> None:
        assert plan.domain is not None and self._spec.claim is not None
        xml = to_xml(plan.domain, self._spec.claim)
        if not plan.domain_is_new:  # no device changes slot, a hot-plugged one keeps its own
            guest = self._guest()
            live = guest.xml()
            running = (guest.running_xml(),) if Action.APPLY_LIVE in plan.actions else ()
            # devices of kinds the package does not model are carried over (see domain_xml)
            xml = with_unmodelled(with_live_addresses(xml, live, *running), live)
        self._target.host.makedirs(CONSOLE_LOG_DIR)  # virtlogd creates the file, not its folder
        with self._at_the_act():
            try:
                guest = self._target.hypervisor.define(xml)
                is_new = plan.domain_is_new
            except DefineConflictError as exc:
                # "already exists with uuid": another create of this name won a race, or our
                # domain was renamed out of band. Rare: handled here, not probed every define.
                if not plan.domain_is_new:
                    raise
                if not self._reclaim_renamed(plan.domain.uuid):
                    self._refuse_race_winner(exc)
                guest = self._target.hypervisor.define(xml)
                is_new = False
            note_defined(self._spec.uri, self._spec.vm_name, xml)
        self._known_guest = guest
        if is_new:
            self._undo.append(lambda: self._forget(guest))

    @contextlib.contextmanager
    def _at_the_act(self) -> Iterator[None]:
        """The host's act lock, and ``define_check`` asked on a listing taken under it:
        the define inside happens with the refusal still true (within this process)."""
        if self._define_check is None:
            with holding(self._target):
                yield
            return
        with fresh_listing(self._target) as usage:
            self._define_check(usage)
            yield

    def _refuse_race_winner(self, exc: LibvirtCallError) -> None:
        """Another create defined a domain of this name first: it has won, and this run
        has made nothing yet (the define comes before any file), so nothing is undone."""
        winner = self._target.hypervisor.lookup(self._spec.vm_name)
        if winner is None:
            raise exc
        claim = from_xml(winner.xml()).claim
        sibling = claimed_by_sibling(claim, self._spec)
        if sibling is not None:
            raise NotOwnedError(f"vm_name: {sibling}") from exc
        owner = claim or "a domain not created for this stack"
        raise NotOwnedError(
            f"vm_name: a domain named {self._spec.vm_name!r} was just defined on "
            f"{self._spec.uri} by {owner}; two resources cannot manage one VM: choose another "
            "vm_name"
        ) from exc

    def _reclaim_renamed(self, uuid: str) -> bool:
        """Our domain renamed out of band (same UUID, another name) gets its name back,
        so it is redefined in place instead of being shadowed by a second domain on the
        same overlay. Returns whether there was one."""
        guest = self._target.hypervisor.lookup_uuid(uuid) if uuid else None
        if guest is None:
            return False
        name, uri = self._spec.vm_name, self._spec.uri
        if not from_xml(guest.xml()).marked:
            raise NotOwnedError(
                f"vm_name: domain {guest.name!r} on {uri} has the UUID {uuid} recorded for "
                f"{name!r} but was not created by pulumi_vigo_vm; remove or re-UUID it"
            )
        if guest.power_state().is_active:
            raise VigoError(
                f"vm_name: domain {name!r} was renamed to {guest.name!r} on {uri} and is "
                f"running; stop it (or run virsh domrename {guest.name} {name}) and retry"
            )
        pulumi.log.warn(f"{name}: domain was renamed to {guest.name!r} out of band; renaming back")
        guest.rename(name)
        return True

    def _forget(self, guest: Guest) -> None:
        if guest.power_state().is_active:
            guest.destroy()
        guest.undefine()
        note_undefined(self._spec.uri, self._spec.vm_name)

    def _destroy(self) -> None:
        guest = self._guest()
        with contextlib.suppress(VigoError):  # it may have stopped on its own meanwhile
            guest.destroy()

    def _shutdown(self) -> None:
        """ACPI shutdown, polled and re-sent every 10 s; forced off after the timeout."""
        guest = self._guest()
        name, timeout = self._spec.vm_name, self._spec.shutdown_timeout_s
        started = time.monotonic()
        last_sent = -SHUTDOWN_RESEND_S
        while guest.power_state().is_active:
            elapsed = time.monotonic() - started
            if elapsed >= timeout:
                pulumi.log.warn(
                    f"{name}: guest did not shut down within shutdown_timeout_s={timeout}; "
                    "forcing power-off (the overlay is kept)"
                )
                self._destroy()
                return
            if elapsed - last_sent >= SHUTDOWN_RESEND_S:
                if last_sent >= 0:
                    pulumi.log.info(f"{name}: still shutting down after {elapsed:.0f}s")
                with contextlib.suppress(VigoError):
                    guest.shutdown()
                last_sent = elapsed
            time.sleep(SHUTDOWN_POLL_S)

    def _remove_files(self, paths: tuple[str, ...]) -> None:
        for path in paths:
            self._remove(path)


def _field_of(device: DiskDevice | NicDevice) -> str:
    return "nics" if isinstance(device, NicDevice) else "data_disks"


def _named(device: DiskDevice | NicDevice) -> str:
    """A device as a warning names it: a disk by its source and serial, a NIC by its MAC."""
    if isinstance(device, NicDevice):
        return f"NIC {device.mac} ({device.kind} {device.source})"
    serial = f", serial {device.serial}" if device.serial else ""
    return f"disk {device.source} ({device.target}{serial})"
