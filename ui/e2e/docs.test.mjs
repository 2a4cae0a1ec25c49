import { test } from "node:test";
import assert from "node:assert/strict";
import { demo, signIn, withDemo } from "./harness.mjs";

const it = withDemo();

/**
 * What a page did that it should not: console errors and warnings (a
 * refused content security policy among them), uncaught errors, and
 * requests to any origin but the server's.
 */
function watch(page) {
  const noise = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") noise.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => noise.push(`uncaught: ${e.message}`));
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol.startsWith("http") && url.origin !== it.server.baseURL) noise.push(`request to ${url.origin}`);
  });
  return noise;
}

test("the API reference calls the server as the signed-in user and shows the answer", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  const noise = watch(page);
  const calls = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/molar.v1.AuthService/GetMe") calls.push(r);
  });
  // Reached from the user menu, as staff find it.
  await signIn(page, demo.frontDesk, "/");
  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "API 참조" }).click();
  await page.getByRole("heading", { name: "API 참조" }).waitFor();
  await page.getByRole("heading", { name: "Molar API" }).waitFor();

  // GetMe, from the reference's list of AuthService's methods.
  await page.getByText("AuthService", { exact: true }).first().click();
  await page.getByText("GetMe", { exact: true }).first().click();
  const getMe = page.locator("section").filter({ has: page.getByRole("heading", { name: "GetMe", exact: true }) });
  await getMe.getByText("any signed-in member of staff").waitFor();
  const sent = calls.length;
  await getMe.getByRole("button", { name: "Test Request" }).click();
  await page.getByRole("button", { name: /^Send/ }).first().click();

  // The answer names the signed-in user, so the call went with their token.
  await page.getByText("200 OK").waitFor();
  await page.getByText('"frontdesk@molar.test"').waitFor();
  await page.getByText('"ROLE_FRONT_DESK"').waitFor();
  const call = calls[sent];
  assert.ok(call, "no GetMe call was sent");
  assert.equal(call.method(), "POST");
  assert.match(call.headers()["authorization"] ?? "", /^Bearer \S+$/);
  const token = call.headers()["authorization"].slice("Bearer ".length);

  // The token stayed in memory: nothing the page keeps holds it.
  const kept = await page.evaluate(async () => {
    const values = [...Object.values(localStorage), ...Object.values(sessionStorage), document.cookie];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((resolve, reject) => {
          const get = db.transaction(store).objectStore(store).getAll();
          get.onsuccess = () => resolve(get.result);
          get.onerror = () => reject(get.error);
        });
        values.push(JSON.stringify(all));
      }
      db.close();
    }
    return values.join("\n");
  });
  assert.ok(!kept.includes(token), "the access token was written to the browser's storage");
  assert.deepEqual(noise, []);
  await page.close();
});

test("the GET form of a read is tried from the reference too, its message in the query", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  const noise = watch(page);
  await signIn(page, demo.frontDesk, "/docs");
  await page.getByRole("heading", { name: "Molar API" }).waitFor();
  await page.getByText("CatalogService", { exact: true }).first().click();
  await page.getByText("ListProcedures (GET)", { exact: true }).first().click();
  const op = page.locator("section").filter({ has: page.getByRole("heading", { name: "ListProcedures (GET)", exact: true }) });
  await op.getByRole("button", { name: "Test Request" }).click();
  const answer = page.waitForResponse((r) => new URL(r.url()).pathname === "/molar.v1.CatalogService/ListProcedures");
  await page.getByRole("button", { name: /^Send/ }).first().click();
  const res = await answer;
  assert.equal(res.request().method(), "GET");
  assert.equal(new URL(res.url()).searchParams.get("message"), "{}");
  assert.equal(res.status(), 200);
  await page.getByText('"DX-EXAM"').waitFor();
  assert.deepEqual(noise, []);
  await page.close();
});

test("the reference's page chrome speaks English too, and /openapi.json is offered", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(page, demo.dentist, "/docs");
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("heading", { name: "API reference" }).waitFor();
  const link = page.getByRole("link", { name: "OpenAPI document (JSON)" });
  assert.equal(await link.getAttribute("href"), `${it.server.baseURL}/openapi.json`);
  await page.close();
});

test("the app's own answers over 1 KiB come compressed, in zstd where the browser offers it", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  const search = page.waitForResponse((r) => new URL(r.url()).pathname === "/molar.v1.PatientService/SearchPatients");
  await signIn(page, demo.frontDesk, "/patients");
  const res = await search;
  const offered = (await res.request().allHeaders())["accept-encoding"] ?? "";
  const encoding = res.headers()["content-encoding"];
  console.log(`SearchPatients: Accept-Encoding ${offered}; Content-Encoding ${encoding}`);
  assert.equal(encoding, offered.includes("zstd") ? "zstd" : "gzip");
  await page.close();
});
