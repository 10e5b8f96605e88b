import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { exportJWK, exportSPKI, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import { JwtSchema } from "../../config/auth_schema.ts";
import { AuthSetupError, JwtVerifier } from "./jwt.ts";

const NOW_S = 1_900_000_000;
const now = () => NOW_S * 1000;

type Alg = "RS256" | "ES256";

async function keyPair(alg: Alg) {
  return await generateKeyPair(alg, { extractable: true });
}

function sign(
  privateKey: CryptoKey,
  alg: Alg,
  claims: JWTPayload,
  options: { kid?: string; iat?: number; exp?: number; nbf?: number } = {},
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, ...(options.kid ? { kid: options.kid } : {}) })
    .setIssuedAt(options.iat ?? NOW_S)
    .setExpirationTime(options.exp ?? NOW_S + 300);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(privateKey);
}

async function pemFile(publicKey: CryptoKey): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".pem" });
  await Deno.writeTextFile(path, await exportSPKI(publicKey));
  return path;
}

for (const alg of ["RS256", "ES256"] as const) {
  Deno.test(`a ${alg} token signed by the PEM public key gives its claims' principal`, async () => {
    const { publicKey, privateKey } = await keyPair(alg);
    const file = await pemFile(publicKey);
    try {
      const verifier = await JwtVerifier.create(
        JwtSchema.parse({ public_key_file: file, issuer: "https://idp", audience: "turnpike" }),
        { now, defaultPriority: "medium" },
      );
      const token = await sign(privateKey, alg, {
        sub: "team-a",
        jti: "t1",
        iss: "https://idp",
        aud: "turnpike",
        models: ["m1", "m2"],
        priority: "high",
        priority_header: true,
        limits: { requests_per_minute: 60, max_concurrent: 2 },
      });
      const checked = await verifier.verify(token);
      assert(checked.ok, JSON.stringify(checked));
      assertEquals(checked.principal, {
        kind: "jwt",
        clientId: "team-a",
        credentialId: "t1",
        models: ["m1", "m2"],
        priority: "high",
        priorityHeader: true,
        limits: { requestsPerMinute: 60, maxConcurrent: 2 },
        admin: false,
      });
    } finally {
      await Deno.remove(file);
    }
  });
}

