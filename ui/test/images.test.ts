import { afterEach, describe, expect, it, vi } from "vitest";
import type { Component } from "vue";
import { mount } from "@vue/test-utils";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext, type Transport } from "@connectrpc/connect";
import type { HttpRequest, HttpResponse, HttpStack, PreviousUpload, UrlStorage } from "tus-js-client";
import {
  ImageKind,
  ImageLinksSchema,
  ImageSchema,
  ImageService,
  JobSchema,
  JobState,
  ThumbnailStatus,
  WatchImagesResponseSchema,
  type Image,
  type ListImagesRequest,
  type UpdateImageRequest,
  type WatchImagesResponse,
} from "../src/gen/molar/v1/images_pb";
import { ChartEntrySchema, ChartService, EntryStatus, type ChartEntry } from "../src/gen/molar/v1/chart_pb";
import { AppointmentSchema, AppointmentStatus, ProviderSchema, ScheduleService, type Appointment } from "../src/gen/molar/v1/schedule_pb";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ProblemReason, ProblemSchema } from "../src/gen/molar/v1/problem_pb";
import { Permission, Role } from "../src/gen/molar/v1/access_pb";
import { MeSchema } from "../src/gen/molar/v1/auth_pb";
import { transportKey } from "../src/api/transport";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { useAuthStore } from "../src/stores/auth";
import PatientImages from "../src/components/images/PatientImages.vue";
import UploadPanel from "../src/components/images/UploadPanel.vue";
import JobsView from "../src/views/settings/JobsView.vue";
import { uploadEnvKey, type UploadEnv } from "../src/components/images/useImageUpload";
import { buttonByText, inputByLabel, mountView, piniaWith, type, until } from "./helpers";
import { meFor } from "./authServer";

// The browser build of tus-js-client, as the app ships it (Vitest would take its Node build).
// @ts-expect-error the browser build's path has no declarations of its own; it is the same API.
vi.mock("tus-js-client", () => import("tus-js-client/lib.esm/browser/index.js"));

function image(id: string, overrides: Partial<Omit<Image, "$typeName">> = {}): Image {
  return create(ImageSchema, {
    id,
    patientId: "p-1",
    kind: ImageKind.PANORAMIC,
    takenOn: "2025-03-04",
    teeth: [],
    fileName: `${id}.jpg`,
    mediaType: "image/jpeg",
    width: 2000,
    height: 1000,
    sizeBytes: 123456n,
    thumbnailStatus: ThumbnailStatus.DONE,
    gridUrl: `https://molar.test/i/${id}/grid`,
    uploadedByName: "김원장",
    version: 1n,
    ...overrides,
  });
}

/** A queue the test pushes stream messages into. */
class Feed {
  private waiting: ((m: WatchImagesResponse) => void) | null = null;
  private queued: WatchImagesResponse[] = [];
  push(img: Image): void {
    const msg = create(WatchImagesResponseSchema, { image: img });
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(msg);
    } else this.queued.push(msg);
  }
  async *stream(ctx: HandlerContext): AsyncIterable<WatchImagesResponse> {
    while (!ctx.signal.aborted) {
      const next = this.queued.shift() ?? (await new Promise<WatchImagesResponse | null>((r) => {
        this.waiting = r;
        ctx.signal.addEventListener("abort", () => r(null), { once: true });
      }));
      if (!next) return;
      yield next;
    }
  }
}

/** An image server holding a patient's images, with a stream the test feeds. */
class FakeImages {
  images: Image[] = [];
  lists: ListImagesRequest[] = [];
  removeRefusal: string | null = null;
  feed = new Feed();
  /** The patient's visits (all past, for simplicity) and chart. */
  visits: Appointment[] = [];
  entries: ChartEntry[] = [];
  updates: UpdateImageRequest[] = [];

