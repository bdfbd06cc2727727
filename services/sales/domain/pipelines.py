"""Pipelines and their ordered stages.

Stages keep their ids for life: renaming, reordering and archiving change
how a stage shows, never which stage an opportunity's history points at.
"""

from dataclasses import dataclass, replace
from datetime import datetime

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_common.validation import check_id, check_length

DISPLAY_NAME_MAX = 100
STAGES_MAX = 50


@dataclass(frozen=True)
class Stage:
    id: str
    display_name: str
    # Default win probability of an opportunity in this stage, in percent.
    probability: int
    archived: bool = False


@dataclass
class Pipeline:
    id: str
    display_name: str
    # In board order, archived ones included (they keep their place).
    stages: tuple[Stage, ...]
    create_time: datetime
    update_time: datetime
    archived: bool = False
    version: int = 1

    @property
    def name(self) -> str:
        return f"pipelines/{self.id}"

    @classmethod
    def create(
        cls, pipeline_id: str, display_name: str, stages: tuple[Stage, ...], now: datetime
    ) -> "Pipeline":
        violations = Violations()
        check_id(violations, "pipeline_id", pipeline_id)
        display_name = _display_name(display_name, violations, "pipeline.display_name")
        if not stages:
            violations.add("pipeline.stages", "a pipeline needs at least one stage")
        stages = _checked_stages(stages, violations)
        violations.raise_if_any()
        return cls(pipeline_id, display_name, stages, now, now)

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if not s.archived)

    def stage(self, stage_id: str) -> Stage:
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        raise FailedPrecondition(f"{self.name} has no stage {stage_id!r}")

    def update(
        self, display_name: str | None, stages: tuple[Stage, ...] | None, now: datetime
    ) -> list[str]:
        """Renames the pipeline and/or replaces its stage list (rename, reorder,
        re-probability, archive, add). A stage may not be dropped: archive it."""
        self._refuse_if_archived()
        violations = Violations()
        changed: list[str] = []
        if display_name is not None:
            name = _display_name(display_name, violations, "pipeline.display_name")
            if name != self.display_name:
                self.display_name = name
                changed.append("display_name")
        if stages is not None:
            checked = _checked_stages(stages, violations)
            kept = {s.id for s in checked}
            dropped = [s.id for s in self.stages if s.id not in kept]
            if dropped:
                violations.add(
                    "pipeline.stages",
                    f"stages {', '.join(dropped)} are missing; archive a stage instead of "
                    "removing it, so the history that mentions it stays readable",
                )
            if not any(not s.archived for s in checked):
                violations.add("pipeline.stages", "at least one stage must stay unarchived")
            violations.raise_if_any()
            if checked != self.stages:
                self.stages = checked
                changed.append("stages")
        violations.raise_if_any()
        if changed:
            self._touch(now)
        return changed

    def archive(self, now: datetime) -> None:
        self._refuse_if_archived()
        self.archived = True
        self._touch(now)

    def newly_archived_stages(self, before: tuple[Stage, ...]) -> list[str]:
        """Stage ids archived by the last update: the caller checks none holds open deals."""
        was_archived = {s.id for s in before if s.archived}
        return [s.id for s in self.stages if s.archived and s.id not in was_archived]

    def moved_stages(self, before: tuple[Stage, ...]) -> bool:
        """Whether the last update changed the board position of a stage that
        existed before (stages added at the end move none)."""
        now = {stage.id: position for position, stage in enumerate(self.stages)}
        return any(now.get(stage.id) != position for position, stage in enumerate(before))

    def _refuse_if_archived(self) -> None:
        if self.archived:
            raise FailedPrecondition(f"{self.name} is archived")

    def _touch(self, now: datetime) -> None:
        self.update_time = now
        self.version += 1


def _display_name(value: str, violations: Violations, path: str) -> str:
    value = value.strip()
    if not value:
        violations.add(path, "is required")
    check_length(violations, path, value, DISPLAY_NAME_MAX)
    return value


def _checked_stages(stages: tuple[Stage, ...], violations: Violations) -> tuple[Stage, ...]:
    if len(stages) > STAGES_MAX:
        violations.add("pipeline.stages", f"has more than {STAGES_MAX} stages")
    seen: set[str] = set()
    result = []
    for index, stage in enumerate(stages):
        path = f"pipeline.stages[{index}]"
        check_id(violations, f"{path}.id", stage.id)
        if stage.id in seen:
            violations.add(f"{path}.id", f"{stage.id!r} appears twice")
        seen.add(stage.id)
        if not 0 <= stage.probability <= 100:
            violations.add(f"{path}.probability", "is a percentage, 0 to 100")
        result.append(
            replace(
                stage,
                display_name=_display_name(stage.display_name, violations, f"{path}.display_name"),
            )
        )
    return tuple(result)


def require_open_stage(pipeline: Pipeline, stage_id: str, field: str) -> Stage:
    """The stage an opportunity may enter: it exists and is not archived."""
    if pipeline.archived:
        raise FailedPrecondition(f"{pipeline.name} is archived; it takes no opportunities")
    for stage in pipeline.stages:
        if stage.id == stage_id:
            if stage.archived:
                raise FailedPrecondition(f"stage {stage_id!r} of {pipeline.name} is archived")
            return stage
    raise InvalidArgument.single(field, f"{pipeline.name} has no stage {stage_id!r}")
