// The whole API through openapi-fetch, typed by what openapi-typescript
// generates from openapi.json, unmodified (tests/clients/run.sh generates
// ./generated/roster.ts, checks this file with `tsc --strict` and runs it).
//
//   node flow.js BASE_URL ADMIN_EMAIL
//
// Every step asserts the status and the key fields of the typed answer. No
// `any` and no cast: what the document says is what the code is checked
// against. The `@ts-expect-error` lines are there to fail compilation if the
// types ever stop refusing what the server refuses.
import assert from "node:assert/strict";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/roster.js";

type Schemas = components["schemas"];
const PASSWORD = "correct horse battery staple";

/** The answer of `step` has `status` and a body of the success type. */
async function ok<D extends { success: true }, E>(
  step: string,
  status: number,
  call: Promise<{ data?: D; error?: E; response: Response }>,
): Promise<D> {
  const { data, error, response } = await call;
  assert.equal(response.status, status, `${step}: ${JSON.stringify(error ?? data)}`);
  assert.ok(data !== undefined && error === undefined, `${step}: no data`);
  assert.equal(data.success, true, `${step}: success is not true`);
  console.log(`typescript: ${step}: ${status}`);
  return data;
}

/** The answer of `step` is the error envelope with `status` and `code`. */
async function fails<D>(
  step: string,
  status: number,
  code: Schemas["ErrorInfo"]["code"],
  call: Promise<{ data?: D; error?: Schemas["ErrorEnvelope"]; response: Response }>,
): Promise<Schemas["ErrorEnvelope"]> {
  const { data, error, response } = await call;
  assert.equal(response.status, status, `${step}: ${JSON.stringify(error ?? data)}`);
  assert.ok(error !== undefined && data === undefined, `${step}: no error`);
  assert.equal(error.success, false);
  assert.equal(error.error.code, code);
  assert.ok(error.error.message.length > 0);
  console.log(`typescript: ${step}: ${status} ${code}`);
  return error;
}

async function register(base: string, email: string, displayName: string): Promise<Schemas["AuthSessionDto"]> {
  const anonymous = createClient<paths>({ baseUrl: base });
  const session = await ok(
    `register ${email}`,
    201,
    anonymous.POST("/api/v1/auth/register", { body: { email, password: PASSWORD, displayName } }),
  );
  assert.equal(session.data.user.email, email);
  assert.ok(session.data.accessToken.length > 0 && session.data.refreshToken.length > 0);
  return session.data;
}

