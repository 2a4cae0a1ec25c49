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

test("a completed visit is billed, paid by card and cash to ₩0, and both payments are in the day's closing", async () => {
  // The dentist completes a filling on a new patient.
  const dr = await browser.newPage({ baseURL: server.baseURL });
  await signIn(dr, demo.admin, "/patients/new");
  await dr.getByLabel("이름").fill("수납확인");
  await dr.getByRole("radio", { name: "남", exact: true }).check({ force: true });
  await dr.getByLabel("생년월일").fill("1975-09-09");
  await dr.getByRole("button", { name: "저장" }).click();
  await dr.getByTestId("patient-name").getByText("수납확인").waitFor();
  const patientUrl = dr.url().replace(/\?.*$/, "");
  await dr.getByRole("tab", { name: "치아 차트" }).click();
  const tooth = dr.locator('[data-tooth="36"]');
  await tooth.locator('[data-surface="M"]').click();
  await tooth.locator('[data-surface="O"]').click();
  const panel = dr.getByTestId("tooth-panel");
  await panel.getByRole("radio", { name: "처치" }).check({ force: true });
  const proc = panel.getByRole("combobox", { name: "처치 항목" });
  await proc.click({ force: true });
  await proc.fill("레진");
  await dr.getByRole("option", { name: /RS-CR/ }).click();
  await panel.getByRole("radio", { name: "완료" }).check({ force: true });
  await panel.getByRole("button", { name: "추가" }).click();
  await dr.getByTestId("total-completed").getByText("₩100,000").waitFor();
  await dr.close();

  // The visit was booked (set up through the API); the front desk takes it
  // through check-in, chair and completion in the book, then bills it.
  const patientId = new URL(patientUrl).pathname.split("/").pop();
  const api = async (method, body, token) => {
    const res = await fetch(`${server.baseURL}/${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Connect-Protocol-Version": "1", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method}: ${JSON.stringify(json)}`);
    return json;
  };
  const { accessToken } = await api("molar.v1.AuthService/Login", demo.admin);
  // The owner has entered the clinic's business registration number.
  const { clinic } = await api("molar.v1.ClinicService/GetClinic", {}, accessToken);
  await api("molar.v1.ClinicService/UpdateClinic", { clinic: { ...clinic, businessRegistrationNumber: "220-81-62517" } }, accessToken);
  // A day outside the demo book (which fills two weeks either side of today),
  // so the time is surely free; the owner may book any day.
  const visitDay = new Date(Date.now() + 9 * 3600 * 1000 - 20 * 86400 * 1000).toISOString().slice(0, 10);
  const { appointment } = await api(
    "molar.v1.ScheduleService/BookAppointment",
    { patientId, providerId: "dr-kim", chairId: "chair-1", startTime: `${visitDay}T10:00:00+09:00`, minutes: 30 },
    accessToken,
  );

  const desk = await browser.newPage({ baseURL: server.baseURL });
  await signIn(desk, demo.frontDesk, `/schedule?date=${visitDay}&view=day&by=provider`);
  const block = desk.locator(`.appt[data-appointment-id="${appointment.id}"]`);
  await block.scrollIntoViewIfNeeded();
  const detail = desk.getByTestId("appointment-detail");
  // One dialog takes the visit through its steps, offering the next each time.
  await block.click();
  for (const [step, status] of [["내원", "ARRIVED"], ["진료 시작", "IN_CHAIR"], ["진료 완료", "COMPLETED"]]) {
    await detail.getByRole("button", { name: step, exact: true }).click();
    await desk.locator(`.appt[data-appointment-id="${appointment.id}"][data-status="${status}"]`).waitFor();
  }
  await detail.getByRole("link", { name: "청구서 만들기" }).click();
  await desk.getByRole("button", { name: "발행" }).click();
  await desk.getByTestId("invoice-balance").getByText("₩100,000").waitFor();
  await desk.getByRole("button", { name: "결제" }).first().click();
  const dialog = desk.getByRole("dialog");
  await dialog.getByTestId("payment-amount-0").locator("input").fill("60000");
  const slip = dialog.getByTestId("payment-card-0");
  await slip.getByLabel("카드사").fill("신한");
  await slip.getByLabel("승인번호").fill("30012345");
  await dialog.getByRole("button", { name: "나머지 현금으로" }).click();
  await dialog.getByRole("button", { name: "결제", exact: true }).click();
  await desk.getByTestId("invoice-balance").getByText("₩0").waitFor();
  // The statutory receipt: the clinic's number, the 급여/비급여 columns, how it was paid.
  const form = desk.getByTestId("statutory-receipt");
  await form.getByTestId("statutory-brn").getByText("220-81-62517").waitFor();
  await form.getByRole("columnheader", { name: "급여", exact: true }).waitFor();
  await form.getByRole("columnheader", { name: "비급여", exact: true }).waitFor();
  assert.match(await form.getByTestId("statutory-sums").textContent(), /납부한 금액 - 카드₩60,000/);
  assert.match(await form.getByTestId("statutory-printed").textContent(), /발행일: \d{4}년 \d{1,2}월 \d{1,2}일/);

  await desk.goto("/billing");
  await desk.getByRole("tab", { name: "일일 정산" }).click();
  const payments = desk.getByTestId("closing-payments");
  await payments.getByText("₩60,000").waitFor();
  await payments.getByText("₩40,000").waitFor();
  const cardRow = payments.locator("tr", { hasText: "₩60,000" });
  assert.match(await cardRow.textContent(), /수납확인/);
  assert.match(await cardRow.textContent(), /신한 · 일시불 · 승인 30012345/);
  assert.ok(await payments.getByText("카드").count() >= 1);
  assert.ok(await payments.getByText("현금").count() >= 1);
  await desk.close();
});
