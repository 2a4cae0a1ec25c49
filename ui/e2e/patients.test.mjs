import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { demo, launchBrowser, registerPatient, signIn, startServer } from "./harness.mjs";

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

/** Writes a note on the open notes tab and waits until it is listed. */
async function writeNote(page, title, content) {
  await page.getByRole("button", { name: "기록 작성" }).click();
  await page.getByLabel("제목").fill(title);
  await page.getByLabel("내용").fill(content);
  await page.getByRole("button", { name: "저장" }).click();
  await page.getByText(content).waitFor();
}

test("a dentist finds a patient, charts a filling on 36 MO, completes it and writes a note", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.dentist, "/patients");

  // Keyboard first: type initials, arrow down, Enter.
  const search = page.getByRole("combobox", { name: "환자 검색" });
  await search.waitFor();
  await search.fill("ㄱㅁ");
  await page.getByRole("option").first().waitFor();
  const firstName = (await page.getByRole("option").first().textContent()) ?? "";
  await search.press("ArrowDown");
  await search.press("Enter");
  await page.waitForURL(/\/patients\/[0-9a-f-]+$/);
  await page.getByTestId("patient-name").waitFor();
  const name = (await page.getByTestId("patient-name").textContent())?.trim() ?? "";
  assert.ok(name.startsWith("김"), `opened ${name} from ${firstName}`);

  await page.getByRole("tab", { name: "치아 차트" }).click();
  const tooth = page.locator('[data-tooth="36"]');
  await tooth.locator('[data-surface="M"]').click();
  await tooth.locator('[data-surface="O"]').click();
  const panel = page.getByTestId("tooth-panel");
  await panel.waitFor();
  await panel.getByRole("radio", { name: "처치" }).check({ force: true });
  const proc = panel.getByRole("combobox", { name: "처치 항목" });
  await proc.click({ force: true });
  await proc.fill("레진");
  await page.getByRole("option", { name: /RS-CR/ }).click();
  await panel.getByRole("radio", { name: "계획" }).check({ force: true });
  await panel.getByRole("button", { name: "추가" }).click();

  const entries = page.getByTestId("chart-entries");
  const row = entries.getByText(/레진 충전/).first();
  await row.waitFor();
  await page.getByRole("button", { name: "완료" }).first().click();
  await page.getByTestId("total-completed").getByText(/₩/).waitFor();

  // The history says who did what, and when.
  await page.getByRole("tab", { name: "이력" }).click();
  const history = page.getByTestId("history-list");
  await history.getByText(/#36 레진 충전: 계획 → 완료/).waitFor();
  await history.getByText(/#36 레진 충전 기록 · 계획/).waitFor();
  assert.match(await history.locator('[data-change="2"]').textContent(), /\d{1,2}:\d{2}.* · \S+/);

  await page.getByRole("tab", { name: "진료 기록" }).click();
  await writeNote(page, "36 레진 충전", "36 MO 레진 충전 완료. 교합 조정함.");

  // Everything is still there after a reload, and the procedure catalog
  // comes from the browser's cache: the server answers 304.
  await page.reload();
  await page.getByRole("tab", { name: "진료 기록" }).click();
  await page.getByText("36 MO 레진 충전 완료. 교합 조정함.").waitFor();
  await page.getByRole("tab", { name: "치아 차트" }).click();
  await page.locator('[data-tooth="36"]').waitFor();
  const catalogCalls = () =>
    server.logs.filter((l) => l.includes("/molar.v1.CatalogService/ListProcedures")).map((l) => JSON.parse(l).code);
  for (let i = 0; i < 50 && !catalogCalls().includes("not_modified"); i++) await page.waitForTimeout(100);
  assert.deepEqual(catalogCalls(), ["ok", "not_modified"], "the second load of the catalog is a 304");
  await page.close();
});

test("the front desk registers a patient, is warned about a duplicate, and cannot see the chart", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.frontDesk, "/patients/new");
  await page.getByLabel("이름").fill("남궁민아");
  await page.getByRole("radio", { name: "여", exact: true }).check({ force: true });
  await page.getByLabel("생년월일").fill("1988-04-05");
  await page.getByLabel("휴대전화").fill("12345");
  await page.getByRole("button", { name: "저장" }).click();
  await page.getByText("형식이 올바르지 않습니다").first().waitFor();
  await page.getByLabel("휴대전화").fill("010-3141-5926");
  await page.getByRole("button", { name: "저장" }).click();
  await page.getByTestId("patient-name").getByText("남궁민아").waitFor();
  assert.equal(await page.getByRole("tab", { name: "치아 차트" }).count(), 0, "front desk sees no chart tab");

  await page.goto("/patients/new");
  await page.getByLabel("이름").fill("남궁민아");
  await page.getByLabel("생년월일").fill("1988-04-05");
  await page.getByLabel("휴대전화").fill("010-3141-5926");
  await page.getByText("같은 사람일 수 있는 환자가 있습니다").waitFor();
  await page.close();
});

