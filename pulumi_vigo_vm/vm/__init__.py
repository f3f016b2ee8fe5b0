"""VigoVm: everything only the VM resource uses.

* declared inputs and their checks: :mod:`.fields` (with :mod:`.fielddocs`, which renders
  their docs), :mod:`.inputs`, :mod:`.spec`, :mod:`.devices`;
* pure rendering and decisions: :mod:`.domain_xml`, :mod:`.machines`, :mod:`.runnable`,
  :mod:`.cloudinit`, :mod:`.model`, :mod:`.axes` (desired state, diff and plan), :mod:`.ownership`;
* effects: :mod:`.observe` (what the host has), :mod:`.effects` (the plan's steps),
  :mod:`.seedfile`, :mod:`.artifact_base`, and :mod:`.guest` (console, addresses, waits);
* the program's side: :mod:`.resource` (``VigoVm``, ``VigoVmArgs``).

The provider the engine unpickles stays defined at :mod:`pulumi_vigo_vm.provider` (fleet.md §0).
Nothing here is imported until used: importing this package loads no module of it.
"""