async function main(base: string, adminEmail: string): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl: base });

  // register → who am I (an administrator: ROSTER_ADMIN_EMAILS names the e-mail)
  const session = await register(base, adminEmail, "TypeScript Admin");
  const meId = session.user.id;
  const client = createClient<paths>({
    baseUrl: base,
    headers: { Authorization: `Bearer ${session.accessToken}` },
  });
  const me = await ok("me", 200, client.GET("/api/v1/auth/me"));
  assert.equal(me.data.id, meId);
  // @ts-expect-error the answer is typed (not `any`): an e-mail is no number
  const typed: number = me.data.email;
  assert.equal(typeof typed, "string");
  const role: Schemas["RoleDto"] = me.data.role;
  assert.equal(role, "admin");

  // the catalog (public)
  const classes = await ok("catalog classes", 200, anonymous.GET("/api/v1/catalog/classes"));
  const servers = await ok("catalog servers", 200, anonymous.GET("/api/v1/catalog/servers"));
  const items = await ok(
    "catalog items",
    200,
    anonymous.GET("/api/v1/catalog/items", { params: { query: { kind: "quest", perPage: 5 } } }),
  );
  const [klass] = classes.data;
  const [server] = servers.data;
  const [item] = items.data;
  assert.ok(klass !== undefined && server !== undefined && item !== undefined);
  assert.ok(items.data.every((i) => i.kind === "quest"));
  const nextCursor: string | null | undefined = items.pagination.nextCursor;
  assert.ok(nextCursor === undefined || nextCursor === null || typeof nextCursor === "string");

  // an account with notes, then `notes: null` clears them
  const account = (
    await ok(
      "create account",
      201,
      client.POST("/api/v1/accounts", { body: { name: "Main", notes: "alts go here" } }),
    )
  ).data;
  assert.equal(account.name, "Main");
  assert.equal(account.notes, "alts go here");
  assert.equal(account.characterCount, 0);
  const cleared = (
    await ok(
      "clear account notes",
      200,
      client.PATCH("/api/v1/accounts/{id}", { params: { path: { id: account.id } }, body: { notes: null } }),
    )
  ).data;
  assert.equal(cleared.id, account.id);
  assert.equal(cleared.notes, null);
  assert.equal(cleared.name, "Main");

  // characters, and a filtered, sorted list
  const createCharacter = async (name: string, level: number): Promise<string> => {
    const body: Schemas["CreateCharacterRequest"] = {
      name,
      level,
      classId: klass.id,
      serverId: server.id,
      accountId: account.id,
    };
    const made = (await ok(`create character ${name}`, 201, client.POST("/api/v1/characters", { body }))).data;
    assert.equal(made.name, name);
    assert.equal(made.level, level);
    assert.equal(made.account.id, account.id);
    assert.equal(made.classId, klass.id);
    assert.equal(made.className, klass.name);
    assert.equal(made.serverName, server.name);
    return made.id;
  };
  const hero = await createCharacter("Aldric", 60);
  await createCharacter("Brenna", 20);
  await createCharacter("Cyra", 45);
  const listed = await ok(
    "list characters levelMin=40 sort=-level",
    200,
    client.GET("/api/v1/characters", { params: { query: { levelMin: 40, sort: "-level", perPage: 10 } } }),
  );
  assert.deepEqual(
    listed.data.map((c) => c.name),
    ["Aldric", "Cyra"],
  );
  assert.equal(listed.pagination.total, 2);
  assert.equal(listed.pagination.page, 1);
  // (never called: only compiled)
  // @ts-expect-error a sort key the document does not list does not type-check
  void (() => client.GET("/api/v1/characters", { params: { query: { sort: "levle" } } }));

  // PATCH with If-Match: the GET's ETag, then the same (now stale) ETag → 412
  const path = { params: { path: { id: hero } } };
  const got = await client.GET("/api/v1/characters/{id}", path);
  await ok("get character", 200, Promise.resolve(got));
  const etag = got.response.headers.get("ETag");
  assert.ok(etag !== null && etag.length > 0);
  const patched = await client.PATCH("/api/v1/characters/{id}", {
    params: { path: { id: hero }, header: { "If-Match": etag } },
    body: { level: 61 },
  });
  assert.equal((await ok("patch character If-Match", 200, Promise.resolve(patched))).data.level, 61);
  const newEtag = patched.response.headers.get("ETag");
  assert.ok(newEtag !== null && newEtag !== etag);
  await fails(
    "patch character stale If-Match",
    412,
    "PRECONDITION_FAILED",
    client.PATCH("/api/v1/characters/{id}", {
      params: { path: { id: hero }, header: { "If-Match": etag } },
      body: { level: 62 },
    }),
  );
  assert.equal((await ok("get character after 412", 200, client.GET("/api/v1/characters/{id}", path))).data.level, 61);

  // a progression on a catalog item
  const progression = (
    await ok(
      "set progression",
      200,
      client.PUT("/api/v1/characters/{id}/progressions/{itemId}", {
        params: { path: { id: hero, itemId: item.id } },
        body: { status: "done" },
      }),
    )
  ).data;
  assert.equal(progression.itemId, item.id);
  assert.equal(progression.status, "done");
  assert.equal(typeof progression.completedAt, "string");
  // @ts-expect-error a status the document does not list does not type-check
  const wrongStatus: Schemas["SetProgressionRequest"] = { status: "finished" };
  assert.ok(wrongStatus);

  // a team, and where its members stand on the item
  const team = (
    await ok("create team", 201, client.POST("/api/v1/teams", { body: { name: "Raid", memberIds: [hero] } }))
  ).data;
  assert.equal(team.name, "Raid");
  assert.deepEqual(
    team.members.map((m) => m.id),
    [hero],
  );
  assert.equal(team.description, null);
  const view = (
    await ok(
      "team progression view",
      200,
      client.GET("/api/v1/teams/{id}/progressions/{itemId}", { params: { path: { id: team.id, itemId: item.id } } }),
    )
  ).data;
  assert.equal(view.length, 1);
  const [member] = view;
  assert.ok(member !== undefined);
  assert.equal(member.member.id, hero);
  assert.equal(member.status, "done");
  assert.equal(typeof member.completedAt, "string");

  // an API key: the one-time secret is in the typed answer; then the list
  const created = (await ok("create api key", 201, client.POST("/api/v1/api-keys", { body: { name: "ci" } }))).data;
  const secret: string = created.key;
  assert.ok(secret.startsWith("rk_"));
  assert.equal(created.name, "ci");
  assert.equal(created.expiresAt, null);
  const keys = (await ok("list api keys", 200, client.GET("/api/v1/api-keys"))).data;
  assert.deepEqual(
    keys.map((k) => k.id),
    [created.id],
  );
  assert.equal(keys[0]?.lastUsedAt, null);
  assert.equal(keys[0]?.expiresAt, null);
  // the secret works as a credential
  const withKey = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(
    (await ok("get character with the api key", 200, withKey.GET("/api/v1/characters/{id}", path))).data.id,
    hero,
  );

  // the audit trail
  const audit = await ok("audit", 200, client.GET("/api/v1/audit", { params: { query: { perPage: 100 } } }));
  assert.ok(audit.data.length > 0);
  assert.ok(audit.data.every((entry) => entry.actorId === meId));
  for (const resource of [account.id, hero, team.id]) {
    assert.ok(
      audit.data.some((entry) => entry.resourceId === resource),
      `no audit entry for ${resource}`,
    );
  }

  // admin: list users, make another user an administrator
  const other = (await register(base, "typescript-other@example.com", "TypeScript Other")).user;
  const users = (
    await ok(
      "admin list users",
      200,
      client.GET("/api/v1/admin/users", { params: { query: { search: "typescript-" } } }),
    )
  ).data;
  const admin = users.find((u) => u.email === adminEmail);
  const plain = users.find((u) => u.email === other.email);
  assert.equal(admin?.role, "admin");
  assert.equal(plain?.role, "user");
  assert.equal(plain?.disabled, false);
  const promoted = (
    await ok(
      "admin patch user",
      200,
      client.PATCH("/api/v1/admin/users/{id}", { params: { path: { id: other.id } }, body: { role: "admin" } }),
    )
  ).data;
  assert.equal(promoted.id, other.id);
  assert.equal(promoted.role, "admin");
  assert.equal(promoted.disabled, false);

  console.log("typescript: the whole flow passed");
}

const [base, adminEmail] = process.argv.slice(2);
if (base === undefined || adminEmail === undefined) {
  console.error("usage: node flow.js BASE_URL ADMIN_EMAIL");
  process.exit(2);
}
await main(base, adminEmail);