  transport(): Transport {
    return createRouterTransport(({ service }) => {
      service(ImageService, {
        listImages: (req) => {
          this.lists.push(req);
          const images = this.images.filter(
            (i) => (req.kind === ImageKind.UNSPECIFIED || i.kind === req.kind) && (req.tooth === 0 || i.teeth.includes(req.tooth)) && (req.includeRemoved || !i.removed),
          );
          return { images };
        },
        getImage: (req) => {
          const img = this.images.find((i) => i.id === req.id);
          if (!img) throw new ConnectError("no such image", Code.NotFound);
          return { image: img, links: create(ImageLinksSchema, { originalUrl: `https://molar.test/i/${img.id}/original`, previewUrl: `https://molar.test/i/${img.id}/preview` }) };
        },
        removeImage: () => {
          if (this.removeRefusal)
            throw new ConnectError("radiographs are kept five years", Code.FailedPrecondition, undefined, [
              { desc: ProblemSchema, value: { reason: ProblemReason.RADIOGRAPH_RETENTION, date: this.removeRefusal } },
            ]);
          return {};
        },
        watchImages: (_req, ctx) => this.feed.stream(ctx),
        updateImage: (req) => {
          this.updates.push(req);
          const old = this.images.find((i) => i.id === req.id)!;
          const { kind, takenOn, teeth, note, chartEntryId, appointmentId } = req;
          const saved = create(ImageSchema, { ...old, kind, takenOn, teeth, note, chartEntryId, appointmentId, version: old.version + 1n });
          this.images = this.images.map((i) => (i.id === req.id ? saved : i));
          return { image: saved };
        },
      });
      service(ChartService, { getChart: () => ({ entries: this.entries, revision: 0n, changeTimes: [] }) });
      service(ScheduleService, {
        listPatientAppointments: () => ({ upcoming: [], past: this.visits }),
        listResources: () => ({ providers: [create(ProviderSchema, { id: "dr-1", name: "박치과" })], chairs: [], types: [] }),
      });
    });
  }
}

async function mountWith(component: Component, transport: Transport, props: Record<string, unknown>, env?: UploadEnv) {
  const pinia = piniaWith(transport);
  useAuthStore().me = meFor([Role.DENTIST]);
  return mount(component, {
    attachTo: document.body,
    props,
    global: {
      plugins: [pinia, createAppI18n("ko"), createAppVuetify("ko")],
      provide: { [transportKey as symbol]: transport, ...(env ? { [uploadEnvKey as symbol]: env } : {}) },
    },
  });
}

function click(el: Element): void {
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
}

function visit(id: string, start: Date, status = AppointmentStatus.COMPLETED): Appointment {
  return create(AppointmentSchema, { id, patientId: "p-1", providerId: "dr-1", startTime: timestampFromDate(start), minutes: 30, status });
}

function entry(id: string, tooth: number, name: string): ChartEntry {
  return create(ChartEntrySchema, { id, tooth, kind: { case: "procedureCode", value: "RS-CR" }, procedureName: name, status: EntryStatus.PLANNED });
}

