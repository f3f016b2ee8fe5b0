"""Bench-only probes, loaded by the harness's child processes when ``bench/probe`` is on
their ``PYTHONPATH`` (Python imports ``sitecustomize`` at start-up). Inert unless asked:

* ``VIGO_BENCH_CALL_LOG=<file>``: every libvirt connection-level call named in
  :data:`COUNTED` appends ``<pid> <connection uri> <method>`` to the file, so the bench can
  count domain listings and lookups per host per run (``bench.calls``).
* ``VIGO_BENCH_CAP=provider``: the provider does not widen the dynamic provider server's
  four-thread pool (``_parallel.widen_rpc_pool`` left out); ``program``: the program keeps
  asyncio's default executor, as under the real language host
  (``pulumi-language-python-exec`` sets none; the harness's language host would size one
  to ``--parallel``, so its ``set_default_executor`` is ignored too, and
  ``widen_program_registrations`` is left out). So ``bench.waits --caps`` can show what
  each cap alone costs.
* ``VIGO_BENCH_PROFILE=<dir>``: in the provider process (``python -m pulumi.dynamic``)
  every RPC of :data:`PROFILED` runs under a cProfile of its own (the handler's thread
  only: RPCs run concurrently); the profiles of one verb are merged and written to
  ``<dir>/<pid>-<Verb>.prof``, the wall seconds of each RPC to ``<dir>/<pid>-walls.json``,
  when the harness terminates the process (SIGTERM). So ``bench.protocol --profile`` sees
  what the engine pays per RPC: the unpickling, the props' (de)serialisation and the
  provider's own work. With it, every SFTP request the process sends (any thread: the file
  reads run in pools of their own) is counted by type into ``<dir>/<pid>-sftp.json``.
"""

from __future__ import annotations

import os
import sys
import threading

COUNTED = (
    "listAllDomains",
    "listDomainsID",
    "listDefinedDomains",
    "lookupByName",
    "lookupByUUIDString",
)


def _log_calls(path: str) -> None:
    import libvirt

    lock = threading.Lock()
    sink = open(path, "a", buffering=1)  # noqa: SIM115 - for the process's whole life
    uris: dict[int, str] = {}

    def counted(name: str, original: object) -> object:
        def call(self: libvirt.virConnect, *args: object, **kwargs: object) -> object:
            key = id(self)
            if key not in uris:
                uris[key] = self.getURI().split("?")[0] + f"#{key:x}"
            with lock:
                sink.write(f"{os.getpid()} {uris[key]} {name}\n")
            return original(self, *args, **kwargs)  # type: ignore[operator]

        return call

    for name in COUNTED:
        setattr(libvirt.virConnect, name, counted(name, getattr(libvirt.virConnect, name)))


PROFILED = ("Configure", "Check", "Diff", "Create", "Update", "Read", "Delete")


def _profile(directory: str) -> None:
    import cProfile
    import json
    import pstats
    import signal
    import time

    from pulumi.runtime.proto import provider_pb2_grpc

    lock = threading.Lock()
    merged: dict[str, pstats.Stats] = {}
    walls: dict[str, list[float]] = {}
    requests = _count_sftp_requests()

    def profiled(verb: str, method: object) -> object:
        def call(request: object, context: object) -> object:
            profiler = cProfile.Profile()
            start = time.perf_counter()
            try:
                return profiler.runcall(method, request, context)  # type: ignore[arg-type]
            finally:
                wall = time.perf_counter() - start
                profiler.create_stats()
                with lock:
                    walls.setdefault(verb, []).append(wall)
                    if verb in merged:
                        merged[verb].add(profiler)
                    else:
                        merged[verb] = pstats.Stats(profiler)

        return call

    original = provider_pb2_grpc.add_ResourceProviderServicer_to_server

    def add(servicer: object, server: object) -> object:
        for verb in PROFILED:
            setattr(servicer, verb, profiled(verb, getattr(servicer, verb)))
        return original(servicer, server)

    def dump(*_args: object) -> None:
        with lock:
            for verb, stats in merged.items():
                stats.dump_stats(os.path.join(directory, f"{os.getpid()}-{verb}.prof"))
            with open(os.path.join(directory, f"{os.getpid()}-walls.json"), "w") as out:
                json.dump(walls, out)
            with open(os.path.join(directory, f"{os.getpid()}-sftp.json"), "w") as out:
                json.dump(dict(requests), out)
        os._exit(0)

    provider_pb2_grpc.add_ResourceProviderServicer_to_server = add  # type: ignore[assignment]
    signal.signal(signal.SIGTERM, dump)


def _count_sftp_requests() -> dict[str, int]:
    """SFTP request type -> requests sent by this process (every request, prefetches and
    closes included, passes through ``SFTPClient._async_request``)."""
    import collections

    from paramiko import sftp, sftp_client

    names = sftp.CMD_NAMES
    counts: collections.Counter[str] = collections.Counter()
    original = sftp_client.SFTPClient._async_request

    def counted(self: object, fileobj: object, t: int, *args: object) -> object:
        counts[names.get(t, str(t))] += 1
        return original(self, fileobj, t, *args)  # type: ignore[arg-type]

    sftp_client.SFTPClient._async_request = counted  # type: ignore[method-assign]
    return counts


def _cap(which: str) -> None:
    if which == "provider":
        import pulumi_vigo_vm.provider as provider

        provider.widen_rpc_pool = lambda *_a, **_k: False  # type: ignore[assignment]
    elif which == "program":
        import asyncio.base_events

        import pulumi_vigo_vm.vm.resource as resource

        resource.widen_program_registrations = lambda *_a, **_k: False  # type: ignore[assignment]
        asyncio.base_events.BaseEventLoop.set_default_executor = lambda *_a: None  # type: ignore[method-assign]


if os.environ.get("VIGO_BENCH_CALL_LOG"):
    _log_calls(os.environ["VIGO_BENCH_CALL_LOG"])
if os.environ.get("VIGO_BENCH_CAP"):
    _cap(os.environ["VIGO_BENCH_CAP"])
if os.environ.get("VIGO_BENCH_PROFILE") and "pulumi.dynamic" in sys.orig_argv:
    _profile(os.environ["VIGO_BENCH_PROFILE"])
