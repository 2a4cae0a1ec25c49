import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { demo, launchBrowser, signIn, startServer } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ seed: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("sign in, stay signed in across a reload, sign out", async () => {
  const context = await browser.newContext({ baseURL: server.baseURL });
  const page = await context.newPage();
  await page.goto("/settings/clinic");
  // Not signed in: the login page, remembering where to go.
  await page.getByLabel("이메일").waitFor();
  assert.match(decodeURIComponent(page.url()), /\/login\?redirect=\/settings\/clinic/);

  await page.getByLabel("이메일").fill(demo.admin.email);
  await page.getByLabel("비밀번호").fill("wrong-password!");
  await page.getByRole("button", { name: "로그인" }).click();
  await page.getByText("이메일 또는 비밀번호가 올바르지 않습니다").waitFor();

  await page.getByLabel("비밀번호").fill(demo.admin.password);
  await page.getByLabel("비밀번호").press("Enter");
  await page.getByLabel("의원 이름").waitFor();
  assert.match(page.url(), /\/settings\/clinic$/);

  // The access token lives in memory only; the session survives a reload
  // through the HttpOnly refresh cookie.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  assert.doesNotMatch(stored, /eyJ/);
  const cookies = await context.cookies();
  const refresh = cookies.find((c) => c.name === "molar_refresh");
  assert.ok(refresh?.httpOnly, "refresh cookie is HttpOnly");
  assert.equal(refresh.sameSite, "Strict");
  await page.reload();
  await page.getByLabel("의원 이름").waitFor();
  await page.getByTestId("user-menu").waitFor();

  await page.getByTestId("user-menu").click();
  await page.getByRole("menuitem", { name: "로그아웃" }).click();
  await page.getByText("로그아웃했습니다.").waitFor();
  await page.goto("/settings/clinic");
  await page.getByLabel("이메일").waitFor();
  await context.close();
});

test("the front desk cannot open staff management, even by typing its address", async () => {
  const context = await browser.newContext({ baseURL: server.baseURL });
  const page = await context.newPage();
  await signIn(page, demo.frontDesk);
  assert.equal(await page.getByRole("link", { name: "설정" }).count(), 0, "no settings in the menu");
  await page.goto("/settings/staff");
  await page.getByText("이 화면을 볼 권한이 없습니다").waitFor();
  assert.equal(await page.getByRole("button", { name: "직원 추가" }).count(), 0);
  await context.close();
});

test("the owner adds a member of staff, who must choose a password first", async () => {
  const owner = await browser.newContext({ baseURL: server.baseURL });
  const page = await owner.newPage();
  await signIn(page, demo.admin, "/settings/staff");
  await page.getByRole("button", { name: "직원 추가" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByLabel("이름").fill("정수민");
  await dialog.getByLabel("이메일").fill("sumin@molar.test");
  await dialog.getByLabel("데스크").check();
  await dialog.getByLabel("임시 비밀번호").fill("temporary-pass-7");
  await dialog.getByRole("button", { name: "계정 만들기" }).click();
  await page.getByRole("row", { name: /sumin@molar\.test/ }).waitFor();
  await owner.close();

  const newcomer = await browser.newContext({ baseURL: server.baseURL });
  const p2 = await newcomer.newPage();
  await p2.goto("/");
  await p2.getByLabel("이메일").fill("sumin@molar.test");
  await p2.getByLabel("비밀번호").fill("temporary-pass-7");
  await p2.getByRole("button", { name: "로그인" }).click();
  await p2.getByText("새 비밀번호를 정해 주세요").waitFor();
  await p2.getByLabel("현재 비밀번호").fill("temporary-pass-7");
  await p2.getByLabel("새 비밀번호").fill("my-own-secret-42");
  await p2.getByLabel("비밀번호 확인").fill("my-own-secret-42");
  await p2.getByRole("button", { name: "비밀번호 변경" }).click();
  await p2.getByTestId("user-menu").waitFor();
  await newcomer.close();
});

test("a signed-out start is quiet: no failed request, nothing in the console", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  const noise = [];
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") noise.push(`${m.type()}: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) noise.push(`${r.status()} ${r.url()}`);
  });
  await page.goto("/schedule");
  await page.getByLabel("이메일").waitFor();
  await page.reload();
  await page.getByLabel("이메일").waitFor();
  assert.deepEqual(noise, []);

  // Signed in, a reload picks the session up through the refresh cookie.
  await signIn(page, demo.frontDesk, "/patients");
  await page.reload();
  await page.getByTestId("user-menu").waitFor();
  assert.deepEqual(noise, []);
  await page.close();
});

test("the sign-in page is light: compressed text, SVG icons, only the Korean glyphs it shows", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const seen = new Map();
  cdp.on("Network.responseReceived", (e) =>
    seen.set(e.requestId, { url: e.response.url, encoding: e.response.headers["content-encoding"] ?? e.response.headers["Content-Encoding"] ?? "", bytes: 0 }),
  );
  cdp.on("Network.loadingFinished", (e) => {
    const s = seen.get(e.requestId);
    if (s) s.bytes = e.encodedDataLength;
  });
  await page.goto("/login");
  await page.getByLabel("이메일").waitFor();
  await page.waitForLoadState("networkidle");
  const all = [...seen.values()];
  const total = all.reduce((n, s) => n + s.bytes, 0);
  console.log(`sign-in page: ${(total / 1024).toFixed(1)} KiB transferred in ${all.length} responses`);
  // Scripts and styles are sent Brotli-compressed (one of about 1 KiB or less is not worth it).
  for (const s of all.filter((s) => /\.(js|css)$/.test(new URL(s.url).pathname) && s.bytes > 2048)) {
    assert.equal(s.encoding, "br", `${s.url} is sent ${s.encoding || "uncompressed"}`);
  }
  assert.ok(!all.some((s) => /materialdesignicons/.test(s.url)), "the icon font is not loaded");
  const fonts = all.filter((s) => /Pretendard-.*\.subset\.\d+.*\.woff2$/.test(s.url));
  assert.ok(fonts.length > 0 && fonts.length < 20, `${fonts.length} subsets of the Korean font`);
  assert.ok(await page.evaluate(() => document.fonts.check("16px Pretendard", "로그인")), "Hangul is drawn in the shipped font");
  // 2.01 MB before, 431 KiB with compression and SVG icons; the goal is 250 KiB.
  assert.ok(total <= 250 * 1024, `${(total / 1024).toFixed(1)} KiB`);
  await page.close();
});
