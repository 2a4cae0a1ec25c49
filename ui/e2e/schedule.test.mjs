import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { demo, launchBrowser, signIn, startServer } from "./harness.mjs";

let desk;
let dentistServer;
let browser;

// Two `molar serve` processes on one data directory: the second shares the
// first one's database. The front desk uses one, the dentist the other.
before(async () => {
  desk = await startServer({ seed: true });
  dentistServer = await startServer({ dataDir: desk.dataDir });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await dentistServer?.stop();
  await desk?.stop();
});

function nextMonday() {
  const now = new Date(Date.now() + 9 * 3600 * 1000); // Asia/Seoul
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 21));
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

test("the front desk books and moves an appointment; the dentist's screen shows both at once", async () => {
  const day = nextMonday();
  const deskPage = await (await browser.newContext({ baseURL: desk.baseURL })).newPage();
  const drPage = await (await browser.newContext({ baseURL: dentistServer.baseURL })).newPage();
  await signIn(drPage, demo.dentist, `/schedule?date=${day}&view=day&by=provider`);
  await signIn(deskPage, demo.frontDesk, `/schedule?date=${day}&view=day&by=provider`);
  await drPage.getByTestId("live-status").getByText("실시간").waitFor();
  await deskPage.getByTestId("live-status").getByText("실시간").waitFor();

  // Book: click an empty slot in 박서준's column at 10:00.
  const slot = deskPage.locator('.cell[data-column="dr-park"][data-time="10:00"]');
  await slot.scrollIntoViewIfNeeded();
  await slot.click();
  const dialog = deskPage.getByTestId("booking-dialog");
  const patient = dialog.getByRole("combobox", { name: "환자" });
  await patient.fill("ㄱㅁ");
  await deskPage.getByRole("option").first().waitFor();
  await patient.press("ArrowDown");
  await patient.press("Enter");
  await dialog.getByRole("button", { name: "예약", exact: true }).click();
  const booked = deskPage.locator('.appt[data-provider="dr-park"][data-start="10:00"]');
  await booked.waitFor();
  const id = await booked.getAttribute("data-appointment-id");
  assert.ok(id);

  // The dentist's screen, served by the other process, shows it within a second.
  const seen = drPage.locator(`.appt[data-appointment-id="${id}"]`);
  let t0 = Date.now();
  await seen.waitFor({ timeout: 1000 });
  const bookSeenMs = Date.now() - t0;

  // Drag it to 11:30 (once the booking notice has gone).
  await deskPage.getByText("예약했습니다").waitFor({ state: "hidden", timeout: 10000 }).catch(() => {});
  const target = deskPage.locator('.cell[data-column="dr-park"][data-time="11:30"]');
  await target.scrollIntoViewIfNeeded();
  const b = await booked.boundingBox();
  const c = await target.boundingBox();
  await deskPage.mouse.move(b.x + 10, b.y + 2);
  await deskPage.mouse.down();
  await deskPage.mouse.move(c.x + c.width / 2, c.y + c.height / 2, { steps: 5 });
  await deskPage.mouse.up();
  await deskPage.locator(`.appt[data-appointment-id="${id}"][data-start="11:30"]`).waitFor();
  t0 = Date.now();
  await drPage.locator(`.appt[data-appointment-id="${id}"][data-start="11:30"]`).waitFor({ timeout: 1000 });
  const moveSeenMs = Date.now() - t0;
  console.log(`booking seen by the other screen in ${bookSeenMs} ms, move in ${moveSeenMs} ms`);
});