/** Opens a select from the keyboard and picks the option that says text. */
async function pick(root: ParentNode, testId: string, text: string): Promise<void> {
  const input = root.querySelector<HTMLInputElement>(`[data-testid=${testId}] input`)!;
  input.focus();
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  const option = () => [...document.querySelectorAll<HTMLElement>(".v-overlay--active .v-list-item")].find((x) => x.textContent?.includes(text));
  await until(() => option() !== undefined, `${testId} option ${text}`);
  click(option()!);
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("images tab", () => {
  it("lists images by day with their thumbnails and filters by kind and tooth", async () => {
    const server = new FakeImages();
    server.images = [
      image("i1", { kind: ImageKind.PANORAMIC, takenOn: "2025-03-04" }),
      image("i2", { kind: ImageKind.PERIAPICAL, takenOn: "2025-03-04", teeth: [36, 37] }),
      image("i3", { kind: ImageKind.INTRAORAL_PHOTO, takenOn: "2024-11-20", teeth: [11] }),
    ];
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.findAll("[data-image-id]").length === 3, "grid");
    expect(w.findAll("[data-testid=image-day]").map((d) => d.find("h3").text())).toEqual([
      expect.stringContaining("2025"),
      expect.stringContaining("2024"),
    ]);
    expect(w.find('[data-image-id="i1"] img').attributes("src")).toBe("https://molar.test/i/i1/grid");
    expect(w.find('[data-image-id="i2"]').text()).toContain("치근단");
    expect(w.find('[data-image-id="i2"]').text()).toContain("#36 #37");

    click(w.find('[data-kind="PERIAPICAL"]').element);
    await until(() => w.findAll("[data-image-id]").length === 1, "kind filter");
    expect(server.lists.at(-1)?.kind).toBe(ImageKind.PERIAPICAL);
    expect(w.find("[data-image-id]").attributes("data-image-id")).toBe("i2");

    click(w.find('[data-kind="ALL"]').element);
    await until(() => w.findAll("[data-image-id]").length === 3, "all kinds");
    const tooth = inputByLabel("치아 번호");
    type(tooth, "11");
    tooth.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await until(() => w.findAll("[data-image-id]").length === 1, "tooth filter");
    expect(server.lists.at(-1)?.tooth).toBe(11);
    expect(w.find("[data-image-id]").attributes("data-image-id")).toBe("i3");

    type(tooth, "19");
    await until(() => w.text().includes("FDI 치아 번호가 아닙니다"), "bad tooth");
    w.unmount();
  });

  it("says so when there are no images, and offers the upload", async () => {
    const server = new FakeImages();
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find("[data-testid=images-empty]").exists(), "empty state");
    expect(w.text()).toContain("아직 영상이 없습니다");
    w.unmount();
  });

  it("shows a thumbnail made while the grid is open, without listing again", async () => {
    const server = new FakeImages();
    server.images = [image("i1", { thumbnailStatus: ThumbnailStatus.QUEUED, gridUrl: "" })];
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-image-id="i1"]').exists(), "grid");
    await until(() => w.find("[data-testid=images-live]").attributes("data-state") === "live", "live");
    expect(w.find('[data-image-id="i1"] [data-testid=thumb-status]').text()).toContain("미리보기 대기 중");
    expect(w.find('[data-image-id="i1"] img').exists()).toBe(false);

    server.feed.push(image("i1", { thumbnailStatus: ThumbnailStatus.RUNNING, gridUrl: "" }));
    await until(() => w.find('[data-image-id="i1"]').attributes("data-status") === "RUNNING", "running");
    server.feed.push(image("i1", { thumbnailStatus: ThumbnailStatus.DONE, gridUrl: "https://molar.test/i/i1/grid?sig=1" }));
    await until(() => w.find('[data-image-id="i1"] img').exists(), "thumbnail made");
    expect(w.find('[data-image-id="i1"] img').attributes("src")).toBe("https://molar.test/i/i1/grid?sig=1");
    // A new upload appears too.
    server.feed.push(image("i2", { takenOn: "2025-03-05" }));
    await until(() => w.find('[data-image-id="i2"]').exists(), "new upload");
    expect(server.lists).toHaveLength(1);
    w.unmount();
  });

  it("opens the viewer: keys zoom and invert, the contrast slider adjusts, the teeth are picked out", async () => {
    const server = new FakeImages();
    server.images = [image("i1", { kind: ImageKind.PERIAPICAL, teeth: [36, 37] })];
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-image-id="i1"] button').exists(), "grid");
    click(w.find('[data-image-id="i1"] button').element);
    await until(() => document.querySelector("[data-testid=viewer-image]") !== null, "viewer");
    const img = document.querySelector<HTMLImageElement>("[data-testid=viewer-image]")!;
    expect(img.getAttribute("src")).toBe("https://molar.test/i/i1/preview");
    const pane = document.querySelector<HTMLElement>("[data-testid=image-pane]")!;

    pane.dispatchEvent(new KeyboardEvent("keydown", { key: "+", bubbles: true }));
    await until(() => img.style.transform.includes("scale(1.25)"), "zoomed in");
    expect(document.querySelector("[data-testid=zoom]")?.textContent).toContain("125%");
    pane.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
    await until(() => img.style.transform.includes("translate(40px, 0px)"), "panned");
    pane.dispatchEvent(new KeyboardEvent("keydown", { key: "i", bubbles: true }));
    await until(() => img.style.filter.includes("invert(1)"), "inverted");

    const contrast = document.querySelector<HTMLElement>("[data-testid=contrast] [role=slider]")!;
    contrast.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    await until(() => img.style.filter.includes("contrast(105%)"), "contrast");
    contrast.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
    await until(() => img.style.filter.includes("contrast(110%)"), "more contrast");

    pane.dispatchEvent(new KeyboardEvent("keydown", { key: "0", bubbles: true }));
    await until(() => img.style.transform.includes("scale(1)") && !img.style.filter.includes("invert"), "reset");

    // The image's teeth, named and picked out on the odontogram.
    expect(document.querySelector("[data-testid=info-teeth]")?.textContent).toContain("#36");
    await until(() => document.querySelectorAll("[data-highlighted]").length === 2, "odontogram");
    expect([...document.querySelectorAll("[data-highlighted]")].map((g) => g.getAttribute("data-tooth"))).toEqual(["36", "37"]);
    w.unmount();
  });

  it("shows the visit and chart entry an image is linked to, and corrects the links", async () => {
    const server = new FakeImages();
    server.visits = [visit("a-1", new Date("2025-03-04T01:30:00Z")), visit("a-2", new Date("2025-05-20T05:00:00Z"))];
    server.entries = [entry("e-36", 36, "레진 충전"), entry("e-46", 46, "발치")];
    server.images = [image("i1", { appointmentId: "a-1", chartEntryId: "e-36" })];
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-image-id="i1"] button').exists(), "grid");
    click(w.find('[data-image-id="i1"] button').element);
    const fact = (id: string) => document.querySelector(`[data-testid=${id}]`)?.textContent ?? "";
    await until(() => fact("info-visit").includes("박치과"), "visit shown");
    // The visit's day in Seoul, its time and its dentist; the entry by tooth, name and status.
    expect(fact("info-visit")).toContain("2025");
    expect(fact("info-visit")).toContain("3월 4일");
    expect(fact("info-visit")).toContain("10:30–11:00");
    await until(() => fact("info-entry").includes("#36 레진 충전 · 계획"), "entry shown");

    buttonByText("고치기").click();
    await until(() => document.querySelector("[data-testid=edit-visit]") !== null, "edit form");
    await pick(document, "edit-visit", "5월 20일");
    await pick(document, "edit-entry", "#46 발치");
    await until(() => document.querySelector("[data-testid=edit-entry]")!.textContent!.includes("#46 발치"), "entry chosen");
    buttonByText("저장").click();
    await until(() => server.updates.length === 1, "saved");
    expect(server.updates[0]).toMatchObject({ id: "i1", appointmentId: "a-2", chartEntryId: "e-46", version: 1n });
    await until(() => fact("info-entry").includes("#46 발치"), "new entry shown");
    expect(fact("info-visit")).toContain("5월 20일");
    w.unmount();
  });

  it("compares two images side by side", async () => {
    const server = new FakeImages();
    server.images = [image("i1", { takenOn: "2024-01-10" }), image("i2", { takenOn: "2025-03-04" })];
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.findAll("[data-testid=compare-check] input").length === 2, "grid");
    for (const box of w.findAll("[data-testid=compare-check] input")) await box.setValue(true);
    await until(() => w.find("[data-testid=compare-open]").exists() && !w.find("[data-testid=compare-open]").attributes("disabled"), "compare bar");
    click(w.find("[data-testid=compare-open]").element);
    await until(() => document.querySelectorAll("[data-testid=viewer-image]").length === 2, "two panes");
    expect(document.body.textContent).toContain("영상 비교");
    w.unmount();
  });

  it("tells in Korean, with the date, that a young radiograph cannot be removed", async () => {
    const server = new FakeImages();
    server.images = [image("i1")];
    server.removeRefusal = "2030-03-04";
    const w = await mountWith(PatientImages, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-image-id="i1"] button').exists(), "grid");
    click(w.find('[data-image-id="i1"] button').element);
    await until(() => [...document.querySelectorAll("button")].some((b) => b.textContent?.trim() === "영상 삭제"), "viewer");
    buttonByText("영상 삭제").click();
    await until(() => document.body.textContent!.includes("영상을 삭제할까요?"), "dialog");
    type(inputByLabel("삭제 사유"), "중복 촬영");
    buttonByText("삭제").click();
    await until(() => document.querySelector("[data-testid=problem]") !== null, "refusal");
    const said = document.querySelector("[data-testid=problem]")!.textContent!;
    expect(said).toContain("5년이 지나지 않은 방사선 영상은 삭제할 수 없습니다");
    expect(said).toContain("2030-03-04부터 삭제할 수 있습니다");
    w.unmount();
  });
});

