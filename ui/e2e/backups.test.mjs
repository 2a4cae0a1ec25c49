import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demo, launchBrowser, molar, signIn, startServer } from "./harness.mjs";

let server;
let browser;
let work;
let backupDir;
let recipient;

/** Waits, up to a minute, until cond() resolves true. */
async function eventually(cond, what) {
  const end = Date.now() + 60_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`not in a minute: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "molar-e2e-backup-"));
  backupDir = join(work, "backups");
  const out = await molar(join(work, "keygen"), "keygen", "--backup", join(work, "backup-key.txt"));
  recipient = out.match(/MOLAR_BACKUP_RECIPIENT=(age1\S+)/)?.[1];
  assert.ok(recipient, `keygen printed ${out}`);
  // The server takes the backup of the day's window as it starts.
  server = await startServer({
    seed: true,
    env: { MOLAR_BACKUP_DIR: backupDir, MOLAR_BACKUP_RECIPIENT: recipient, MOLAR_BACKUP_EVERY: "24h", MOLAR_BACKUP_KEEP: "7" },
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("the owner sees the last backup and the next one, then a failed backup with its reason", async () => {
  let archive;
  await eventually(async () => {
    archive = (await readdir(backupDir).catch(() => [])).find((f) => f.endsWith(".tar.zst.age"));
    return archive !== undefined;
  }, "the scheduled backup written");

  const page = await browser.newPage({ baseURL: server.baseURL });
  await signIn(page, demo.admin, "/settings/backups");
  const card = page.getByTestId("backups");
  await card.getByTestId("backup-last").getByText(archive).waitFor();
  await card.getByTestId("backup-state").getByText("정상").waitFor();
  assert.match(await card.getByTestId("backup-last").innerText(), /영상 \d+건/);
  assert.match(await card.getByTestId("backup-next").innerText(), /\d{2}:\d{2}:\d{2}/);
  await card.getByText("1일마다").waitFor();
  await card.getByText(backupDir).waitFor();
  await card.getByTestId("backup-no-failures").waitFor();

  // `molar backup` beside the server, into a folder that is a file: it
  // fails, is recorded, and the owner reads why.
  const blocked = join(work, "not-a-folder");
  await writeFile(blocked, "");
  await assert.rejects(molar(server.dataDir, "backup", "--out", join(blocked, "clinic.tar.zst.age"), "--recipient", recipient), /backup directory/);
  await card.getByRole("button", { name: "새로 고침" }).click();
  const failures = card.getByTestId("backup-failures");
  await failures.getByText("백업 폴더에 쓸 수 없습니다").waitFor();
  await failures.getByText(/not-a-folder/).waitFor();
  await card.getByTestId("backup-state").getByText("최근 백업 실패").waitFor();
  // The last success is still the scheduled one.
  await card.getByTestId("backup-last").getByText(archive).waitFor();

  // In English.
  await page.getByRole("button", { name: "English" }).click();
  await failures.getByText("The backup folder cannot be written").waitFor();
  await card.getByTestId("backup-state").getByText("Last backup failed").waitFor();
  await page.close();
});
