import { test } from "node:test";
import assert from "node:assert/strict";
import { demo, registerPatient, signIn, withDemo } from "./harness.mjs";

const it = withDemo();

test("the owner finds who viewed a patient's record, by the patient's name, and exports it", async () => {
  // The front desk registers a patient; the dentist opens the record.
  const desk = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(desk, demo.frontDesk);
  const patientPath = await registerPatient(desk, { name: "열람확인", birthDate: "1988-08-08" });
  await desk.close();

  const dr = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(dr, demo.dentist, patientPath);
  await dr.getByTestId("patient-name").getByText("열람확인").waitFor();
  await dr.close();

  const owner = await it.browser.newPage({ baseURL: it.server.baseURL });
  await signIn(owner, demo.admin, "/settings/audit");
  const who = owner.getByTestId("audit-patient").locator("input");
  await who.click();
  await who.fill("열람확");
  await owner.locator(".v-overlay .v-list-item", { hasText: "열람확인" }).click();
  const viewed = owner.locator("tbody tr", { hasText: "환자 정보 열람" }).filter({ hasText: "dentist@molar.test" });
  await viewed.first().waitFor();
  const link = viewed.first().getByRole("link", { name: /열람확인 #\d+/ });
  assert.equal(await link.getAttribute("href"), patientPath);
  // Every row is about that patient.
  for (const row of await owner.locator("tbody tr").all()) {
    assert.match(await row.textContent(), /열람확인/);
  }

  const download = owner.waitForEvent("download");
  await owner.getByRole("button", { name: "CSV 내보내기" }).click();
  const file = await download;
  const csv = await (await file.createReadStream()).toArray();
  const text = Buffer.concat(csv).toString("utf8");
  assert.match(text, /환자 정보 열람/);
  assert.match(text, /열람확인 #\d+/);

  // The same log, from the patient's card.
  await link.click();
  await owner.getByRole("tab", { name: "열람 기록" }).click();
  await owner.getByTestId("patient-audit").locator("tr", { hasText: "dentist@molar.test" }).first().waitFor();
  await owner.close();
});
