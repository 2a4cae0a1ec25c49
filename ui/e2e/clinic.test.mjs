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

test("the owner edits the clinic profile, reloads and sees it kept", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.admin, "/settings/clinic");
  await page.getByText("마지막 저장").waitFor();

  await page.getByLabel("의원 이름").fill("하늘치과의원");
  await page.getByLabel("대표 전화").fill("0212345678");
  await page.getByLabel("주소").click(); // leaving the field formats the number
  assert.equal(await page.getByLabel("대표 전화").inputValue(), "02-1234-5678");
  await page.getByLabel("주소").fill("서울특별시 종로구 세종대로 1");
  // Closed on Sundays by default; open Sunday mornings instead.
  await page.locator('[data-weekday="SUNDAY"] input[type=checkbox]').check();
  await page.getByRole("button", { name: "저장" }).click();
  await page.getByText("저장했습니다").waitFor();

  await page.reload();
  await page.getByText("마지막 저장").waitFor();
  assert.equal(await page.getByLabel("의원 이름").inputValue(), "하늘치과의원");
  assert.equal(await page.getByLabel("대표 전화").inputValue(), "02-1234-5678");
  assert.equal(await page.getByLabel("주소").inputValue(), "서울특별시 종로구 세종대로 1");
  assert.ok(await page.locator('[data-weekday="SUNDAY"] input[type=checkbox]').isChecked());
  await page.locator("header").getByText("하늘치과의원").waitFor();
  await page.close();
});

test("a bad phone number is shown next to the field and nothing is saved", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.admin, "/settings/clinic");
  await page.getByLabel("의원 이름").waitFor();
  const before = await page.getByLabel("대표 전화").inputValue();

  await page.getByLabel("대표 전화").fill("12345");
  await page.getByRole("button", { name: "저장" }).click();
  const phoneField = page.locator(".v-input").filter({ has: page.getByLabel("대표 전화") });
  await phoneField.getByText("형식이 올바르지 않습니다").waitFor();
  await page.getByText("입력한 내용을 확인해 주세요").waitFor();

  await page.reload();
  await page.getByLabel("의원 이름").waitFor();
  assert.equal(await page.getByLabel("대표 전화").inputValue(), before);
  await page.close();
});

test("the server's own rule (business number check digit) reaches the field", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.admin, "/settings/clinic");
  await page.getByLabel("의원 이름").waitFor();
  await page.getByLabel("사업자등록번호").fill("123-45-67890");
  const response = page.waitForResponse((r) => r.url().endsWith("/molar.v1.ClinicService/UpdateClinic"));
  await page.getByRole("button", { name: "저장" }).click();
  assert.equal((await response).status(), 400);
  const field = page.locator(".v-input").filter({ has: page.getByLabel("사업자등록번호") });
  await field.getByText("사업자등록번호가 올바르지 않습니다").waitFor();
  await page.close();
});

test("the app speaks English when asked and remembers it", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.admin, "/settings/clinic");
  await page.getByLabel("의원 이름").waitFor();
  await page.getByRole("button", { name: "English" }).click();
  await page.getByLabel("Clinic name").waitFor();
  await page.reload();
  await page.getByLabel("Clinic name").waitFor();
  await page.getByRole("link", { name: "Schedule" }).click();
  await page.getByTestId("live-status").getByText("Live").waitFor();
  await page.close();
});
