import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { RequestOutcome } from "../../actors/backend/mod.ts";
import type { BackendView } from "../../actors/router/mod.ts";
import { HeadersSchema, ProxySchema } from "../../config/mod.ts";
import { RecordStore } from "../records.ts";
import { UpstreamError, type UpstreamFailure, type UpstreamResponse } from "../upstream/mod.ts";
import { Deadlines } from "./deadlines.ts";
import { type ForwardContext, forwardOpenAI } from "./forward.ts";
import { ChatCompletionBody } from "./schemas.ts";

const encoder = new TextEncoder();

/** A scripted upstream answer that notes what the gateway did with its body. */
interface FakeAnswer extends UpstreamResponse {
  reads: number;
  cancelled: boolean;
}

function fakeAnswer(
  status: number,
  options: { headers?: [string, string][]; stream?: boolean; body?: string } = {},
): FakeAnswer {
  const body = encoder.encode(
    options.body ?? (options.stream ? "data: {}\n\ndata: [DONE]\n\n" : "{}"),
  );
  let left: Uint8Array | null = body;
  const answer: FakeAnswer = {
    status,
    headers: options.headers ?? [],
    contentType: options.stream ? "text/event-stream" : "application/json",
    contentLength: options.stream ? undefined : body.byteLength,
    reads: 0,
    cancelled: false,
    read() {
      answer.reads++;
      const piece = left;
      left = null;
      return Promise.resolve(piece);
    },
    bytes: () => Promise.resolve(body),
    cancel() {
      answer.cancelled = true;
    },
  };
  return answer;
}

/** A forward context over fake backends `a`, `b`, ... whose answers `reply` scripts. */
function harness(
  reply: (backendId: string, request: { signal: AbortSignal }) => Promise<UpstreamResponse>,
  options: { backends?: number; proxy?: Record<string, unknown> } = {},
) {
  const views: BackendView[] = [];
  for (let i = 0; i < (options.backends ?? 2); i++) {
    const id = String.fromCharCode(97 + i);
    views.push({ id, url: `http://${id}`, inFlight: 0, ewmaTtftMs: undefined, load: undefined });
  }
  const sent: string[] = [];
  const started: string[] = [];
  const finished: { id: string; outcome: RequestOutcome }[] = [];
  const routerEvents: string[] = [];
  const records = new RecordStore();
  const deadlines = new Deadlines({ tickMs: 5 });
  const context: ForwardContext = {
    proxy: ProxySchema.parse({ max_retries: 2, ...options.proxy }),
    headers: HeadersSchema.parse({}),
    router: (model) =>
      model === "m"
        ? {
          pick: (_features, exclude) => views.find((v) => !exclude?.has(v.id)),
          acquire: (view) => void view.inFlight++,
          release: (view, _outcome, request) => {
            view.inFlight--;
            routerEvents.push(`release ${view.id}${request === undefined ? "" : " with features"}`);
          },
          prefilled: (view, request) =>
            void routerEvents.push(`prefilled ${view.id} ${request.model}`),
        }
        : undefined,
    features: (_body, sessionId) => ({ model: "m", sessionId, prefixHashes: [], promptChars: 0 }),
    started: (backend) => void started.push(backend.id),
    finished: (backend, outcome) => void finished.push({ id: backend.id, outcome }),
    records,
    upstream: {
      request(request) {
        const id = new URL(request.baseUrl).host;
        sent.push(id);
        return reply(id, request);
      },
    },
    deadlines,
  };
  async function post(body: Record<string, unknown> = {}, signal?: AbortSignal) {
    const request = new Request("http://gateway/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...body }),
      ...(signal ? { signal } : {}),
    });
    const endpoint = "/v1/chat/completions";
    return await forwardOpenAI(request, { endpoint, context, schema: ChatCompletionBody });
  }
  return {
    post,
    sent,
    started,
    finished,
    routerEvents,
    views,
    record: () => records.recent()[0],
    inFlight: () => views.map((v) => v.inFlight),
    close: () => deadlines.clear(),
  };
}

