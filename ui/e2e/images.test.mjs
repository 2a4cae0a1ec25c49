import { test } from "node:test";
import assert from "node:assert/strict";
import { demo, registerPatient, signIn, withDemo } from "./harness.mjs";

const it = withDemo();

/** A JPEG drawn by the page itself: w×h, gray or in colour, with a label. */
async function jpeg(page, name, w, h, colour) {
  const b64 = await page.evaluate(
    ([w, h, colour, name]) => {
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      const g = c.getContext("2d");
      const grad = g.createLinearGradient(0, 0, w, h);
      grad.addColorStop(0, colour ? "#c0392b" : "#111");
      grad.addColorStop(1, colour ? "#f5cba7" : "#eee");
      g.fillStyle = grad;
      g.fillRect(0, 0, w, h);
      g.fillStyle = "#fff";
      g.font = `${Math.round(h / 8)}px sans-serif`;
      g.fillText(name, w / 10, h / 2);
      return c.toDataURL("image/jpeg", 0.9).split(",")[1];
    },
    [w, h, colour, name],
  );
  return { name, mimeType: "image/jpeg", buffer: Buffer.from(b64, "base64") };
}

/** A JPEG of random colours (which does not compress), w×h. */
async function noisyJpeg(page, name, w, h) {
  const b64 = await page.evaluate(
    ([w, h]) => {
      const c = document.createElement("canvas");
      c.width = w;
      c.height = h;
      const g = c.getContext("2d");
      const data = g.createImageData(w, h);
      const px = new Uint32Array(data.data.buffer);
      let x = 2463534242;
      for (let i = 0; i < px.length; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        px[i] = (x >>> 0) | 0xff000000;
      }
      g.putImageData(data, 0, 0);
      return c.toDataURL("image/jpeg", 0.95).split(",")[1];
    },
    [w, h],
  );
  return { name, mimeType: "image/jpeg", buffer: Buffer.from(b64, "base64") };
}

/** Chooses files in the open upload panel, sets the batch's kind and sends them. */
async function upload(page, files, kind) {
  const panel = page.getByTestId("upload-panel");
  await panel.getByTestId("file-input").setInputFiles(files);
  const form = panel.getByTestId("batch-form");
  await form.waitFor();
  await form.getByLabel("종류").click({ force: true });
  await page.getByRole("option", { name: kind, exact: true }).click();
  await form.getByTestId("start-upload").click();
}

