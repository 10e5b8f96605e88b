/** Bodies of the admin API, validated with zod. */
import { z } from "zod";

/** `POST /api/backends`: a replica started elsewhere registers (and re-posts as its heartbeat). */
export const RegisterBackendBody = z.strictObject({
  url: z.url().refine(
    (u) => u.startsWith("http://") || u.startsWith("https://"),
    "expected an http(s) URL",
  ),
  model: z.string().min(1),
  /** Seconds without a heartbeat after which the registration expires. */
  ttl_seconds: z.number().positive().max(86_400).default(30),
  /** A stable id; derived from the URL when absent. */
  id: z.string().min(1).max(200).regex(
    /^[A-Za-z0-9._:-]+$/,
    "use letters, digits, '.', '_', ':' or '-'",
  ).optional(),
});

/** A parsed registration. */
export type RegisterBackendInput = z.infer<typeof RegisterBackendBody>;
