"""The reminder scheduler: `task.due_soon` and `task.overdue`, once each per due time.

Each task owed a reminder is handled in a unit of work of its own, which
claims the reminder (storage/reminders.py) and writes the event to the
outbox together: a replica that loses the race claims nothing and announces
nothing; all state is in the database, so a restart resumes where it stopped.
"""

from datetime import datetime

from crm_common.messaging.uow import UnitOfWorkFactory
from crm_projects.domain.reminders import Announced, reminder_due
from crm_projects.domain.tasks import OPEN
from crm_projects.events.published import task_reminder
from crm_projects.storage.reminders import announced, claim, reschedule, tasks_owed_reminders
from crm_projects.storage.tasks import TaskRepository

# Tasks looked at per run: a backlog (after downtime) is worked off over
# several runs instead of holding one long pass.
BATCH_SIZE = 200


async def send_task_reminders(units: UnitOfWorkFactory, now: datetime) -> None:
    """The scheduled job: the tasks whose next reminder time has come."""
    async with units() as uow:
        owed = await tasks_owed_reminders(uow.session, now, BATCH_SIZE)
    for task_id in owed:
        await _remind(units, task_id, now)


async def _remind(units: UnitOfWorkFactory, task_id: str, now: datetime) -> None:
    async with units() as uow:
        task = await TaskRepository(uow.session).get(task_id)
        if task is None:
            return  # deleted since the scan
        before = await announced(uow.session, task_id)
        after = before or Announced()
        due_time = task.draft.due_time
        reminder = (
            reminder_due(due_time, now, after)
            if due_time is not None and task.status in OPEN
            else None
        )
        if reminder is not None and due_time is not None:
            if not await claim(uow.session, task_id, reminder, due_time, before):
                return  # another replica announced it (and reschedules the task)
            uow.publish(task_reminder(task, reminder))
            after = after.adding(reminder, due_time)
        # Also when nothing was owed (the task changed since the scan, or a change
        # raced an announcement): the task is not read again before its time.
        await reschedule(uow.session, task, after)
        await uow.commit()
