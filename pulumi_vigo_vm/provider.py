"""VmProvider: the Pulumi dynamic provider. Glue only.

Every method does the same four things: parse the property bag into a VmSpec (numbers
arrive as floats in every method, so parsing happens at the top of each), observe the
host, plan with the pure axes, and apply with the executor. The provider object holds
only plain data (it is pickled into the program's state); connections are opened inside
calls from thread-safe caches.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from .common.unknown import contains_unknown
from .dynamic.configured import ConfiguredProvider
from .dynamic.diff_names import named_diff
from .dynamic.parallel import widen_rpc_pool
from .errors import (
    CuratorUnreachableError,
    HostUnreachableError,
    ImageError,
    InputError,
    InputFault,
    LibvirtCallError,
    MoveError,
)
from .hostfile.held import refuse_held
from .hostfile.snapshots import parse_snapshot
from .hostfile.usage import HostUsage
from .virt.hypervisor import Guest
from .virt.target import Target
from .vm import axes
from .vm.adoption import Adoption, adoption_faults
from .vm.artifact_base import fetch_artifact_base
from .vm.axes import Action, Identity, Observed, Plan, Recorded, ResolvedBase
from .vm.devices import Nic, new_mac
from .vm.domain_xml import DomainConfig, LiveDomain, from_xml
from .vm.effects import Executor
from .vm.faults import hook_from_env
from .vm.fields import INPUTS, input_field
from .vm.guest.addresses import Addresses
from .vm.guest.sighting import Subject, sight
from .vm.guest.waiting import wait_for_guest
from .vm.hostfit import TUNING_INPUTS, changed_tuning, refuse_host_fit
from .vm.inputs import DiskMode, HostChange, SeedChange, WaitFor
from .vm.move import check_move, move
from .vm.observe import (
    observe,
    observe_attached_root,
    observe_busy,
    observe_data_disks,
    observe_files,
    observe_nic_sources,
    observe_removal,
    resolve_base,
)
from .vm.observe_tuning import observe_tuning
from .vm.ownership import (
    DomainOwner,
    owner_of,
    refuse_held_snapshots,
    removable_files,
    superseded_seeds,
)
from .vm.spec import RunState, VmSpec, check_inputs, parse_spec, same_inputs

__all__ = ["VmProvider"]

log = logging.getLogger(__name__)

# Inputs whose unknown value in preview means a new VM, not an update.
_REPLACING_INPUTS = frozenset(f.name for f in INPUTS if f.replaces_when_unknown)


def _new_identity() -> Identity:
    return Identity(str(uuid.uuid4()), new_mac())


def _replacing_while_unknown(news: Mapping[str, Any], unknown: list[str]) -> list[str]:
    """The unknown inputs whose eventual change would replace the VM: per the field table,
    except that seed inputs only update under ``on_seed_change="reseed"`` and ``uri`` under
    ``on_host_change="migrate"``."""
    updating = {
        rule
        for rule, key, value in (
            ("seed", "on_seed_change", SeedChange.RESEED),
            ("host", "on_host_change", HostChange.MIGRATE),
        )
        if news.get(key) == value.value
    }
    return [
        key for key in unknown if key in _REPLACING_INPUTS and input_field(key).rule not in updating
    ]


_NIC_LOOKUP_INPUTS = ("uri", "state", "nics", "network", "network_bridge")
"""The inputs that decide which host a NIC lookup asks and what: while any is unknown,
check asks nothing."""


def _nic_source(nic: Nic) -> tuple[str, str, str | None]:
    """What a NIC's host lookup asks about: its source, and whether on Open vSwitch."""
    return (nic.kind, nic.source, nic.virtualport)


_HOST_FIT_LOOKUP_INPUTS = (
    "uri",
    "state",
    "vm_name",
    "memory_mib",
    "max_memory_mib",
    *TUNING_INPUTS,
)
"""The inputs that decide what the host is asked for the hardware and tuning inputs."""


