/** The key admin API: `POST /api/keys` (the secret shown once), `GET /api/keys`, `DELETE /api/keys/:id`. */
import { Hono } from "hono";
import { z } from "zod";
import { errorResponse } from "../errors.ts";
import { parseJsonBody } from "../json_body.ts";
import { keyView } from "./api_keys.ts";
import type { Authenticator } from "./authenticator.ts";
import { PRIORITY_CLASSES } from "./principal.ts";

const count = z.number().int().positive();

/** `POST /api/keys`: what the new key grants. */
export const CreateKeyBody = z.strictObject({
  name: z.string().min(1).max(200),
  client_id: z.string().min(1).max(200),
  /** `"*"` (the default) or the model names it may call. */
  models: z.union([z.literal("*"), z.array(z.string().min(1)).min(1)]).default("*"),
  priority: z.enum(PRIORITY_CLASSES).optional(),
  priority_header: z.boolean().default(false),
  limits: z.strictObject({
    requests_per_minute: count.optional(),
    tokens_per_minute: count.optional(),
    max_concurrent: count.optional(),
  }).default({}),
});

/** The key routes over `auth`'s store; the auth middleware keeps them to the admin key. */
export function keyRoutes(auth: Authenticator): Hono {
  const app = new Hono();

  app.post("/api/keys", async (c) => {
    const body = await parseJsonBody(c.req.raw, CreateKeyBody);
    if (!body.ok) return body.response;
    const b = body.value;
    const created = await auth.createKey({
      name: b.name,
      clientId: b.client_id,
      models: b.models,
      priority: b.priority,
      priorityHeader: b.priority_header,
      limits: b.limits,
    });
    return c.json({ object: "api_key", key: created.key, ...keyView(created.record) }, 201);
  });

  app.get("/api/keys", async (c) => {
    const records = await auth.keys.list();
    return c.json({
      object: "list",
      data: records.map((r) => ({ object: "api_key", ...keyView(r) })),
    });
  });

  app.delete("/api/keys/:id", async (c) => {
    const id = c.req.param("id");
    const revoked = await auth.revokeKey(id);
    if (!revoked) {
      return errorResponse(404, `No API key "${id}" exists; GET /api/keys lists them`, {
        code: "key_not_found",
      });
    }
    return c.json({ id, object: "api_key.revoked", revoked: true, revoked_at: revoked.revoked_at });
  });

  return app;
}
