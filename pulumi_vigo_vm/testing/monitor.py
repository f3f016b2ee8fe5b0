"""The ResourceMonitor the program's registrations arrive at, over gRPC.

The engine's side of pkg/resource/deploy/source_eval.go's ``resmon``: each ``RegisterResource``
gets its URN, a registration order and (under the run's lock, in registration order, as the
engine's single-threaded step generator) its old state through the alias rules; custom
resources then wait for one of the ``parallel`` step slots and go to the step executor.
Failures abort the deployment, and the program sees ``UNAVAILABLE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import resource_pb2, resource_pb2_grpc

from . import props
from ._protocol import STACK_TYPE
from .aliases import AliasError
from .errors import DeploymentAborted, HarnessError
from .executor import register
from .urns import registration_urn, urn_type

if TYPE_CHECKING:
    from .deployment import Deployment

__all__ = ["ResourceMonitor"]


class ResourceMonitor(resource_pb2_grpc.ResourceMonitorServicer):
    """The monitor servicer of one run; registrations turn into steps of ``run``."""

    def __init__(self, run: Deployment) -> None:
        self.run = run

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest, context: grpc.ServicerContext
    ) -> resource_pb2.RegisterResourceResponse:
        run = self.run
        urn = registration_urn(
            run.h.stack, run.h.project, request.type, request.parent, request.name
        )
        with run.lock:
            if run.aborted:
                context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
            if urn in run.registered:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"duplicate resource URN {urn}")
            run.registered.add(urn)
            run.in_flight += 1
            order = run.state.next_order
            run.state.next_order += 1
            # Under the lock, in registration order, as the engine's single-threaded step
            # generator does right after generateURN: a child's lookup sees its parent's alias.
            old, old_urn, problems = run.alias_table.get_old_resource(request, urn, run.registered)
        try:
            if problems:
                raise AliasError(urn, problems)
            if not request.custom:
                # Components have no provider; the engine only records their URN.
                return resource_pb2.RegisterResourceResponse(urn=urn)
            with run.slots:
                return register(run, request, urn, order, old, old_urn)
        except DeploymentAborted:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        except HarnessError as exn:
            run.error(exn, abort=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        except Exception as exn:  # a harness bug must not hang the program
            run.error(HarnessError(f"internal harness error on {urn}: {exn!r}"), abort=True)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the deployment was aborted")
        finally:
            with run.idle:
                run.in_flight -= 1
                run.idle.notify_all()
        raise AssertionError("unreachable")  # context.abort always raises

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        if urn_type(request.urn) == STACK_TYPE:
            with self.run.lock:
                self.run.stack_outputs = props.from_struct(request.outputs)
        return empty_pb2.Empty()
