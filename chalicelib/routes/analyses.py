"""Analysis routes: request an analysis of an upload, list them, follow one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:
    from chalicelib.models.uploads import JobList, JobOut


bp = Blueprint(__name__)
TAGS = ("analyses",)


@endpoint(
    bp,
    "/projects/{project_id}/analyses",
    "POST",
    summary="Analyze an upload (202: the job; follow it with GET .../analyses/{job_id})",
    body="chalicelib.models.uploads:AnalysisCreate",
    response="chalicelib.models.uploads:JobOut",
    status=202,
    tags=TAGS,
    errors=(404, 409, 422, 503),
)
def create_analysis(req: ApiRequest, project_id: str) -> JobOut:
    from chalicelib.models.uploads import JobOut
    from chalicelib.services import analyses, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    record = analyses.request_analysis(req.ctx, project_id, req.body.upload_id, req.request_id)
    return JobOut.from_record(record)


@endpoint(
    bp,
    "/projects/{project_id}/analyses",
    "GET",
    summary="The project's analyses, newest first",
    response="chalicelib.models.uploads:JobList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def list_analyses(req: ApiRequest, project_id: str) -> JobList:
    from chalicelib.models.uploads import JobList, JobOut
    from chalicelib.services import jobs, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    records = jobs.for_context(req.ctx).list(project_id, kind="analyze")
    return JobList(jobs=[JobOut.from_record(r) for r in records])


@endpoint(
    bp,
    "/projects/{project_id}/analyses/{job_id}",
    "GET",
    summary="An analysis: status, progress, timings; the profile when done, the reason when failed"
    " (?wait=N long-polls up to N s for a change; counted in the cheap status bucket)",
    query="chalicelib.models.api:WaitQuery",
    response="chalicelib.models.uploads:JobOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_analysis(req: ApiRequest, project_id: str, job_id: str) -> JobOut:
    from chalicelib.models.uploads import JobOut
    from chalicelib.services import analyses, jobs, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    record = jobs.get_job(req.ctx, project_id, job_id, kind="analyze", wait_s=req.query.wait)
    return JobOut.from_record(record, profile=analyses.read_report(req.ctx, record))


@endpoint(
    bp,
    "/projects/{project_id}/analyses/{job_id}/cancel",
    "POST",
    summary="Cancel an analysis: a queued one ends cancelled at once (the runner skips it);"
    " a running one is asked to stop and ends cancelled at its next check (one that is"
    " about to finish may still succeed); a finished one answers 409",
    response="chalicelib.models.uploads:JobOut",
    status=202,
    tags=TAGS,
    errors=(404, 409),
)
def cancel_analysis(req: ApiRequest, project_id: str, job_id: str) -> JobOut:
    from chalicelib.models.uploads import JobOut
    from chalicelib.services import analyses, projects

    projects.get_owned(req.ctx, req.user_id, project_id)
    return JobOut.from_record(analyses.cancel_analysis(req.ctx, project_id, job_id))