// A tus 1.0 server in memory, behind tus-js-client's own HTTP stack interface.

interface Stored {
  length: number;
  data: number[];
  metadata: Record<string, string>;
}

function response(status: number, headers: Record<string, string> = {}, body = ""): HttpResponse {
  return { getStatus: () => status, getHeader: (h) => headers[h], getBody: () => body, getUnderlyingObject: () => null };
}

function readBlob(b: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(new Uint8Array(r.result as ArrayBuffer));
    r.onerror = () => reject(r.error);
    r.readAsArrayBuffer(b);
  });
}

class FakeTus implements HttpStack {
  uploads = new Map<string, Stored>();
  posts = 0;
  /** Authorization headers seen. */
  auth: (string | undefined)[] = [];
  /** PATCH offsets seen, by file name. */
  patches: { name: string; offset: number }[] = [];
  /** The next PATCH of this file is cut off by the network, after the server kept nothing. */
  cutOnce = new Set<string>();
  /** PATCHes wait for this while set (only the one at offset holdAt, when that is set). */
  gate: Promise<void> | null = null;
  holdAt: number | null = null;
  /** What the server decides of a complete file. */
  verdict: (name: string, bytes: number[]) => HttpResponse = () => response(204, { "Upload-Offset": "0" });

  getName(): string {
    return "fake";
  }