class VmProvider(ConfiguredProvider):
    """Converges one libvirt VM per resource. See docs/vm.md for the behaviour."""

    # --- engine methods ---------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        """Take the stack's defaults, and let the server run every call the engine sends
        at once (see dynamic.parallel). The process configures the provider inside the first RPC
        of any verb that needs it: the creates of an ``up`` (and their waits) all get a
        thread, and so do the deletes of a ``destroy``, which sends no ``check``."""
        super().configure(req)
        widen_rpc_pool()

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate every input; one CheckFailure per bad input. Reads the host only to
        find a new NIC's bridge or network (see _nic_source_faults) and the domain a new VM
        adopts (see _adoption_faults); never mutates it."""
        inputs, faults = check_inputs(news, self._defaults)
        if not faults:
            faults = self._nic_source_faults(_olds, inputs)
        if not faults:
            faults = self._host_fit_faults(_olds, inputs)
        if not faults and not _olds:  # adopt matters at create only
            faults = self._adoption_faults(inputs)
        return CheckResult(inputs, [CheckFailure(f.property, f.reason) for f in faults])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """The spec's diff table, from old-vs-new and the live host, naming every input that
        changed or drifted (see _diff_names). Never mutates."""
        unknown = [key for key, value in news.items() if contains_unknown(value)]
        if unknown:
            replaces = _replacing_while_unknown(news, unknown)
            return named_diff(True, replaces, unknown, delete_before_replace=bool(replaces))
        new = self._parse(news)
        recorded = self._recorded(olds, new if same_inputs(olds, news) else None)
        if axes.moves(recorded.spec, new):
            return self._diff_move(recorded, new)
        observed, base = self._look(new, recorded)
        if observed is not None and base is not None and new.data_disks != recorded.spec.data_disks:
            # Changed data disks are judged against the host now, so preview names a disk
            # that cannot be attached safely (create and update judge them again).
            target = Target.for_uri(new.uri)
            axes.refuse_data_disks(new, observe_data_disks(target, new), base)
        decision = axes.diff(recorded, new, observed, base)
        if decision.changed:
            log.info("%s differs: %s", new.vm_name, ", ".join(decision.replaces + decision.reasons))
        return named_diff(
            decision.changed,
            decision.replaces,
            decision.updates,
            delete_before_replace=decision.delete_before_replace,
        )

    def _diff_move(self, recorded: Recorded, new: VmSpec) -> DiffResult:
        """A move to another host: an update of the inputs that changed, its preconditions
        checked against both hosts when both can be reached (the update checks again). With
        another input that replaces the VM (``vm_name``...), a replace: nothing moves."""
        decision = axes.diff(recorded, new)
        if decision.replaces:
            return named_diff(True, decision.replaces, decision.updates, delete_before_replace=True)
        try:
            plan = check_move(
                Target.for_uri(recorded.spec.uri), Target.for_uri(new.uri), new, recorded
            )
        except MoveError as exc:
            if not isinstance(exc.__cause__, (HostUnreachableError, LibvirtCallError)):
                raise
            pulumi.log.warn(f"{new.vm_name}: {exc}; the move is checked again at the update")
        else:
            log.info("%s moves to %s (%s)", new.vm_name, new.uri, plan.way.value)
        return named_diff(True, decision.replaces, decision.updates, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Build the VM. Transactional: on failure, whatever this call made is removed."""
        spec = self._parse(props)
        target = Target.for_uri(spec.uri)
        outs = self._converge(target, spec, recorded=None, transactional=True)
        return CreateResult(outs["uuid"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Converge in place (redefine, grow, fix files, change run state); all outputs."""
        recorded = self._recorded(olds)
        # adopt matters at create only: what it recorded stays, whatever the input says now.
        spec = replace(self._parse(news), adopt=recorded.spec.adopt)
        target = Target.for_uri(spec.uri)
        if axes.moves(recorded.spec, spec):
            source = Target.for_uri(recorded.spec.uri)
            move(
                source,
                target,
                spec,
                recorded,
                emit=pulumi.log.info,
                remove_source=lambda: self._remove(source, recorded.spec, recorded),
            )
        outs = self._converge(target, spec, recorded=recorded, transactional=False)
        return UpdateResult(outs)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Same as state absent: power off, undefine, remove the files proven ours; keep
        the base. ``props`` are the recorded outputs."""
        recorded = self._recorded(props)  # the spec it holds is parse(props): parse once
        self._remove(Target.for_uri(recorded.spec.uri), recorded.spec, recorded)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: report the live run state and addresses (one look, no wait); a vanished
        domain is "gone"."""
        recorded = self._recorded(props)  # the spec it holds is parse(props): parse once
        spec = recorded.spec
        target = Target.for_uri(spec.uri)
        observed = observe(target, spec, look=True)
        absent = owner_of(observed, spec, recorded) is not DomainOwner.OURS
        if absent and spec.state is not RunState.ABSENT:
            return ReadResult(None, {})
        outs = dict(props)
        outs["observed_state"] = "absent" if absent else observed.observed_state
        if observed.domain is not None and not absent:
            live = observed.domain.config
            outs["uuid"] = live.uuid
            outs["mac_address"] = live.mac_address or props.get("mac_address")
            outs["mac_addresses"] = list(live.macs)
        pending = () if absent else axes.pending_inputs(spec, observed, recorded)
        outs["restart_pending"], outs["pending_changes"] = bool(pending), list(pending)
        running = observed.running
        outs["graphics_port"] = _graphics_port(None if absent else running)
        guest = target.hypervisor.lookup(spec.vm_name) if running and not absent else None
        if guest is not None and running is not None and running.macs:
            log = running.console_log_path or axes.console_log_path(spec.vm_name)
            seen = sight(Subject(target, spec, guest, list(running.macs), log, None))
            outs["ip_address"] = seen.addresses.ip_address
            outs["ip_addresses"] = list(seen.addresses.ip_addresses)
        return ReadResult(id_, outs)

    # --- helpers ----------------------------------------------------------------------

    def _nic_source_faults(
        self, olds: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> list[InputFault]:
        """The NICs of valid ``inputs`` whose bridge or network the host lacks, told at
        check so that preview fails naming the input before anything is defined. Only NICs
        ``olds`` did not have are looked up: a network removed under a running VM does not
        block an unrelated update. An unreachable host leaves this to the create."""
        if any(contains_unknown(inputs.get(name)) for name in _NIC_LOOKUP_INPUTS):
            return []
        if inputs.get("state") == RunState.ABSENT.value:
            return []
        spec, previous = self._known_spec(inputs), self._previous_spec(olds)
        if spec is None:
            return []
        before = {_nic_source(n) for n in previous.all_nics} if previous else set()
        new = {i: n for i, n in enumerate(spec.all_nics) if _nic_source(n) not in before}
        if not new:
            return []
        target = Target.for_uri(spec.uri)
        try:
            sources = observe_nic_sources(target, tuple(new.values()))
        except HostUnreachableError:
            return []
        return axes.refuse_nic_sources(spec, dict(zip(new, sources, strict=True)), target.host.name)

    def _host_fit_faults(
        self, olds: Mapping[str, Any], inputs: Mapping[str, Any]
    ) -> list[InputFault]:
        """The hardware and tuning inputs of valid ``inputs`` the host cannot give (see
        vm/hostfit.py), told at check so that preview fails naming the input before anything
        is defined. Only what ``olds`` did not already have is judged; an unreachable host
        leaves this to the create, as for NICs."""
        if any(contains_unknown(inputs.get(name)) for name in _HOST_FIT_LOOKUP_INPUTS):
            return []
        if inputs.get("state") == RunState.ABSENT.value:
            return []
        spec = self._known_spec(inputs)
        if spec is None:
            return []
        judged = changed_tuning(spec, self._previous_spec(olds))
        if not judged:
            return []
        target = Target.for_uri(spec.uri)
        try:
            fit = observe_tuning(target, spec, judged)
        except HostUnreachableError:
            return []
        return refuse_host_fit(spec, fit, judged, target.host.name)

    def _adoption_faults(self, inputs: Mapping[str, Any]) -> list[InputFault]:
        """Why the domain valid ``inputs`` adopt cannot be taken over (see
        adoption.adoption_faults, and a root another domain uses), told at check so that
        preview fails naming the input before anything changes; create asks again. Only
        when every input it judges is known (the claim of a new stack aside: no domain can
        be this resource's before its stack has a state id); an unreachable host, or a root
        that cannot be read, leaves this to the create."""
        if not inputs.get("adopt") or inputs.get("state") == RunState.ABSENT.value:
            return []
        if any(contains_unknown(v) for k, v in inputs.items() if k != "claim"):
            return []
        spec = self._known_spec(inputs)
        if spec is None:
            return []
        try:
            target = Target.for_uri(spec.uri)
            observed = observe(target, spec)
            owner = owner_of(observed, spec, None)
            faults = adoption_faults(spec, observed, owner, observe_busy(target, observed))
            if faults:
                return faults
            base = resolve_base(target, spec, self._defaults)
            root = axes.attached_root_fault(observe_attached_root(target, spec, base))
        except (InputError, HostUnreachableError, ImageError):
            return []
        return [root] if root is not None else []

    def _parse(self, props: Mapping[str, Any]) -> VmSpec:
        return parse_spec(props, self._defaults)

    def _known_spec(self, inputs: Mapping[str, Any]) -> VmSpec | None:
        """The spec of the known values of checked ``inputs``, for the host lookups check
        makes; None while a required input is unknown (the create looks then). Other inputs
        may be unknown yet (the claim of a new stack, until its state id is made): they
        change neither which host is asked nor what."""
        known = {k: v for k, v in inputs.items() if not contains_unknown(v)}
        try:
            return self._parse(known)
        except InputError:
            return None

    def _previous_spec(self, olds: Mapping[str, Any]) -> VmSpec | None:
        """The spec the recorded outputs hold (None for a create, or outputs not readable):
        what check's host lookups need not judge again."""
        if olds.get("vm_name") is None or contains_unknown(dict(olds)):
            return None
        try:
            return self._parse(olds)
        except InputError:
            return None

    def _recorded(self, olds: Mapping[str, Any], spec: VmSpec | None = None) -> Recorded:
        """The recorded outputs; ``spec``: their parse, when the caller has it already."""
        uuid_, mac = olds.get("uuid"), olds.get("mac_address")
        return Recorded(
            spec=spec if spec is not None else self._parse(olds),
            base_path=olds.get("base_path"),
            base_format=olds.get("base_format"),
            artifact_id=olds.get("artifact_id"),
            base_stamp=olds.get("base_stamp"),
            identity=Identity(uuid_, mac) if uuid_ and mac else None,
            overlay_path=olds.get("overlay_path"),
            seed_iso_path=olds.get("seed_iso_path"),
            console_log_path=olds.get("console_log_path"),
            mac_addresses=tuple(olds.get("mac_addresses") or ()),
            pending_changes=tuple(olds.get("pending_changes") or ()),
        )

    def _look(
        self, spec: VmSpec, recorded: Recorded
    ) -> tuple[Observed | None, ResolvedBase | None]:
        """Observe without mutating; (None, None) when the host cannot be reached.

        When only the curator is unreachable, the base recorded at the last run stands in,
        so an outage of the registry does not block a diff of everything else.
        """
        target = Target.for_uri(spec.uri)
        try:
            observed = observe(target, spec, look=True)
        except HostUnreachableError as exc:
            pulumi.log.warn(f"{spec.vm_name}: host not reachable, diffing inputs only: {exc}")
            return None, None
        try:
            return observed, self._base(target, spec, recorded, observed)
        except CuratorUnreachableError as exc:
            if recorded.base_path is None or recorded.spec.base != spec.base:
                raise
            pulumi.log.warn(f"{spec.vm_name}: {exc}; assuming the artifact is unchanged")
            base = ResolvedBase(
                recorded.base_path, recorded.base_format, None, recorded.artifact_id
            )
            return observed, base

    def _base(
        self, target: Target, spec: VmSpec, recorded: Recorded | None, observed: Observed
    ) -> ResolvedBase:
        """The base resolved on the host. A copy that exists no longer reads its base: when
        the base file is gone or unusable, the one recorded when it was made stands in (a
        change of the declared base is still a replace, from the inputs)."""
        try:
            return resolve_base(target, spec, self._defaults)
        except ImageError:
            copied = (
                spec.disk_mode is DiskMode.COPY
                and observed.overlay is not None
                and recorded is not None
                and recorded.base_path is not None
                and recorded.spec.base == spec.base
            )
            if not copied or recorded is None or recorded.base_path is None:
                raise
            return ResolvedBase(
                recorded.base_path, recorded.base_format, None, recorded.artifact_id
            )

    def _converge(
        self, target: Target, spec: VmSpec, recorded: Recorded | None, *, transactional: bool
    ) -> dict[str, Any]:
        identity = recorded.identity if recorded is not None else None
        if spec.state is RunState.ABSENT:
            self._remove(target, spec, recorded)
            return _outputs(spec, None, identity or _new_identity(), "absent")
        observed = observe(target, spec)
        base = self._base(target, spec, recorded, observed)
        adoption = None
        if recorded is None and spec.adopt is not None:
            adoption = Adoption(observe_busy(target, observed))
        ours = owner_of(observed, spec, recorded) is DomainOwner.OURS or adoption is not None
        live = observed.domain if ours else None
        identity = axes.keep_identity(
            spec, live.config if live else None, recorded, identity or _new_identity()
        )
        disks = observe_data_disks(target, spec)
        root = observe_attached_root(target, spec, base)
        plan = axes.plan_converge(spec, observed, base, identity, recorded, disks, root, adoption)
        if Action.GROW_OVERLAY in plan.actions and observed.overlay is not None:
            snapshots = observed.overlay.snapshots  # before any step: WRITE_SEED may precede
            refuse_held(target, spec.overlay_path, snapshots, "disk_size_gib", "grown")
        define_check = None
        if spec.data_disks or not spec.owns_root:  # asked again at the define, on a listing
            define_check = partial(_refuse_data_disks_now, target, spec, base)
        executor = Executor(
            target,
            spec,
            base,
            before_step=hook_from_env(spec.vm_name),
            fetch_base=lambda: fetch_artifact_base(target, spec, self._defaults),
            define_check=define_check,
        )
        executor.apply(plan, transactional=transactional)
        if live is not None:
            self._remove_superseded_seeds(target, spec, live, recorded)
        guest = executor.guest()
        power = guest.power_state() if guest is not None else None
        console_log = axes.console_log_path(spec.vm_name)
        if observed.running is not None and not plan.boots:
            # Still running the definition it was started with: its log is that one's.
            console_log = observed.running.console_log_path or console_log
        seen = None
        if guest is not None and power is not None and power.is_active and spec.has_nic:
            subject = Subject(
                target, spec, guest, list(identity.macs), console_log, executor.boot_mark
            )
            seen = sight(subject) if spec.wait_for is WaitFor.NONE else wait_for_guest(subject)
            power = guest.power_state()
        state = "absent" if power is None else power.value
        addresses = seen.addresses if seen else None
        pending: tuple[str, ...] = ()
        if power is not None and power.is_active and executor.boot_mark is None:
            refused = axes.definition_inputs(spec, executor.not_live)
            pending = tuple(dict.fromkeys(plan.pending + refused))
        outs = _outputs(spec, executor.base, identity, state, addresses, pending)
        outs["console_log_path"] = console_log
        if guest is not None and power is not None and power.is_active:
            outs["graphics_port"] = _graphics_port(from_xml(guest.running_xml()).config)
        return outs

    def _remove_superseded_seeds(
        self, target: Target, spec: VmSpec, before: LiveDomain, recorded: Recorded | None
    ) -> None:
        """After a reseed: the seeds the domain used before, once it no longer does."""
        candidates = superseded_seeds(spec, before, recorded)
        if not candidates.seeds:
            return
        facts = observe_files(target, spec, candidates)
        removals = removable_files(spec, candidates, facts, recorded)
        plan = Plan((Action.REMOVE_FILES,), removals=removals) if removals else Plan(())
        Executor(target, spec, ResolvedBase("", None, None)).apply(plan)

    def _remove(self, target: Target, spec: VmSpec, recorded: Recorded | None) -> Plan:
        guest, observed, candidates, facts = observe_removal(target, spec, recorded)
        plan = axes.plan_remove(spec, observed, recorded, candidates, facts)
        undefines = guest is not None and Action.UNDEFINE in plan.actions
        powers_off = bool({Action.DESTROY, Action.SHUTDOWN} & set(plan.actions))
        if guest is not None and undefines and powers_off:
            _refuse_held_snapshots(spec, guest)  # asked before the guest is powered off
        base = ResolvedBase("", None, None)
        hook = hook_from_env(spec.vm_name)
        try:
            Executor(target, spec, base, before_step=hook, guest=guest).apply(plan)
        except LibvirtCallError:
            # A domain that is off is undefined first: libvirt refuses that while it holds
            # snapshots, before any file is touched; only then are they listed, to say whose.
            if guest is not None and undefines and not powers_off:
                with contextlib.suppress(LibvirtCallError):
                    _refuse_held_snapshots(spec, guest)
            raise
        return plan


def _refuse_held_snapshots(spec: VmSpec, guest: Guest) -> None:
    refuse_held_snapshots(spec, (parse_snapshot(s.xml) for s in guest.snapshots()))


def _refuse_data_disks_now(
    target: Target, spec: VmSpec, base: ResolvedBase, usage: HostUsage
) -> None:
    """The disk refusals of the plan, asked again from ``usage`` (taken at the act)."""
    axes.refuse_data_disks(spec, observe_data_disks(target, spec, usage), base)
    axes.refuse_attached_root(spec, observe_attached_root(target, spec, base, usage))


def _outputs(
    spec: VmSpec,
    base: ResolvedBase | None,
    identity: Identity,
    observed_state: str,
    addresses: Addresses | None = None,
    pending: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Every output: the normalised inputs plus what the host resolved and reports.

    ``addresses``: the VM's addresses as last seen; they are reported, never compared (a
    changed address is no drift). ``pending``: the inputs the running guest gets at its
    next power cycle."""
    return {
        **spec.to_inputs(),
        "uuid": identity.uuid,
        "mac_address": identity.mac_address,
        "base_path": base.path if base else None,
        "base_format": base.format if base else None,
        "artifact_id": base.artifact_id if base else None,
        "base_stamp": base.stamp if base else None,
        "overlay_path": spec.overlay_path if spec.owns_root else None,
        "seed_iso_path": spec.seed_iso_path,
        "seed_hash": spec.seed_hash,
        "console_log_path": axes.console_log_path(spec.vm_name),
        "observed_state": observed_state,
        "ip_address": addresses.ip_address if addresses else None,
        "ip_addresses": list(addresses.ip_addresses) if addresses else [],
        "mac_addresses": list(identity.macs),
        "restart_pending": bool(pending),
        "pending_changes": list(pending),
        "graphics_port": None,
    }


def _graphics_port(running: DomainConfig | None) -> int | None:
    """The port the running domain's display listens on (libvirt picks it at each start)."""
    graphics = running.graphics if running is not None else None
    return graphics.port if graphics is not None else None