test("a half-filled registration asks before it is left, and comes back after a reload", async () => {
  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.frontDesk, "/patients/new");
  await page.getByLabel("이름").fill("반쯤입력");
  await page.getByLabel("생년월일").fill("1979-07-07");

  // Leaving for the book asks first; staying keeps what was typed.
  const asked = [];
  page.once("dialog", (d) => {
    asked.push(d.message());
    void d.dismiss();
  });
  await page.getByRole("link", { name: "예약", exact: true }).click();
  assert.match(asked[0] ?? "", /저장되지 않았습니다/);
  assert.match(page.url(), /\/patients\/new/);
  assert.equal(await page.getByLabel("이름").inputValue(), "반쯤입력");

  // A reload (the browser asks too, and is told yes) brings the draft back.
  page.once("dialog", (d) => void d.accept());
  await page.reload();
  await page.getByTestId("draft-restored").waitFor();
  assert.equal(await page.getByLabel("이름").inputValue(), "반쯤입력");
  assert.equal(await page.getByLabel("생년월일").inputValue(), "1979-07-07");
  await page.close();
});

test("a note amended by a colleague shows each version's author, time and what changed", async () => {
  const desk = await browser.newPage({ baseURL: server.baseURL });
  await signIn(desk, demo.frontDesk);
  const patientPath = await registerPatient(desk, { name: "정정기록", birthDate: "1985-05-05" });
  await desk.close();

  // The hygienist (이지은) writes the note.
  const hyg = await browser.newPage({ baseURL: server.baseURL });
  await signIn(hyg, demo.hygienist, patientPath);
  await hyg.getByRole("tab", { name: "진료 기록" }).click();
  await writeNote(hyg, "초진", "36 교합면 우식 의심. 경과 관찰.");

  // The dentist (박서준) amends the text and tags it.
  const dr = await browser.newPage({ baseURL: server.baseURL });
  await signIn(dr, demo.dentist, patientPath);
  await dr.getByRole("tab", { name: "진료 기록" }).click();
  const card = dr.locator("[data-note-id]", { hasText: "초진" });
  await card.getByRole("button", { name: "정정" }).click();
  await dr.getByLabel("내용").fill("36 교합면 우식 확진. 레진 충전 계획.");
  const tags = dr.getByRole("combobox", { name: "태그" });
  await tags.fill("치료");
  await tags.press("Enter");
  await dr.getByRole("button", { name: "저장" }).click();
  await card.getByText("36 교합면 우식 확진. 레진 충전 계획.").waitFor();
  await dr.close();

  // The hygienist, after a reload, sees both authors and what the amendment changed.
  await hyg.reload();
  await hyg.getByRole("tab", { name: "진료 기록" }).click();
  const note = hyg.locator("[data-note-id]", { hasText: "초진" });
  await note.getByText("36 교합면 우식 확진. 레진 충전 계획.").waitFor();
  assert.match(await note.getByTestId("note-written").textContent(), /^작성 이지은 · /);
  assert.match(await note.getByTestId("note-amended").textContent(), /^최종 정정 박서준 · /);
  await note.getByRole("button", { name: "버전 기록 (2개)" }).click();
  const v2 = note.locator('[data-testid="version"][data-version="2"]');
  const v1 = note.locator('[data-testid="version"][data-version="1"]');
  await v2.getByTestId("version-change").waitFor();
  const time = String.raw`\d{4}\. \d{2}\. \d{2}\. \d{2}:\d{2}:\d{2}`;
  const l2 = await v2.getByTestId("version-label").textContent();
  const l1 = await v1.getByTestId("version-label").textContent();
  assert.match(l2, new RegExp(`^v2 · 박서준 · ${time}$`));
  assert.match(l1, new RegExp(`^v1 · 이지은 · ${time}$`));
  assert.notEqual(l2, l1);
  const added = (await v2.locator("ins").allTextContents()).join("|");
  const removed = (await v2.locator("del").allTextContents()).join("|");
  for (const word of ["확진", "레진", "충전 계획", "+치료"]) assert.ok(added.includes(word), `${word} is marked added in ${added}`);
  for (const word of ["의심", "경과", "관찰"]) assert.ok(removed.includes(word), `${word} is marked removed in ${removed}`);
  assert.doesNotMatch(added + removed, /36 교합면 우식/, "the words both versions share are not marked");
  await hyg.close();
});
