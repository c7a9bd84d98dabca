"""Bulk work of agent tools as jobs: a confirmed call of a tool marked `job` starts its work in
the background and answers a job id at once; `job_status` tells how far it has come (done of
total) and, once it has ended, its result or error. While a caller follows a job with
`job_status` (`wait_s`), its progress reaches them as MCP progress notifications.

Jobs live in the serving process (like the confirmation ledger): with several workers, ask
the worker that started the job — keep MCP on one worker, or sticky sessions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from atom_host_stub.contract import AgentTool, CRMError, Principal, ToolContext

log = logging.getLogger("atom_host_stub.jobs")

JOB_STATUS_TOOL = "job_status"
MAX_WAIT_S = 60
KEEP_FINISHED = 1000

Progress = Callable[[float, float | None, str | None], Awaitable[None]]
JobWork = Callable[[Progress], Awaitable[dict[str, Any]]]
JobState = Literal["running", "succeeded", "failed", "cancelled"]


class JobFailed(Exception):
    """How a job's work ended badly, in the terms a caller is shown (`code`, `message`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JobView(BaseModel):
    """A job as its caller sees it."""

    job_id: str
    tool: str
    status: JobState
    done: float = Field(description="Units of work done (e.g. contacts)")
    total: float | None = Field(default=None, description="Units in all, when known")
    message: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = Field(default=None, description="When it succeeded")
    error: dict[str, str] | None = Field(default=None, description="code and message")


class Job:
    def __init__(self, job_id: str, principal: Principal, tool: str) -> None:
        self.id = job_id
        self.owner = (principal.tenant_id, principal.user_id)
        self.tool = tool
        self.status: JobState = "running"
        self.done: float = 0
        self.total: float | None = None
        self.message: str | None = None
        self.started_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.result: dict[str, Any] | None = None
        self.error: dict[str, str] | None = None
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def view(self) -> JobView:
        return JobView(
            job_id=self.id,
            tool=self.tool,
            status=self.status,
            done=self.done,
            total=self.total,
            message=self.message,
            started_at=self.started_at,
            finished_at=self.finished_at,
            result=self.result,
            error=self.error,
        )

    def _tell(self) -> None:
        # Wake every follower; later changes need a fresh event.
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def progress(self, done: float, total: float | None, message: str | None) -> None:
        self.done, self.message = done, message
        if total is not None:
            self.total = total
        self._tell()

    def end(self, status: JobState, **outcome: Any) -> None:
        self.status = status
        self.finished_at = datetime.now(UTC)
        self.result = outcome.get("result")
        self.error = outcome.get("error")
        self._tell()


class Jobs:
    """The jobs of one MCP server: started by the runner, seen only by the principal who
    started them; finished ones are kept (the last KEEP_FINISHED) so their result can be read."""

    def __init__(self, *, keep: int = KEEP_FINISHED) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._keep = keep

    def start(self, principal: Principal, tool: str, work: JobWork) -> Job:
        job = Job("job_" + secrets.token_urlsafe(12), principal, tool)
        self._jobs[job.id] = job
        self._forget_finished()
        job.task = asyncio.create_task(self._run(job, work), name=f"job {tool}")
        return job

    async def _run(self, job: Job, work: JobWork) -> None:
        try:
            result = await work(job.progress)
        except asyncio.CancelledError:
            job.end("cancelled", error={"code": "cancelled", "message": "The server stopped."})
            raise
        except JobFailed as exc:
            job.end("failed", error={"code": exc.code, "message": exc.message})
        except CRMError as err:
            code = err.crm_code if err.crm_code != "crm_error" else err.code
            job.end("failed", error={"code": code, "message": err.message})
        except Exception:
            # Never a stack trace or a provider's words in an answer; the log has the type.
            log.exception("job %s of %s failed", job.id, job.tool)
            message = "The job failed; nothing more is known here."
            job.end("failed", error={"code": "internal_error", "message": message})
        else:
            job.end("succeeded", result=result)

    def _forget_finished(self) -> None:
        finished = [i for i, j in self._jobs.items() if j.status != "running"]
        for job_id in finished[: max(0, len(finished) - self._keep)]:
            del self._jobs[job_id]

    def get(self, principal: Principal, job_id: str) -> Job:
        """The caller's job; another principal's is not found, as one that never was."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != (principal.tenant_id, principal.user_id):
            raise JobFailed("not_found", f"No job {job_id[:100]!r} of yours here.")
        return job

    async def follow(
        self, principal: Principal, job_id: str, wait_s: float, progress: Progress | None
    ) -> JobView:
        """The job's state once it has ended or `wait_s` has passed, telling `progress` of each
        change meanwhile."""
        job = self.get(principal, job_id)
        if progress is not None and job.status == "running" and wait_s > 0:
            await progress(job.done, job.total, job.message)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, wait_s)
        while job.status == "running" and (left := deadline - loop.time()) > 0:
            changed = job.changed
            try:
                await asyncio.wait_for(changed.wait(), timeout=left)
            except TimeoutError:
                break
            if progress is not None and job.status == "running":
                await progress(job.done, job.total, job.message)
        return job.view()

    async def close(self) -> None:
        """Stop the jobs still running (the server is stopping); they end `cancelled`."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class JobStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=100, pattern=r"^job_[A-Za-z0-9_-]+$")
    wait_s: int = Field(
        default=0, ge=0, le=MAX_WAIT_S, description="Follow it up to this long, with progress"
    )


def job_status_tool(jobs: Jobs) -> AgentTool:
    async def status(ctx: ToolContext, a: JobStatusIn) -> JobView:
        return await jobs.follow(ctx.principal, a.job_id, a.wait_s, ctx.progress)

    return AgentTool(
        JOB_STATUS_TOOL,
        "A job's progress (done of total) and, once ended, its result; wait_s follows it.",
        JobStatusIn,
        JobView,
        status,
    )
