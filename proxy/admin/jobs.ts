/**
 * `/api/jobs`: the job actors of a running gateway, for `deno task jobs` and the dashboards.
 * `GET /api/jobs` lists the status rows; `POST /api/jobs/start {models?}`, `POST /api/jobs/scale
 * {model, replicas}` and `POST /api/jobs/stop {model?}` answer the rows after the change. Admin
 * routes (everything under `/api/`): the auth middleware keeps them to the admin key.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { JobsController, JobStatusRow } from "../../actors/job/types.ts";
import { JobsRequestError } from "../../actors/job/controller.ts";
import { errorField, logger } from "../../actors/runtime/mod.ts";
import { errorResponse } from "../errors.ts";
import { parseJsonBody } from "../json_body.ts";

/** `POST /api/jobs/start`'s body: the models to start, every launched one when absent. */
export const StartJobsBody = z.strictObject({ models: z.array(z.string().min(1)).optional() });
/** `POST /api/jobs/scale`'s body. */
export const ScaleJobsBody = z.strictObject({
  model: z.string().min(1),
  replicas: z.number().int().min(0),
});
/** `POST /api/jobs/stop`'s body: one model, or every one when absent. */
export const StopJobsBody = z.strictObject({ model: z.string().min(1).optional() });

function rows(jobs: JobStatusRow[]): Response {
  return Response.json({ jobs });
}

async function answer(work: () => Promise<JobStatusRow[]>): Promise<Response> {
  try {
    return rows(await work());
  } catch (error) {
    if (error instanceof JobsRequestError) {
      const [status, param] = error.code === "model_not_found"
        ? [404, "model"] as const
        : error.code === "invalid_replicas"
        ? [400, "replicas"] as const
        : [409, null] as const;
      return errorResponse(status, error.message, { code: error.code, param });
    }
    logger.error("a jobs request failed", { error: errorField(error) });
    return errorResponse(
      502,
      `The cluster did not answer: ${error instanceof Error ? error.message : String(error)}`,
      { type: "server_error", code: "cluster_unavailable" },
    );
  }
}

/** The `/api/jobs` routes over `jobs`. */
export function jobsRoutes(jobs: JobsController): Hono {
  const app = new Hono();
  app.get("/api/jobs", () => answer(() => jobs.status()));
  app.post("/api/jobs/start", async (c) => {
    const body = await parseJsonBody(c.req.raw, StartJobsBody, { emptyIsObject: true });
    if (!body.ok) return body.response;
    return await answer(() => jobs.start(body.value.models));
  });
  app.post("/api/jobs/scale", async (c) => {
    const body = await parseJsonBody(c.req.raw, ScaleJobsBody);
    if (!body.ok) return body.response;
    return await answer(() => jobs.scale(body.value.model, body.value.replicas));
  });
  app.post("/api/jobs/stop", async (c) => {
    const body = await parseJsonBody(c.req.raw, StopJobsBody, { emptyIsObject: true });
    if (!body.ok) return body.response;
    return await answer(() => jobs.stop(body.value.model));
  });
  return app;
}
