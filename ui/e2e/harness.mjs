// Starts the real molar server on a fresh data directory and a headless
// Chromium, for browser tests run with `node --test`.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const bin = process.env.MOLAR_BIN ?? new URL("../../.bin/molar", import.meta.url).pathname;

/** Runs `molar <args>` to completion on dataDir. */
export async function molar(dataDir, ...args) {
  const child = spawn(bin, args, { env: { ...process.env, MOLAR_DATA_DIR: dataDir, MOLAR_PROFILE: "dev" } });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`molar ${args.join(" ")} exited ${code}: ${out}`);
  return out;
}

/**
 * Starts `molar serve` on a free loopback port and waits until it is ready,
 * with env added to its environment. Returns its base URL and a stop
 * function that also removes the data.
 */
export async function startServer({ seed = false, dataDir: shared, env = {} } = {}) {
  const dataDir = shared ?? (await mkdtemp(join(tmpdir(), "molar-e2e-")));
  if (seed) await molar(dataDir, "seed", "--demo");
  const child = spawn(bin, ["serve"], {
    env: { ...process.env, MOLAR_DATA_DIR: dataDir, MOLAR_ADDR: "127.0.0.1:0", MOLAR_ADMIN_ADDR: "127.0.0.1:0", MOLAR_PROFILE: "dev", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const logs = [];
  const addr = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start:\n" + logs.join("\n"))), 30_000);
    child.on("exit", (code) => reject(new Error(`server exited ${code}:\n` + logs.join("\n"))));
    createInterface({ input: child.stderr }).on("line", (line) => {
      logs.push(line);
      try {
        const rec = JSON.parse(line);
        if (rec.msg === "molar serving") {
          clearTimeout(timer);
          resolve(rec.addr);
        }
      } catch {
        // not a JSON line
      }
    });
  });
  const baseURL = `http://${addr}`;
  const ready = await fetch(`${baseURL}/readyz`);
  if (ready.status !== 200) throw new Error(`not ready: ${ready.status}`);
  return {
    baseURL,
    logs,
    dataDir,
    async stop() {
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      await exited;
      if (!shared) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launches Debian's Chromium headless. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Demo accounts that `molar seed --demo` creates. */
export const demo = {
  admin: { email: "admin@molar.test", password: "seoul-owner-2026" },
  dentist: { email: "dentist@molar.test", password: "seoul-dr-2026" },
  hygienist: { email: "hygienist@molar.test", password: "seoul-hyg-2026" },
  frontDesk: { email: "frontdesk@molar.test", password: "seoul-desk-2026" },
};

/** Signs in through the login page and waits for the app shell. */
export async function signIn(page, { email, password }, path = "/") {
  await page.goto(path);
  await page.getByLabel("이메일").fill(email);
  await page.getByLabel("비밀번호").fill(password);
  await page.getByRole("button", { name: "로그인" }).click();
  await page.getByTestId("user-menu").waitFor();
}

/**
 * A seeded server and a browser for the tests of one file, started before
 * them and stopped after: `const it = withDemo();` then `it.server`,
 * `it.browser` inside the tests.
 */
export function withDemo() {
  const it = {};
  before(async () => {
    it.server = await startServer({ seed: true });
    it.browser = await launchBrowser();
  });
  after(async () => {
    await it.browser?.close();
    await it.server?.stop();
  });
  return it;
}

/** Registers a patient through the form, as the page's user, and returns the card's path. */
export async function registerPatient(page, { name, sex = "여", birthDate }) {
  await page.goto("/patients/new");
  await page.getByLabel("이름").fill(name);
  await page.getByRole("radio", { name: sex, exact: true }).check({ force: true });
  await page.getByLabel("생년월일").fill(birthDate);
  await page.getByRole("button", { name: "저장" }).click();
  await page.getByTestId("patient-name").getByText(name).waitFor();
  return new URL(page.url()).pathname;
}