Deno.test("a token is refused when expired, not yet valid, from another issuer or audience, or signed by another key", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  const other = await keyPair("RS256");
  const file = await pemFile(publicKey);
  try {
    const verifier = await JwtVerifier.create(
      JwtSchema.parse({
        public_key_file: file,
        issuer: "https://idp",
        audience: "turnpike",
        clock_tolerance: 30,
      }),
      { now },
    );
    const good = { sub: "c", iss: "https://idp", aud: "turnpike" };
    const cases: [string, Promise<string>, RegExp][] = [
      ["expired", sign(privateKey, "RS256", good, { exp: NOW_S - 31 }), /"exp"/],
      ["not yet valid", sign(privateKey, "RS256", good, { nbf: NOW_S + 31 }), /"nbf"/],
      ["wrong issuer", sign(privateKey, "RS256", { ...good, iss: "https://evil" }), /"iss"/],
      ["wrong audience", sign(privateKey, "RS256", { ...good, aud: "other" }), /"aud"/],
      ["other key", sign(other.privateKey, "RS256", good), /signature/],
      ["no client id", sign(privateKey, "RS256", { iss: good.iss, aud: good.aud }), /"sub"/],
      ["bad priority", sign(privateKey, "RS256", { ...good, priority: "urgent" }), /priority/],
      ["bad models", sign(privateKey, "RS256", { ...good, models: 3 }), /models/],
    ];
    for (const [what, token, message] of cases) {
      const checked = await verifier.verify(await token);
      assert(!checked.ok, `${what} was accepted`);
      assertEquals(checked.status, 401, what);
      assert(message.test(checked.message), `${what}: ${checked.message}`);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("clock_tolerance lets a token expired or not yet valid by less than it through", async () => {
  const { publicKey, privateKey } = await keyPair("ES256");
  const file = await pemFile(publicKey);
  try {
    const lenient = await JwtVerifier.create(
      JwtSchema.parse({ public_key_file: file, clock_tolerance: 30 }),
      { now },
    );
    const strict = await JwtVerifier.create(
      JwtSchema.parse({ public_key_file: file, clock_tolerance: 0 }),
      { now },
    );
    const expired = await sign(privateKey, "ES256", { sub: "c" }, {
      iat: NOW_S - 100,
      exp: NOW_S - 10,
    });
    const early = await sign(privateKey, "ES256", { sub: "c" }, { nbf: NOW_S + 10 });
    for (const token of [expired, early]) {
      assert((await lenient.verify(token)).ok);
      assert(!(await strict.verify(token)).ok);
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("claims absent fall back: every model, the default class, the configured header rule; names are configurable", async () => {
  const { publicKey, privateKey } = await keyPair("RS256");
  const file = await pemFile(publicKey);
  try {
    const verifier = await JwtVerifier.create(
      JwtSchema.parse({
        public_key_file: file,
        claims: { client_id: "azp", models: "scope_models" },
      }),
      { now, defaultPriority: "low", priorityHeader: true },
    );
    const plain = await verifier.verify(await sign(privateKey, "RS256", { azp: "svc" }));
    assert(plain.ok);
    assertEquals(plain.principal.models, "*");
    assertEquals(plain.principal.priority, "low");
    assertEquals(plain.principal.priorityHeader, true);
    assertEquals(plain.principal.credentialId, "svc");
    const spaced = await verifier.verify(
      await sign(privateKey, "RS256", { azp: "svc", scope_models: "a b" }),
    );
    assert(spaced.ok);
    assertEquals(spaced.principal.models, ["a", "b"]);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a PEM file without a key for the configured algorithms is a setup error naming the config path", async () => {
  const { publicKey } = await keyPair("ES256");
  const file = await pemFile(publicKey);
  try {
    let thrown: unknown;
    try {
      await JwtVerifier.create(
        JwtSchema.parse({ public_key_file: file, algorithms: ["RS256"] }),
      );
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof AuthSetupError);
    assert(thrown.message.startsWith("auth.jwt.public_key_file:"), thrown.message);
  } finally {
    await Deno.remove(file);
  }
});

/** A JWKS endpoint on 127.0.0.1 serving `keys`, counting its fetches. */
function startJwks(keys: { current: unknown[] }) {
  const ready = Promise.withResolvers<Deno.NetAddr>();
  let fetches = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => ready.resolve(addr),
  }, () => {
    fetches++;
    return Response.json({ keys: keys.current });
  });
  return ready.promise.then((addr) => ({
    url: `http://127.0.0.1:${addr.port}/.well-known/jwks.json`,
    fetches: () => fetches,
    close: () => server.shutdown(),
  }));
}

Deno.test("JWKS: keys are fetched once and cached; a new kid after rotation is fetched and accepted", async () => {
  const first = await keyPair("RS256");
  const second = await keyPair("ES256");
  const jwk = async (key: CryptoKey, kid: string, alg: Alg) => ({
    ...(await exportJWK(key)),
    kid,
    alg,
    use: "sig",
  });
  const served = { current: [await jwk(first.publicKey, "k1", "RS256")] };
  const jwks = await startJwks(served);
  try {
    const verifier = await JwtVerifier.create(
      JwtSchema.parse({ jwks_url: jwks.url, jwks_cooldown: 0 }),
      { now, cacheSize: 0 },
    );
    const old = await sign(first.privateKey, "RS256", { sub: "a" }, { kid: "k1" });
    assert((await verifier.verify(old)).ok);
    assert((await verifier.verify(old)).ok);
    assertEquals(jwks.fetches(), 1);
    served.current = [await jwk(second.publicKey, "k2", "ES256")];
    const rotated = await sign(second.privateKey, "ES256", { sub: "b" }, { kid: "k2" });
    const checked = await verifier.verify(rotated);
    assert(checked.ok, JSON.stringify(checked));
    assertEquals(checked.principal.clientId, "b");
    assertEquals(jwks.fetches(), 2);
    const unknown = await sign(first.privateKey, "RS256", { sub: "a" }, { kid: "k9" });
    const refused = await verifier.verify(unknown);
    assert(!refused.ok);
    assertEquals(refused.status, 401);
  } finally {
    await jwks.close();
  }
});

Deno.test("JWKS: an endpoint that cannot be reached is a 503 (the gateway's trouble), not a 401", async () => {
  const { privateKey } = await keyPair("RS256");
  const jwks = await startJwks({ current: [] });
  const url = jwks.url;
  await jwks.close();
  const verifier = await JwtVerifier.create(JwtSchema.parse({ jwks_url: url }), { now });
  const checked = await verifier.verify(
    await sign(privateKey, "RS256", { sub: "a" }, { kid: "k" }),
  );
  assert(!checked.ok);
  assertEquals(checked.status, 503);
});
