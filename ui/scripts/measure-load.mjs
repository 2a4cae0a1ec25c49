// Measures what a person at the front desk waits for, against the real
// server with the demo clinic, in headless Chromium with nothing cached:
//
//   - the sign-in page: bytes transferred and responses;
//   - the schedule: time from navigation start to the first appointment
//     block on screen, the session restored from its cookie as after a
//     reload, with the browser cache cleared before each run.
//
// Goals: sign-in page ≤ 250 KiB; first appointment block < 600 ms (median).
// It reports; it does not fail on a slow machine. Usage (after `go tool task build`):
//
//   node scripts/measure-load.mjs [--runs 10] [--list]
//
// MOLAR_BIN names the binary (default ../.bin/molar), CHROMIUM_PATH the browser.
import { parseArgs } from "node:util";
import { demo, launchBrowser, signIn, startServer } from "../e2e/harness.mjs";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    list: { type: "boolean", default: false },
  },
});
const runs = Number(opts.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${opts.runs}`);

/** Counts every response of page with the cache disabled; call before navigating. */
async function countBytes(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.clearBrowserCache");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const seen = new Map();
  cdp.on("Network.responseReceived", (e) => seen.set(e.requestId, { url: e.response.url, bytes: 0 }));
  cdp.on("Network.loadingFinished", (e) => {
    const s = seen.get(e.requestId);
    if (s) s.bytes = e.encodedDataLength;
  });
  return () => {
    const all = [...seen.values()];
    return { all, total: all.reduce((n, s) => n + s.bytes, 0) };
  };
}

/** A working day of the demo book (it has no Sundays): today in Seoul, or Monday. */
function workingDay() {
  const d = new Date(Date.now() + 9 * 3600 * 1000);
  if (d.getUTCDay() === 0) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

const server = await startServer({ seed: true });
const browser = await launchBrowser();
try {
  // The sign-in page, as a first visit.
  const context = await browser.newContext({ baseURL: server.baseURL });
  const page = await context.newPage();
  const bytes = await countBytes(page);
  await page.goto("/login");
  await page.getByLabel("이메일").waitFor();
  await page.waitForLoadState("networkidle");
  const login = bytes();
  console.log(`sign-in page: ${kib(login.total)} transferred in ${login.all.length} responses (goal ≤ 250 KiB)`);
  if (opts.list) {
    for (const s of login.all.sort((a, b) => b.bytes - a.bytes)) console.log(`  ${kib(s.bytes).padStart(10)}  ${new URL(s.url).pathname}`);
  }
  await context.close();

  // The schedule, opened anew by a signed-in front desk with a cold cache.
  const url = `/schedule?date=${workingDay()}&view=day`;
  const times = [];
  let scheduleBytes = 0;
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ baseURL: server.baseURL, viewport: { width: 1440, height: 900 } });
    const p = await ctx.newPage();
    await signIn(p, demo.frontDesk, "/login");
    const count = await countBytes(p);
    await p.goto(url, { waitUntil: "commit" });
    // Checked every frame, so the time is that of the frame that showed it.
    const shown = await p.waitForFunction(
      () => {
        const block = document.querySelector(".appt");
        return block && block.getBoundingClientRect().height > 0 ? performance.now() : false;
      },
      null,
      { polling: "raf", timeout: 30_000 },
    );
    times.push(await shown.jsonValue());
    await p.waitForLoadState("networkidle", { timeout: 2000 }).catch(() => {}); // the live stream stays open
    scheduleBytes = count().total;
    await ctx.close();
  }
  const sorted = [...times].sort((a, b) => a - b);
  const ms = (n) => `${n.toFixed(0)} ms`;
  console.log(
    `schedule, first appointment block (${runs} runs, cold cache): median ${ms(percentile(sorted, 50))}, ` +
      `p95 ${ms(percentile(sorted, 95))}, min ${ms(sorted[0])}, max ${ms(sorted.at(-1))} (goal < 600 ms); ` +
      `${kib(scheduleBytes)} transferred`,
  );
} finally {
  await browser.close();
  await server.stop();
}