test("a booking in the past is refused for the front desk and needs the override and a word from the owner", async () => {
  // A Monday three weeks ago.
  const now = new Date(Date.now() + 9 * 3600 * 1000);
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 21));
  while (d.getUTCDay() !== 1) d.setUTCDate(d.getUTCDate() - 1);
  const day = d.toISOString().slice(0, 10);

  const deskPage = await (await browser.newContext({ baseURL: desk.baseURL })).newPage();
  await signIn(deskPage, demo.frontDesk, `/schedule?date=${day}&view=day&by=provider`);
  const slot = deskPage.locator('.cell[data-column="dr-park"][data-time="17:00"]');
  await slot.scrollIntoViewIfNeeded();
  await slot.click();
  const dialog = deskPage.getByTestId("booking-dialog");
  await dialog.getByTestId("booking-past").getByText("지난 시간에는 예약할 수 없습니다").waitFor();
  assert.equal(await dialog.getByRole("button", { name: "예약", exact: true }).isDisabled(), true);

  const owner = await (await browser.newContext({ baseURL: desk.baseURL })).newPage();
  await signIn(owner, demo.admin, `/schedule?date=${day}&view=day&by=provider`);
  const cell = owner.locator('.cell[data-column="dr-park"][data-time="17:00"]');
  await cell.scrollIntoViewIfNeeded();
  await cell.click();
  const od = owner.getByTestId("booking-dialog");
  await od.getByTestId("booking-past").waitFor();
  const patient = od.getByRole("combobox", { name: "환자" });
  await patient.fill("ㄱㅁ");
  await owner.getByRole("option").first().waitFor();
  await patient.press("ArrowDown");
  await patient.press("Enter");
  const book = od.getByRole("button", { name: "예약", exact: true });
  assert.equal(await book.isDisabled(), true);
  await od.getByText("지난 방문으로 기록합니다").click();
  await book.click();
  await owner.locator('.appt[data-provider="dr-park"][data-start="17:00"]').waitFor();
});

test("offline, the screen says the connection is lost and the book is not live; back online it picks up again and sends the booking tried meanwhile", async () => {
  const context = await browser.newContext({ baseURL: desk.baseURL });
  const page = await context.newPage();
  await signIn(page, demo.frontDesk, `/schedule?date=${nextMonday()}&view=day&by=provider`);
  const status = page.getByTestId("live-status");
  await status.getByText("실시간").waitFor();
  const slot = page.locator('.cell[data-column="dr-lee"][data-time="15:00"]');
  await slot.scrollIntoViewIfNeeded();
  await slot.click();
  const dialog = page.getByTestId("booking-dialog");
  const patient = dialog.getByRole("combobox", { name: "환자" });
  await patient.fill("ㄱㅁ");
  await page.getByRole("option").first().waitFor();
  await patient.press("Enter");

  await context.setOffline(true);
  await page.getByTestId("offline").getByText("인터넷 연결이 끊겼습니다").waitFor();
  await page.locator('[data-testid="live-status"][data-state="offline"]').waitFor();
  // The booking tried meanwhile says the server cannot be reached, in words, and that it will be sent again.
  await dialog.getByRole("button", { name: "예약", exact: true }).click();
  await dialog.getByText(/서버에 연결할 수 없습니다/).waitFor();
  await dialog.getByTestId("retry-waiting").waitFor();

  await context.setOffline(false);
  await page.getByTestId("offline").waitFor({ state: "detached" });
  await page.locator('[data-testid="live-status"][data-state="live"]').waitFor();
  await page.locator('.appt[data-provider="dr-lee"][data-start="15:00"]').waitFor();
  await dialog.waitFor({ state: "hidden" });
  await context.close();
});