test("a dentist uploads a panoramic and two intraoral photos, sees progress and the thumbnails appear, views, adjusts and compares; an upload cut by the network resumes", async () => {
  const owner = await (await it.browser.newContext({ baseURL: it.server.baseURL })).newPage();
  await signIn(owner, demo.admin, "/patients/new");
  const card = await registerPatient(owner, { name: "영상환자", birthDate: "1984-02-03" });

  const context = await it.browser.newContext({ baseURL: it.server.baseURL });
  const page = await context.newPage();
  await signIn(page, demo.dentist, `${card}?tab=images`);
  const images = page.getByTestId("patient-images");
  await images.getByTestId("images-empty").waitFor();
  await page.locator('[data-testid="images-live"][data-state="live"]').waitFor();

  await images.getByTestId("open-upload").click();
  const pano = await jpeg(page, "pano.jpg", 3000, 1500, false);
  await upload(page, [pano], "파노라마");
  const list = page.getByTestId("upload-list");
  await list.locator('[data-file="pano.jpg"][data-state="done"]').waitFor({ timeout: 60_000 });

  const photos = [await jpeg(page, "photo-1.jpg", 1600, 1200, true), await jpeg(page, "photo-2.jpg", 1600, 1200, true)];
  await upload(page, photos, "구내 사진");
  for (const f of photos) await list.locator(`[data-file="${f.name}"][data-state="done"]`).waitFor({ timeout: 60_000 });
  // Each file had its own progress bar, now full.
  assert.equal(await list.getByTestId("file-progress").count(), 3);

  // The thumbnails appear without a reload, made by the background job.
  await images.locator('.thumb[data-status="DONE"] [data-testid="thumb-img"]').nth(2).waitFor({ timeout: 60_000 });

  assert.equal(await images.locator(".thumb").count(), 3);
  for (const img of await images.getByTestId("thumb-img").all()) {
    await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
  }

  // Open the panoramic and adjust it.
  await images.getByRole("button", { name: /파노라마 영상 열기/ }).click();
  const viewer = page.getByTestId("image-viewer");
  const picture = viewer.getByTestId("viewer-image");
  await picture.waitFor();
  await page.waitForFunction((el) => el.complete && el.naturalWidth >= 1600, await picture.elementHandle());
  const before = await picture.evaluate((el) => getComputedStyle(el).filter);
  await viewer.getByTestId("image-pane").focus();
  await page.keyboard.press("i");
  await page.keyboard.press("+");
  const contrast = viewer.getByTestId("contrast").getByRole("slider");
  await contrast.focus();
  for (let i = 0; i < 6; i++) await page.keyboard.press("ArrowRight");
  await page.waitForFunction(
    ([el, was]) => getComputedStyle(el).filter !== was && getComputedStyle(el).filter.includes("invert(1)"),
    [await picture.elementHandle(), before],
  );
  assert.match(await picture.evaluate((el) => getComputedStyle(el).filter), /contrast\(1\.[1-9]/);
  await viewer.getByTestId("viewer-close").click();
  await viewer.waitFor({ state: "hidden" });

  // Compare the two photos side by side.
  const checks = images.locator('.thumb:has-text("구내 사진") [data-testid="compare-check"] input');
  await checks.nth(0).check();
  await checks.nth(1).check();
  await page.getByTestId("compare-open").click();
  await page.getByTestId("image-viewer").getByTestId("image-pane").nth(1).waitFor();
  assert.equal(await page.getByTestId("image-viewer").getByTestId("viewer-image").count(), 2);
  await page.getByTestId("viewer-close").click();

  // An upload cut by the network resumes where it stopped once it is back:
  // a noisy picture larger than one 8 MiB piece, cut after the first piece.
  const big = await noisyJpeg(page, "cut.jpg", 4000, 3000);
  assert.ok(big.buffer.length > 9 * 1024 * 1024, `only ${big.buffer.length} bytes`);
  const offsets = [];
  page.on("request", (r) => {
    if (r.method() === "PATCH" && r.url().includes("/uploads/")) offsets.push(Number(r.headers()["upload-offset"]));
  });
  let patches = 0;
  await context.route("**/uploads/**", async (route) => {
    if (route.request().method() === "PATCH" && ++patches === 2) {
      await context.setOffline(true);
      await route.abort("internetdisconnected");
      return;
    }
    await route.continue();
  });
  const panel = page.getByTestId("upload-panel");
  await panel.getByTestId("file-input").setInputFiles([big]);
  await panel.getByTestId("batch-form").getByLabel("종류").click({ force: true });
  await page.getByRole("option", { name: "구외 사진", exact: true }).click();
  await panel.getByTestId("start-upload").click();
  await page.waitForFunction(() => !navigator.onLine);
  await context.unroute("**/uploads/**");
  await context.setOffline(false);
  const cut = panel.locator('[data-file="cut.jpg"]');
  await panel.locator('[data-file="cut.jpg"][data-state="done"], [data-file="cut.jpg"][data-state="failed"]').first().waitFor({ timeout: 120_000 });
  if ((await cut.getAttribute("data-state")) === "failed") {
    await cut.getByRole("button", { name: /다시 올리기/ }).click();
    await panel.locator('[data-file="cut.jpg"][data-state="done"]').waitFor({ timeout: 120_000 });
  }
  // The first piece was sent once: after the cut, sending went on from it.
  assert.equal(offsets[0], 0);
  assert.ok(offsets.slice(1).every((o) => o > 0), `offsets ${offsets}`);
  await images.locator(".thumb").nth(3).waitFor({ timeout: 60_000 });
  assert.equal(await images.locator(".thumb").count(), 4);
  await context.close();
});
