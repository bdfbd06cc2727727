"""The reminder scheduler: `task.due_soon` and `task.overdue`, once each per due time.

Each task owed a reminder is handled in a unit of work of its own, which
claims the reminder (storage/reminders.py) and writes the event to the
outbox together: a replica that loses the race claims nothing and announces
nothing; all state is in the database, so a restart resumes where it stopped.
"""

from datetime import datetime

from crm_common.messaging.uow import UnitOfWorkFactory
from crm_projects.domain.reminders import DUE_SOON_WINDOW, Announced, reminder_due
from crm_projects.domain.tasks import OPEN
from crm_projects.events.published import task_reminder
from crm_projects.storage.reminders import announced, claim, tasks_owed_reminders
from crm_projects.storage.tasks import TaskRepository

# Tasks looked at per run: a backlog (after downtime) is worked off over
# several runs instead of holding one long pass.
BATCH_SIZE = 200


async def send_task_reminders(units: UnitOfWorkFactory, now: datetime) -> None:
    """The scheduled job: the tasks owed a reminder, soonest due first."""
    async with units() as uow:
        owed = await tasks_owed_reminders(uow.session, now, DUE_SOON_WINDOW, BATCH_SIZE)
    for task_id in owed:
        await _remind(units, task_id, now)


async def _remind(units: UnitOfWorkFactory, task_id: str, now: datetime) -> None:
    async with units() as uow:
        task = await TaskRepository(uow.session).get(task_id)
        due_time = task.draft.due_time if task is not None else None
        if task is None or due_time is None or task.status not in OPEN:
            return  # changed since the scan
        before = await announced(uow.session, task_id)
        reminder = reminder_due(due_time, now, before or Announced())
        if reminder is None:
            return
        if not await claim(uow.session, task_id, reminder, due_time, before):
            return  # another replica announced it
        uow.publish(task_reminder(task, reminder))
        await uow.commit()
