"""Translation between the contract's WorkflowRule and WorkflowRun and the domain."""

from google.protobuf.timestamp_pb2 import Timestamp

from crm.sales.v1 import workflow_rule_pb2 as pb
from crm_common.errors import InvalidArgument, Violations
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_sales.domain.workflows import (
    PREFIX,
    Action,
    AddTag,
    ChangeOwner,
    CreateTask,
    MoveStage,
    Notify,
    Target,
    WorkflowRule,
    WorkflowRuleRecord,
    checked_rule,
)
from crm_sales.events.workflow_subjects import condition_problem
from crm_sales.opportunity_proto import stage_from_name
from crm_sales.storage.workflows import WorkflowRun

WORKFLOW_RULES = "workflowRules/"
EVERY_RULE = "-"
_ACTION_KINDS = "create_task, change_owner, add_tag, move_stage or notify"


def rule_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, WORKFLOW_RULES, field, "like workflowRules/123")


def rule_id_from_parent(parent: str) -> str | None:
    """The rule whose runs `parent` names; None for `workflowRules/-` (every rule)."""
    rule_id = require_id(
        parent, WORKFLOW_RULES, "parent", "like workflowRules/123 or workflowRules/-"
    )
    return None if rule_id == EVERY_RULE else rule_id


def rule_from_proto(message: pb.WorkflowRule, rule_id: str) -> WorkflowRule:
    """The rule a create asks for; INVALID_ARGUMENT for what cannot be read at all."""
    violations = Violations()
    rule = WorkflowRule(
        id=rule_id,
        display_name=message.display_name,
        trigger=message.trigger,
        target=_target(message.target, violations),
        actions=_actions(message.actions, violations),
        condition=message.condition,
        enabled=message.enabled if message.HasField("enabled") else True,
    )
    if violations:
        # Name every problem at once, not only those found while reading.
        try:
            checked_rule(rule, condition_problem)
        except InvalidArgument as error:
            violations.extend(error.violations)
    violations.raise_if_any()
    return rule


def rule_field(message: pb.WorkflowRule, field: str) -> object:
    """One writable field of `message` in its domain form."""
    violations = Violations()
    match field:
        case "target":
            value: object = _target(message.target, violations)
        case "actions":
            value = _actions(message.actions, violations)
        case _:
            value = getattr(message, field)
    violations.raise_if_any()
    return value


def _target(value: int, violations: Violations) -> Target | None:
    if value == pb.WORKFLOW_TARGET_UNSPECIFIED:
        return None
    try:
        return Target[pb.WorkflowTarget.Name(value).removeprefix("WORKFLOW_TARGET_")]
    except ValueError:
        violations.add(f"{PREFIX}.target", f"{value} is not a known target")
        return None


def _actions(messages: list[pb.WorkflowAction], violations: Violations) -> tuple[Action, ...]:
    actions: list[Action] = []
    for index, message in enumerate(messages):
        path = f"{PREFIX}.actions[{index}]"
        match message.WhichOneof("kind"):
            case "create_task":
                task = message.create_task
                actions.append(CreateTask(task.title, task.due_in_days, task.assignee))
            case "change_owner":
                actions.append(ChangeOwner(message.change_owner.owner))
            case "add_tag":
                actions.append(AddTag(message.add_tag.tag))
            case "move_stage":
                try:
                    pipeline_id, stage_id = stage_from_name(
                        message.move_stage.stage, f"{path}.move_stage.stage"
                    )
                except InvalidArgument as error:
                    violations.extend(error.violations)
                    # Kept in place, so later actions' problems name their own index.
                    pipeline_id = stage_id = ""
                actions.append(MoveStage(pipeline_id, stage_id))
            case "notify":
                actions.append(Notify(message.notify.message, message.notify.recipient))
            case _:
                violations.add(path, f"set one of {_ACTION_KINDS}")
    return tuple(actions)


def rule_to_proto(record: WorkflowRuleRecord) -> pb.WorkflowRule:
    rule = record.rule
    message = pb.WorkflowRule(
        name=rule.name,
        display_name=rule.display_name,
        enabled=rule.enabled,
        trigger=rule.trigger,
        condition=rule.condition,
        target=pb.WorkflowTarget.Value(f"WORKFLOW_TARGET_{rule.target.name}")
        if rule.target is not None
        else pb.WORKFLOW_TARGET_UNSPECIFIED,
        actions=[_action_to_proto(action) for action in rule.actions],
        create_time=_stamp(record.create_time),
        update_time=_stamp(record.update_time),
        etag=etag_for(record.version),
    )
    return message


def _action_to_proto(action: Action) -> pb.WorkflowAction:
    match action:
        case CreateTask():
            return pb.WorkflowAction(
                create_task=pb.CreateTaskAction(
                    title=action.title, due_in_days=action.due_in_days, assignee=action.assignee
                )
            )
        case ChangeOwner():
            return pb.WorkflowAction(change_owner=pb.ChangeOwnerAction(owner=action.owner))
        case AddTag():
            return pb.WorkflowAction(add_tag=pb.AddTagAction(tag=action.tag))
        case MoveStage():
            stage = f"pipelines/{action.pipeline_id}/stages/{action.stage_id}"
            return pb.WorkflowAction(move_stage=pb.MoveStageAction(stage=stage))
        case Notify():
            return pb.WorkflowAction(
                notify=pb.NotifyAction(recipient=action.recipient, message=action.message)
            )
    raise TypeError(f"not a workflow action: {action!r}")


def run_to_proto(run: WorkflowRun) -> pb.WorkflowRun:
    return pb.WorkflowRun(
        name=run.name,
        event_id=run.event_id,
        event_type=run.event_type,
        subject=run.subject,
        outcome=pb.WorkflowRunOutcome.Value(f"WORKFLOW_RUN_OUTCOME_{run.outcome.name}"),
        detail=run.detail,
        depth=run.depth,
        targets=list(run.targets),
        create_time=_stamp(run.create_time),
    )


def _stamp(moment: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)  # type: ignore[arg-type]
    return stamp
