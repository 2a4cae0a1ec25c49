import { test } from "node:test";
import assert from "node:assert/strict";
import { demo, registerPatient, signIn, withDemo } from "./harness.mjs";

const it = withDemo();

/** A weekday ten days from now in Seoul, as YYYY-MM-DD. */
function weekdayAhead() {
  const d = new Date(Date.now() + 9 * 3600 * 1000 + 10 * 86400 * 1000);
  while (d.getUTCDay() === 0 || d.getUTCDay() === 6) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

test("the owner sets up a provider, a chair, a type and a fee, and the book and the invoice use them", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(page, demo.admin, "/settings/book");

  // A provider with hours of her own.
  await page.getByRole("button", { name: "진료진 추가" }).click();
  const pd = page.getByTestId("provider-dialog");
  await pd.getByLabel("이름").fill("최교정");
  await pd.getByText("요일별로 정함").click();
  await pd.getByTestId("provider-hours").waitFor();
  await pd.getByRole("checkbox", { name: "토" }).check({ force: true });
  await pd.getByRole("button", { name: "저장" }).click();
  await pd.waitFor({ state: "hidden" });
  const row = page.getByTestId("providers-card").locator("tr", { hasText: "최교정" });
  await row.getByText("토 09:00–18:00").waitFor();

  await page.getByRole("button", { name: "체어 추가" }).click();
  const cd = page.getByTestId("chair-dialog");
  await cd.getByLabel("이름").fill("교정 체어");
  await cd.getByRole("button", { name: "저장" }).click();
  await page.getByTestId("chairs-card").getByText("교정 체어").waitFor();

  await page.getByRole("button", { name: "예약 종류 추가" }).click();
  const td = page.getByTestId("type-dialog");
  await td.getByLabel("이름 (한국어)").fill("교정 상담");
  await td.getByLabel("이름 (영어)").fill("Ortho consult");
  await td.getByLabel("기본 시간 (분)").fill("40");
  await td.getByRole("button", { name: "저장" }).click();
  await page.getByTestId("types-card").getByText("교정 상담").waitFor();

  // A fee of the catalog.
  await page.getByRole("tab", { name: "수가표" }).click();
  await page.getByRole("button", { name: "처치 추가" }).click();
  const fd = page.getByTestId("procedure-dialog");
  await fd.getByLabel("코드").fill("ORTHO-C");
  await fd.getByLabel("이름 (한국어)").fill("교정 진단료");
  await fd.getByLabel("이름 (영어)").fill("Orthodontic diagnosis");
  await fd.getByLabel("수가").fill("30,000");
  await fd.getByText("치아를 지정해야 함").click();
  assert.equal(await fd.getByRole("checkbox", { name: "치아를 지정해야 함" }).isChecked(), false);
  await fd.getByRole("button", { name: "저장" }).click();
  await page.getByTestId("catalog-table").locator("tr", { hasText: "ORTHO-C" }).getByText("₩30,000").waitFor();

  // The book has her column and the chair.
  const day = weekdayAhead();
  await page.goto(`/schedule?date=${day}&view=day&by=provider`);
  await page.locator(".res-name", { hasText: "최교정" }).waitFor();
  await page.goto(`/schedule?date=${day}&view=day&by=chair`);
  await page.locator(".res-name", { hasText: "교정 체어" }).waitFor();

  // A patient's diagnosis is charted at the new fee and billed at it.
  const patientId = (await registerPatient(page, { name: "설정확인", birthDate: "2012-04-04" })).split("/").pop();
  await page.getByRole("tab", { name: "치아 차트" }).click();
  await page.locator('[data-tooth="11"]').click();
  const panel = page.getByTestId("tooth-panel");
  await panel.getByRole("radio", { name: "처치" }).check({ force: true });
  const proc = panel.getByRole("combobox", { name: "처치 항목" });
  await proc.click({ force: true });
  await proc.fill("교정");
  await page.getByRole("option", { name: /ORTHO-C/ }).click();
  await panel.getByRole("radio", { name: "완료" }).check({ force: true });
  await panel.getByRole("button", { name: "추가" }).click();
  await page.getByTestId("total-completed").getByText("₩30,000").waitFor();

  await page.goto(`/billing/new?patient=${patientId}`);
  const line = page.getByRole("row", { name: /교정 진단료 ORTHO-C/ });
  await line.waitFor();
  assert.match(await line.textContent(), /₩30,000/);
  // On the statutory receipt it is a 비급여 treatment.
  const treatment = page.getByTestId("statutory-items").locator('[data-row="treatment"]');
  assert.match(await treatment.textContent(), /₩30,000/);
  await page.close();
});

test("a fee that is not a number is refused at the field, in English too", async () => {
  const page = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(page, demo.admin, "/settings/catalog");
  await page.getByRole("button", { name: "English" }).click();
  await page.getByRole("button", { name: "Add procedure" }).click();
  const fd = page.getByTestId("procedure-dialog");
  await fd.getByLabel("Code").fill("X-1");
  await fd.getByLabel("Name (Korean)").fill("시험");
  await fd.getByLabel("Name (English)").fill("Test");
  await fd.getByLabel("Fee").fill("thirty");
  await fd.getByRole("button", { name: "Save" }).click();
  await fd.getByText("Enter the fee in whole won").waitFor();
  await page.close();
});