  createRequest(method: string, url: string): HttpRequest {
    const headers: Record<string, string> = {};
    let progress: (n: number) => void = () => {};
    const req: HttpRequest = {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (h, v) => void (headers[h] = v),
      getHeader: (h) => headers[h],
      setProgressHandler: (p) => void (progress = p),
      send: (body: Blob | null) => this.handle(method, url, headers, body, progress),
      abort: async () => {},
      getUnderlyingObject: () => null,
    };
    return req;
  }

  private async handle(method: string, url: string, h: Record<string, string>, body: Blob | null, progress: (n: number) => void): Promise<HttpResponse> {
    if (method === "OPTIONS") return response(204, { "Tus-Max-Size": String(1024 * 1024), "Tus-Version": "1.0.0" });
    this.auth.push(h.Authorization);
    if (method === "POST") {
      this.posts++;
      const metadata = Object.fromEntries(
        (h["Upload-Metadata"] ?? "").split(",").map((kv) => {
          const [k, v = ""] = kv.split(" ");
          return [k, new TextDecoder().decode(Uint8Array.from(atob(v), (c) => c.charCodeAt(0)))];
        }),
      );
      const id = `u${this.uploads.size + 1}`;
      this.uploads.set(id, { length: Number(h["Upload-Length"]), data: [], metadata });
      return response(201, { Location: `/uploads/${id}` });
    }
    const u = this.uploads.get(url.split("/").pop()!);
    if (!u) return response(404);
    if (method === "HEAD") return response(200, { "Upload-Offset": String(u.data.length), "Upload-Length": String(u.length) });
    // PATCH
    const name = u.metadata.filename!;
    const offset = Number(h["Upload-Offset"]);
    this.patches.push({ name, offset });
    if (offset !== u.data.length) return response(409);
    const bytes = body ? await readBlob(body) : new Uint8Array();
    progress(Math.floor(bytes.length / 2));
    if (this.gate && (this.holdAt === null || this.holdAt === offset)) await this.gate;
    if (this.cutOnce.delete(name)) throw new Error("network connection lost");
    progress(bytes.length);
    u.data.push(...bytes);
    if (u.data.length < u.length) return response(204, { "Upload-Offset": String(u.data.length) });
    const v = this.verdict(name, u.data);
    return v.getStatus() === 204 ? response(204, { "Upload-Offset": String(u.data.length), "Molar-Image-Id": `img-${name}` }) : v;
  }
}

