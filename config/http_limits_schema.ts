/** `proxy:` fields that bound what one client request may cost the gateway: its head, and how slowly its head and body may arrive. */
import { z } from "zod";

/**
 * Deno.serve 2.9 answers a bare 400 (no body) to a head of more than 128 headers or of more than
 * about 64 KiB; these limits sit below that, so a client gets an OpenAI-shaped 431 instead.
 */
export const HttpLimitsFields = {
  /** Request headers a request may carry (431 above it). @default 64 */
  max_header_count: z.number().int().positive().max(128).default(64),
  /** Bytes of request headers, names and values, a request may carry (431 above it). @default 16384 */
  max_header_bytes: z.number().int().positive().max(64 * 1024).default(16 * 1024),
  /**
   * Seconds a client may take to send its whole body once its head arrived; past it the gateway
   * answers 408 and drops the connection (a client trickling its body holds no handler longer).
   * @default 30
   */
  body_timeout: z.number().positive().default(30),
  /**
   * Seconds a client may take to send a request head, from its connection's start (or a later
   * request's first byte); past it the gateway answers 408 and closes the connection (a client
   * trickling its headers holds no connection longer). 0 turns the guard off. Unset: 10 when
   * `host` is not a loopback interface, off on loopback.
   */
  header_timeout: z.number().nonnegative().max(3600).optional(),
};