async function assertOpenAIError(response: Response, status: number, code: string) {
  assertEquals(response.status, status);
  const body = await response.json();
  assertEquals(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
  assertEquals(body.error.code, code);
  assert(body.error.message.length > 0);
  return body.error.message as string;
}

Deno.test("an attempt the replica cannot have started moves to the next backend, and each attempt gives its backend back", async () => {
  const h = harness((id) =>
    id === "a"
      ? Promise.reject(new UpstreamError("connect_refused", "Connection refused"))
      : Promise.resolve(fakeAnswer(200))
  );
  try {
    const response = await h.post();
    assertEquals([response.status, await response.text()], [200, "{}"]);
    assertEquals(response.headers.get("x-turnpike-backend"), "b");
    assertEquals(h.sent, ["a", "b"]);
    assertEquals(h.inFlight(), [0, 0]);
    assertEquals(h.finished.map((f) => [f.id, f.outcome.ok]), [["a", false], ["b", true]]);
    assertEquals([h.record()?.status, h.record()?.attempts], [200, 2]);
  } finally {
    h.close();
  }
});

Deno.test("a 5xx before the first byte moves to the next backend and cancels the failed answer", async () => {
  const failed = fakeAnswer(503);
  const h = harness((id) => Promise.resolve(id === "a" ? failed : fakeAnswer(200)));
  try {
    const response = await h.post();
    assertEquals(response.status, 200);
    await response.body?.cancel();
    assertEquals([h.sent, failed.cancelled, h.inFlight()], [["a", "b"], true, [0, 0]]);
  } finally {
    h.close();
  }
});

Deno.test("a failure after the request reached the replica is answered at once, on no other backend", async () => {
  const cases: [UpstreamFailure | "plain", number, string][] = [
    ["closed_after_write", 502, "bad_gateway"],
    ["protocol", 502, "bad_gateway"],
    ["first_byte_timeout", 504, "upstream_timeout"],
    ["plain", 502, "bad_gateway"],
  ];
  for (const [kind, status, code] of cases) {
    const h = harness(() =>
      Promise.reject(
        kind === "plain"
          ? new Error("socket hang up")
          : new UpstreamError(kind, `it failed: ${kind}`),
      )
    );
    try {
      const message = await assertOpenAIError(await h.post(), status, code);
      assert(message.includes("The backend a"), message);
      assertEquals([h.sent, h.inFlight()], [["a"], [0, 0]], kind);
      assertEquals(h.finished.map((f) => [f.id, f.outcome.ok]), [["a", false]]);
      assertEquals([h.record()?.status, h.record()?.attempts], [status, 1]);
    } finally {
      h.close();
    }
  }
});

Deno.test("an upstream header the gateway cannot relay becomes a 502, releasing the backend and cancelling the body", async () => {
  const cases: [string, [string, string], boolean][] = [
    ["a name with a space, streamed", ["x bad", "1"], true],
    ["a value with a NUL, streamed", ["x-note", "a\0b"], true],
    ["a value with a bare CR, buffered", ["x-note", "a\rb"], false],
  ];
  for (const [what, header, stream] of cases) {
    const answer = fakeAnswer(200, { headers: [header], stream });
    const h = harness(() => Promise.resolve(answer), { backends: 1 });
    try {
      const message = await assertOpenAIError(await h.post({ stream }), 502, "bad_gateway");
      assert(message.includes("cannot be relayed"), message);
      assertEquals(h.inFlight(), [0], what);
      assertEquals(h.finished.map((f) => f.outcome.ok), [false], what);
      assertEquals(h.record()?.status, 502, what);
      // A stream is never read and its upstream body is let go; a buffered one was read whole.
      if (stream) assertEquals([answer.reads, answer.cancelled], [0, true], what);
    } finally {
      h.close();
    }
  }
});

Deno.test("a streamed answer keeps its backend until the relay ends, then records its first token", async () => {
  const h = harness(() => Promise.resolve(fakeAnswer(200, { stream: true })), { backends: 1 });
  try {
    const response = await h.post({ stream: true });
    assertEquals(h.inFlight(), [1]);
    assertEquals(await response.text(), "data: {}\n\ndata: [DONE]\n\n");
    assertEquals(h.inFlight(), [0]);
    assertEquals(h.finished.length, 1);
    assert(h.finished[0]!.outcome.ok && h.finished[0]!.outcome.ttftMs !== undefined);
    assertEquals(h.record()?.status, 200);
  } finally {
    h.close();
  }
});

Deno.test("a client disconnect answers 499 and a request timeout 504, both releasing the backend", async () => {
  const hang = (_id: string, request: { signal: AbortSignal }) =>
    new Promise<UpstreamResponse>((_resolve, reject) => {
      request.signal.addEventListener("abort", () => reject(request.signal.reason));
    });
  const client = harness(hang);
  try {
    const abort = new AbortController();
    const pending = client.post({}, abort.signal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    abort.abort();
    assertEquals((await pending).status, 499);
    assertEquals([client.sent, client.inFlight()], [["a"], [0, 0]]);
    assertEquals(client.finished.map((f) => f.outcome.aborted), [true]);
    assertEquals(client.record()?.status, 499);
  } finally {
    client.close();
  }
  const timeout = harness(hang, { proxy: { request_timeout: 0.02 } });
  try {
    await assertOpenAIError(await timeout.post(), 504, "request_timeout");
    assertEquals([timeout.sent, timeout.inFlight()], [["a"], [0, 0]]);
    assertEquals(timeout.record()?.status, 504);
  } finally {
    timeout.close();
  }
});

Deno.test("the router hears of a stream's first token, and of every attempt's end with its features", async () => {
  const h = harness(() => Promise.resolve(fakeAnswer(200, { stream: true })));
  try {
    const response = await h.post({ stream: true });
    assertEquals(await response.text(), "data: {}\n\ndata: [DONE]\n\n");
    assertEquals(h.routerEvents, ["prefilled a m", "release a with features"]);
  } finally {
    h.close();
  }
  const json = harness(() => Promise.resolve(fakeAnswer(200)));
  try {
    await (await json.post()).text();
    // A JSON answer's first byte comes after the whole generation: only its end counts.
    assertEquals(json.routerEvents, ["release a with features"]);
  } finally {
    json.close();
  }
});