/** Unfinished uploads kept in memory, as tus keeps them in localStorage. */
class MemoryUrlStorage implements UrlStorage {
  entries = new Map<string, PreviousUpload & { fingerprint: string }>();
  private n = 0;
  async findAllUploads(): Promise<PreviousUpload[]> {
    return [...this.entries.values()];
  }
  async findUploadsByFingerprint(fp: string): Promise<PreviousUpload[]> {
    return [...this.entries.values()].filter((e) => e.fingerprint === fp);
  }
  async removeUpload(key: string): Promise<void> {
    this.entries.delete(key);
  }
  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `k${++this.n}`;
    this.entries.set(key, { ...upload, urlStorageKey: key, fingerprint });
    return key;
  }
}

function file(name: string, text: string): File {
  return new File([text], name, { type: name.endsWith(".dcm") ? "application/dicom" : "image/jpeg", lastModified: 1_700_000_000_000 });
}

function choose(w: ReturnType<typeof mount>, files: File[]): void {
  const input = w.find("[data-testid=file-input]").element as HTMLInputElement;
  Object.defineProperty(input, "files", { value: files, configurable: true });
  input.dispatchEvent(new Event("change"));
}

describe("upload panel", () => {
  it("links the files to today's visit by default and to the chart entry chosen", async () => {
    const images = new FakeImages();
    images.visits = [visit("a-today", new Date(), AppointmentStatus.IN_CHAIR), visit("a-old", new Date("2025-03-04T01:30:00Z"))];
    images.entries = [entry("e-36", 36, "레진 충전"), entry("e-11", 11, "근관 치료")];
    const tus = new FakeTus();
    const env: UploadEnv = { httpStack: tus, urlStorage: new MemoryUrlStorage(), chunkSize: 1024, retryDelays: [0] };
    const w = await mountWith(UploadPanel, images.transport(), { patientId: "p-1" }, env);
    choose(w, [file("pa.jpg", "x".repeat(100))]);
    await until(() => w.find("[data-testid=batch-form]").exists(), "batch form");
    // Today's visit is chosen as it loads, named by day, time and dentist.
    await until(() => w.find("[data-testid=upload-visit]").text().includes("박치과"), "today's visit");
    const offered = () => [...document.querySelectorAll<HTMLElement>(".v-overlay--active .v-list-item")].map((x) => x.textContent ?? "");
    await pick(document, "upload-entry", "#36 레진 충전");
    expect(offered()).toEqual([expect.stringContaining("#11 근관 치료 · 계획"), expect.stringContaining("#36 레진 충전 · 계획")]);
    await until(() => w.find("[data-testid=upload-entry]").text().includes("#36 레진 충전"), "entry chosen");
    buttonByText("1개 올리기").click();
    await until(() => w.find('[data-file="pa.jpg"]').attributes("data-state") === "done", "done");
    const sent = [...tus.uploads.values()][0]!.metadata;
    expect(sent).toMatchObject({ appointment_id: "a-today", chart_entry_id: "e-36" });

    // A visit cleared is not sent.
    choose(w, [file("pa2.jpg", "y".repeat(100))]);
    await until(() => w.find("[data-testid=batch-form]").exists(), "batch form again");
    click(w.find("[data-testid=upload-visit] .v-field__clearable .v-icon").element);
    await until(() => !w.find("[data-testid=upload-visit]").text().includes("박치과"), "visit cleared");
    buttonByText("1개 올리기").click();
    await until(() => w.find('[data-file="pa2.jpg"]').attributes("data-state") === "done", "second done");
    const second = [...tus.uploads.values()].find((u) => u.metadata.filename === "pa2.jpg")!.metadata;
    expect(second.appointment_id).toBeUndefined();
    expect(second.chart_entry_id).toBe("e-36");
    w.unmount();
  });

  it("hides the visit select from a user who may not list visits", async () => {
    const images = new FakeImages();
    images.entries = [entry("e-36", 36, "레진 충전")];
    const env: UploadEnv = { httpStack: new FakeTus(), urlStorage: new MemoryUrlStorage() };
    const w = await mountWith(UploadPanel, images.transport(), { patientId: "p-1" }, env);
    const auth = useAuthStore();
    auth.me = create(MeSchema, { ...auth.me!, permissions: auth.me!.permissions.filter((p) => p !== Permission.PATIENTS_READ) });
    choose(w, [file("pa.jpg", "x")]);
    await until(() => w.find("[data-testid=batch-form]").exists(), "batch form");
    expect(w.find("[data-testid=upload-visit]").exists()).toBe(false);
    expect(w.find("[data-testid=upload-entry]").exists()).toBe(true);
    w.unmount();
  });

  it("uploads several files with a progress bar each, and says why the server refused one", async () => {
    const tus = new FakeTus();
    tus.verdict = (name) =>
      name === "notes.jpg"
        ? response(422, {}, JSON.stringify({ code: "invalid_argument", message: "not an accepted image", violations: [{ field: "file", rule: "image.file.format" }] }))
        : response(204);
    let open!: () => void;
    tus.gate = new Promise((r) => (open = r));
    const env: UploadEnv = { httpStack: tus, urlStorage: new MemoryUrlStorage(), chunkSize: 1024, retryDelays: [0, 0, 0] };
    const w = await mountWith(UploadPanel, new FakeImages().transport(), { patientId: "p-1" }, env);
    await until(() => w.text().includes("최대 1.0 MB"), "server limit");

    choose(w, [file("pano.jpg", "x".repeat(3000)), file("notes.jpg", "hello")]);
    await until(() => w.find("[data-testid=batch-form]").exists(), "batch form");
    type(inputByLabel("치아 번호"), "36, 37");
    await w.vm.$nextTick();
    buttonByText("2개 올리기").click();

    // Held mid-chunk: each file shows its own progress.
    await until(() => w.findAll("[data-testid=file-progress]").length === 2, "progress bars");
    await until(() => w.find('[data-file="pano.jpg"] [data-testid=file-state]').text().startsWith("올리는 중"), "pano uploading");
    // Half of the first 1 KiB chunk of 3000 bytes.
    await until(() => w.find('[data-file="pano.jpg"] [role=progressbar]').attributes("aria-valuenow") === "17", "pano progress");
    expect(w.find('[data-file="pano.jpg"] [data-testid=file-state]').text()).toBe("올리는 중 17%");
    open();
    tus.gate = null;

    await until(() => w.find('[data-file="pano.jpg"]').attributes("data-state") === "done", "pano done");
    await until(() => w.find('[data-file="notes.jpg"]').attributes("data-state") === "failed", "notes refused");
    expect(w.find('[data-file="pano.jpg"] [data-testid=file-state]').text()).toBe("완료");
    expect(w.find('[data-file="notes.jpg"] [data-testid=file-refusal]').text()).toContain("영상 파일이 아닙니다");
    const pano = [...tus.uploads.values()].find((u) => u.metadata.filename === "pano.jpg")!;
    expect(pano.metadata).toMatchObject({ patient_id: "p-1", kind: "IMAGE_KIND_INTRAORAL_PHOTO", teeth: "36,37" });
    expect(pano.metadata.taken_on).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(pano.data.length).toBe(3000);
    w.unmount();
  });

  it("resumes from where the network cut an upload off, and after a reload", async () => {
    const tus = new FakeTus();
    const storage = new MemoryUrlStorage();
    tus.cutOnce.add("ceph.dcm");
    const env: UploadEnv = { httpStack: tus, urlStorage: storage, chunkSize: 1000, retryDelays: [0, 0, 0] };
    const w = await mountWith(UploadPanel, new FakeImages().transport(), { patientId: "p-1" }, env);
    const f = file("ceph.dcm", "d".repeat(2500));
    choose(w, [f]);
    await until(() => w.find("[data-testid=batch-form]").exists(), "batch form");
    // DICOM files default to panoramic.
    expect(w.find("[data-testid=batch-form]").text()).toContain("파노라마");
    buttonByText("1개 올리기").click();
    await until(() => w.find('[data-file="ceph.dcm"]').attributes("data-state") === "done", "done after the cut");
    expect(tus.posts).toBe(1);
    expect(tus.patches.map((p) => p.offset)).toEqual([0, 0, 1000, 2000]);
    expect([...tus.uploads.values()][0]!.data.length).toBe(2500);
    w.unmount();

    // A reload: an upload stopped half way is found again when the same file is chosen.
    const tus2 = new FakeTus();
    const storage2 = new MemoryUrlStorage();
    let open!: () => void;
    const env2: UploadEnv = { httpStack: tus2, urlStorage: storage2, chunkSize: 1000, retryDelays: [0] };
    const first = await mountWith(UploadPanel, new FakeImages().transport(), { patientId: "p-1" }, env2);
    choose(first, [f]);
    await until(() => first.find("[data-testid=batch-form]").exists(), "batch form");
    tus2.gate = new Promise((r) => (open = r));
    tus2.holdAt = 1000;
    buttonByText("1개 올리기").click();
    await until(() => tus2.patches.length === 2 && storage2.entries.size === 1, "second chunk in flight");
    first.unmount(); // the page goes away mid-upload
    open();
    tus2.gate = null;
    // The piece in flight lands before the page comes back (a real server holds a lock on the upload meanwhile).
    await until(() => [...tus2.uploads.values()][0]!.data.length === 2000, "piece in flight stored");
    document.body.innerHTML = "";

    const again = await mountWith(UploadPanel, new FakeImages().transport(), { patientId: "p-1" }, env2);
    await until(() => again.find("[data-testid=resumable]").exists(), "resumable notice");
    expect(again.find("[data-testid=resumable]").text()).toContain("ceph.dcm");
    const before = tus2.patches.length;
    choose(again, [f]);
    await until(() => again.find("[data-testid=batch-form]").exists(), "batch form");
    buttonByText("1개 올리기").click();
    await until(() => again.find('[data-file="ceph.dcm"]').attributes("data-state") === "done", "resumed");
    expect(tus2.posts).toBe(1);
    expect(tus2.patches.slice(before).map((p) => p.offset)[0]).toBeGreaterThan(0);
    expect(storage2.entries.size).toBe(0);
    again.unmount();
  });
});

