"""The step executor: carry one registration's :class:`~.steps.Plan` out and answer the program.

Mirrors pkg/resource/deploy/step_executor.go and step.go (``SameStep``, ``CreateStep``,
``UpdateStep``, ``ReplaceStep``): after the step generator (:mod:`.stepgen`) and the analyzers
(:mod:`.analysis`), ``Create``/``Update``/the replacement's delete and create run against the
provider, the new state is checkpointed (unless a ``same`` step changed nothing:
:mod:`.elision`), and the outputs go back to the program; in a preview nothing runs and the
response is the engine's preview answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulumi.runtime.proto import resource_pb2

from . import props
from ._protocol import STACK_TYPE
from .analysis import analyze_step
from .deletes import delete_dependents_first, delete_one
from .elision import same_step_must_write
from .errors import DeploymentAborted, HarnessError, UnsupportedResourceError
from .results import Step
from .state import ResourceState
from .stepgen import plan_step
from .steps import Plan, dependencies
from .urns import urn_type

if TYPE_CHECKING:
    from .deployment import Deployment

__all__ = ["DYNAMIC_TYPE_PREFIX", "preview_response", "register", "secret_outputs"]

DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"


def register(
    run: Deployment,
    request: resource_pb2.RegisterResourceRequest,
    urn: str,
    order: int,
    old: ResourceState | None,
    old_urn: str,
) -> resource_pb2.RegisterResourceResponse:
    """Plan, analyze and (unless previewing) execute the step of one custom resource."""
    if not request.type.startswith(DYNAMIC_TYPE_PREFIX):
        raise UnsupportedResourceError(
            f"{urn}: only dynamic resources ({DYNAMIC_TYPE_PREFIX}...) are supported, "
            "the harness has no provider plugin for other packages"
        )
    if request.importId:
        raise UnsupportedResourceError(f"{urn}: import is not supported by the harness")
    if run.aborted:
        raise DeploymentAborted(urn)
    provider = run.provider()
    news = props.from_struct(request.object)
    provider.remember_secrets(news)
    plan = plan_step(provider, request, urn, news, old, run.recreating)
    analyze_step(run, request, urn, plan, old)

    if run.preview:
        return preview_response(run, request, urn, plan, old, old_urn)

    new = ResourceState(
        urn=urn,
        type=request.type,
        id=old.id if old else "",
        inputs=plan.checked,
        outputs={},
        order=order,
        parent="" if urn_type(request.parent) == STACK_TYPE else request.parent,
        dependencies=dependencies(request),
        property_dependencies={
            key: sorted(entry.urns) for key, entry in request.propertyDependencies.items()
        },
        additional_secret_outputs=list(request.additionalSecretOutputs),
        protect=bool(request.protect),
        retain_on_delete=bool(request.retainOnDelete),
    )
    must_write = True
    if plan.op == "same":
        assert old is not None
        new.outputs = old.outputs
        must_write = same_step_must_write(old, new)  # the engine elides a no-op's write
    elif plan.op == "update":
        assert old is not None
        if run.aborted:
            raise DeploymentAborted(urn)
        outs = provider.update(
            urn,
            old.id,
            old_outputs=old.outputs,
            old_inputs=old.inputs,
            news=plan.checked,
            ignore_changes=request.ignoreChanges,
        )
        new.outputs = secret_outputs(outs, plan.checked, request)
    elif plan.op == "create":
        if run.aborted:
            raise DeploymentAborted(urn)
        new.id, outs = provider.create(urn, plan.checked)
        new.outputs = secret_outputs(outs, plan.checked, request)
    else:  # replace
        assert old is not None
        if old.protect and request.protect:
            raise HarnessError(f"unable to replace protected resource {urn}")
        if run.aborted:
            raise DeploymentAborted(urn)
        if old.urn in run.recreating:
            pass  # deleted already, ahead of the delete-before-replace it depended on
        elif plan.delete_before_replace:
            delete_dependents_first(run, provider, old)
            delete_one(run, old, record_step=False)
        new.id, outs = provider.create(urn, plan.checked)
        new.outputs = secret_outputs(outs, plan.checked, request)
        if not plan.delete_before_replace and old.urn not in run.recreating:
            # Create-before-delete: the old instance is deleted at the end of the run.
            with run.lock:
                condemned = old.copy()
                run.state.pending_deletes.append(condemned)
                run.replaced.append(condemned)
    run.commit(new, old_urn=old_urn, must_write=must_write)
    run.record(
        Step(
            urn=urn,
            name=new.name,
            type=new.type,
            op=plan.op,
            replaces=plan.replaces,
            diffs=plan.diffs,
            id=new.id,
            delete_before_replace=plan.delete_before_replace,
            old_urn=old_urn,
        )
    )
    with run.lock:
        run.final[urn] = (new.type, new.id, new.outputs, new.dependencies)
    return resource_pb2.RegisterResourceResponse(
        urn=urn, id=new.id, object=props.to_struct(new.outputs)
    )


def secret_outputs(
    outs: props.PropertyMap,
    checked: props.PropertyMap,
    request: resource_pb2.RegisterResourceRequest,
) -> props.PropertyMap:
    """Outputs with the secret bit of same-named inputs and ``additional_secret_outputs``."""
    annotated = props.annotate_secrets(outs, checked)
    return props.mark_secret_keys(annotated, request.additionalSecretOutputs)


def preview_response(
    run: Deployment,
    request: resource_pb2.RegisterResourceRequest,
    urn: str,
    plan: Plan,
    old: ResourceState | None,
    old_urn: str,
) -> resource_pb2.RegisterResourceResponse:
    """What the engine returns in a preview (providers without preview support)."""
    if plan.op == "same":
        assert old is not None
        id_, outputs = old.id, old.outputs
    elif plan.op == "update":
        assert old is not None
        id_, outputs = old.id, plan.checked
    else:  # create / replace: no ID yet, unknown outputs beyond the inputs
        id_, outputs = "", plan.checked
    run.record(
        Step(
            urn=urn,
            name=urn.split("::", 3)[-1],
            type=urn_type(urn),
            op=plan.op,
            replaces=plan.replaces,
            diffs=plan.diffs,
            id=id_,
            delete_before_replace=plan.delete_before_replace,
            old_urn=old_urn,
        )
    )
    with run.lock:
        run.final[urn] = (request.type, id_, outputs, dependencies(request))
    return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=props.to_struct(outputs))