test("keyboard only: the front desk moves a visit with Space and the arrows; closing its day lists it with the phone and flags it; cancelled, it waits on the call list", async () => {
  const next = new Date(`${nextMonday()}T00:00:00Z`);
  next.setUTCDate(next.getUTCDate() + 7);
  const day = next.toISOString().slice(0, 10);
  const deskPage = await (await browser.newContext({ baseURL: desk.baseURL })).newPage();
  await signIn(deskPage, demo.frontDesk, `/schedule?date=${day}&view=day&by=provider`);

  const slot = deskPage.locator('.cell[data-column="dr-park"][data-time="10:00"]');
  await slot.scrollIntoViewIfNeeded();
  await slot.click();
  const dialog = deskPage.getByTestId("booking-dialog");
  const patient = dialog.getByRole("combobox", { name: "환자" });
  await patient.fill("ㄱㅁ");
  await deskPage.getByRole("option").first().waitFor();
  await patient.press("Enter");
  // The choice hands the focus on to the next field.
  await deskPage.waitForFunction(() => document.activeElement?.closest(".v-select") !== null);
  await dialog.getByRole("button", { name: "예약", exact: true }).click();
  const booked = deskPage.locator('.appt[data-provider="dr-park"][data-start="10:00"]');
  await booked.waitFor();
  const id = await booked.getAttribute("data-appointment-id");
  const name = (await booked.locator(".appt-name").textContent()).trim();

  // Move it half an hour later and into 김하늘's column, then make it 10 minutes longer, without the mouse.
  await booked.focus();
  await deskPage.keyboard.press("Space");
  for (let i = 0; i < 6; i++) await deskPage.keyboard.press("ArrowDown");
  await deskPage.keyboard.press("ArrowLeft");
  await deskPage.keyboard.press("Shift+ArrowDown");
  await deskPage.keyboard.press("Shift+ArrowDown");
  const ghost = deskPage.getByTestId("drag-ghost");
  assert.equal(await ghost.getAttribute("data-start"), "10:30");
  assert.equal(await ghost.getAttribute("data-minutes"), "40");
  await deskPage.keyboard.press("Enter");
  const moved = deskPage.locator(`.appt[data-appointment-id="${id}"][data-start="10:30"][data-minutes="40"]`);
  await moved.waitFor();
  assert.notEqual(await moved.getAttribute("data-provider"), "dr-park");
  await deskPage.waitForFunction((x) => document.activeElement?.getAttribute("data-appointment-id") === x, id);

  // The owner closes that day: the visit is listed with the patient's phone before saving.
  const owner = await (await browser.newContext({ baseURL: desk.baseURL })).newPage();
  await signIn(owner, demo.admin, "/settings/clinic");
  await owner.getByRole("button", { name: "휴진일 추가" }).click();
  await owner.locator('input[type="date"]').last().fill(day);
  await owner.getByLabel("사유").last().fill("원장님 학회");
  await owner.getByRole("button", { name: "저장", exact: true }).click();
  const closing = owner.getByTestId("closing-dialog");
  await closing.getByText("예약 1건이 남아 있습니다", { exact: false }).waitFor();
  await closing.getByText(name).waitFor();
  const tel = closing.locator('[data-testid="call-phone"] a');
  await tel.waitFor();
  assert.match(await tel.getAttribute("href"), /^tel:01\d-\d{3,4}-\d{4}$/);
  await closing.getByRole("button", { name: "휴진일로 저장" }).click();
  await closing.waitFor({ state: "hidden" });

  // The book flags it until it is moved or cancelled.
  await deskPage.reload();
  const flagged = deskPage.locator(`.appt[data-appointment-id="${id}"][data-stranded="true"]`);
  await flagged.waitFor();
  await deskPage.getByTestId("stranded").getByText(name).waitFor();

  // Cancelled from the keyboard, it leaves the flag and waits on the call list.
  await flagged.focus();
  await deskPage.keyboard.press("Enter");
  await deskPage.getByTestId("appointment-detail").getByRole("button", { name: "취소", exact: true }).click();
  const cancel = deskPage.getByTestId("cancel-dialog");
  await cancel.getByLabel("취소 사유").fill("휴진으로 다음 주로 연락");
  await cancel.getByRole("button", { name: "예약 취소" }).click();
  await deskPage.getByTestId("stranded").waitFor({ state: "detached" });
  await deskPage.getByTestId("follow-ups-toggle").click();
  const calls = deskPage.getByTestId("follow-ups");
  await calls.locator(`[data-appointment-id="${id}"]`).getByText("사유: 휴진으로 다음 주로 연락").waitFor();
  await calls.locator(`[data-appointment-id="${id}"] [data-testid="call-phone"] a`).waitFor();
});