describe("failed jobs (settings)", () => {
  it("lists dead jobs with the queue's depth and puts one back in the queue", async () => {
    const retried: string[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(ImageService, {
        listJobs: () => ({
          jobs: [create(JobSchema, { id: "thumbnail:i9", kind: "thumbnail", subjectId: "i9", state: JobState.DEAD, attempts: 5, lastError: "decode: unexpected EOF" })],
          depth: { JOB_STATE_QUEUED: 2, JOB_STATE_RUNNING: 1, JOB_STATE_DEAD: 1 },
        }),
        retryJob: (req) => {
          retried.push(req.id);
          return {};
        },
      });
    });
    const pinia = piniaWith(transport);
    useAuthStore().me = meFor([Role.ADMIN]);
    const w = await mountView(JobsView, transport, "ko", "/", pinia);
    await until(() => w.find('[data-job-id="thumbnail:i9"]').exists(), "jobs");
    expect(w.find("[data-testid=job-depth]").text()).toBe("대기 2 · 진행 1 · 실패 1");
    expect(w.find('[data-job-id="thumbnail:i9"]').text()).toContain("미리보기 만들기");
    buttonByText("다시 시도").click();
    await until(() => retried.length === 1 && w.text().includes("실패한 작업이 없습니다"), "retried");
    expect(retried).toEqual(["thumbnail:i9"]);
    w.unmount();
  });
});
