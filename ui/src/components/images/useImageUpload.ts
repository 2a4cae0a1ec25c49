import { computed, inject, onBeforeUnmount, reactive, ref, watch, type InjectionKey } from "vue";
import type { HttpStack, PreviousUpload, Upload, UploadOptions, UrlStorage } from "tus-js-client";
import { apiBaseUrl } from "../../api/transport";
import { useOnline } from "../../composables/useOnline";
import { ImageKind } from "../../gen/molar/v1/images_pb";
import { useAuthStore } from "../../stores/auth";

/** Where an upload stands. */
export type UploadState = "ready" | "uploading" | "waiting" | "done" | "failed" | "canceled";

/** Why an upload was refused: the server's code and the rules its content or metadata broke. */
export interface UploadRefusal {
  /** "invalid_argument", "permission_denied", … ("" when the server could not be read). */
  code: string;
  /** The rule ids broken ("image.file.format"). */
  rules: string[];
  /** The server's own words, for when no rule is known. */
  message: string;
}

/** One file of the upload panel. */
export interface UploadItem {
  key: number;
  file: File;
  state: UploadState;
  /** Bytes the server has, and of how many. */
  sent: number;
  total: number;
  refusal: UploadRefusal | null;
  /** The new image's id, once the server accepted it. */
  imageId: string;
}

/** What is said once for every file of a batch. */
export interface UploadBatch {
  kind: ImageKind;
  /** YYYY-MM-DD. */
  takenOn: string;
  teeth: number[];
  note: string;
  /** The visit the files were taken at, or "". */
  appointmentId?: string;
  /** The chart entry they show, or "". */
  chartEntryId?: string;
}

/**
 * What the uploads run on, replaceable for tests: the HTTP stack and the
 * store of unfinished uploads (both tus-js-client's own by default), the
 * chunk size and the retry delays.
 */
export interface UploadEnv {
  httpStack?: HttpStack;
  urlStorage?: UrlStorage;
  chunkSize?: number;
  retryDelays?: number[];
}

/** Provides an UploadEnv to the upload panel (tests give a fake tus server). */
export const uploadEnvKey: InjectionKey<UploadEnv> = Symbol("uploadEnv");

/** The size limit when the server does not say one. */
export const defaultMaxBytes = 100 * 1024 * 1024;
/** How many files go up at once. */
const parallel = 3;
/** A network drop is retried after these waits; the offset already sent is kept. */
const retryDelays = [0, 1000, 3000, 5000, 10_000, 20_000, 30_000];

type Tus = typeof import("tus-js-client");
let tusModule: Promise<Tus> | null = null;
/** tus-js-client, fetched the first time it is needed (never on the sign-in page). */
function loadTus(): Promise<Tus> {
  tusModule ??= import("tus-js-client");
  return tusModule;
}

/** The JSON body of a refusal, whatever the server said. */
export function refusalOf(status: number, body: string): UploadRefusal {
  try {
    const j = JSON.parse(body) as { code?: string; message?: string; violations?: { rule?: string }[] };
    return { code: j.code ?? "", rules: (j.violations ?? []).map((v) => v.rule ?? "").filter(Boolean), message: j.message ?? "" };
  } catch {
    const code = status === 401 ? "unauthenticated" : status === 403 ? "permission_denied" : status === 413 ? "invalid_argument" : "";
    return { code, rules: status === 413 ? ["image.file.max_bytes"] : [], message: body.slice(0, 200) };
  }
}

/** The tus Upload-Metadata of a file of a batch. */
export function metadataOf(patientId: string, batch: UploadBatch, file: File): Record<string, string> {
  const m: Record<string, string> = {
    patient_id: patientId,
    kind: `IMAGE_KIND_${ImageKind[batch.kind]}`,
    taken_on: batch.takenOn,
    teeth: batch.teeth.join(","),
    filename: file.name,
  };
  if (batch.note.trim()) m.note = batch.note.trim();
  if (batch.appointmentId) m.appointment_id = batch.appointmentId;
  if (batch.chartEntryId) m.chart_entry_id = batch.chartEntryId;
  return m;
}

/**
 * The upload panel's work: files go up over tus to /uploads/ with the
 * signed-in user's token (refreshed once on a 401), several at once, each
 * with its progress; a network drop is retried from the offset the server
 * has, and a file chosen again after a reload resumes where it stopped
 * (its fingerprint is kept in this browser until it completes).
 */
export function useImageUpload(patientId: () => string) {
  const env = inject(uploadEnvKey, {});
  const auth = useAuthStore();
  const online = useOnline();
  const endpoint = `${apiBaseUrl()}/uploads/`;

  const items = ref<UploadItem[]>([]);
  const maxBytes = ref(defaultMaxBytes);
  /** Unfinished uploads of this patient left by an earlier page (a reload), by file name. */
  const resumable = ref<string[]>([]);
  const running = new Map<number, Upload>();
  let batch: UploadBatch | null = null;
  let nextKey = 1;

  const busy = computed(() => items.value.some((i) => i.state === "uploading" || i.state === "waiting"));
  const ready = computed(() => items.value.filter((i) => i.state === "ready"));

  async function stackAndStorage(): Promise<{ tus: Tus; httpStack: HttpStack; urlStorage: UrlStorage }> {
    const tus = await loadTus();
    return {
      tus,
      httpStack: env.httpStack ?? tus.defaultOptions.httpStack,
      urlStorage: env.urlStorage ?? tus.defaultOptions.urlStorage,
    };
  }

  /** Asks the server its size limit (tus OPTIONS, Tus-Max-Size) and which uploads of this patient were cut short. */
  async function prepare(): Promise<void> {
    const { httpStack, urlStorage } = await stackAndStorage();
    try {
      const res = await httpStack.createRequest("OPTIONS", endpoint).send(null);
      const max = Number(res.getHeader("Tus-Max-Size"));
      if (Number.isFinite(max) && max > 0) maxBytes.value = max;
    } catch {
      // The default stands; the server checks again.
    }
    try {
      const all = await urlStorage.findAllUploads();
      resumable.value = all.filter((p: PreviousUpload) => p.metadata.patient_id === patientId()).map((p) => p.metadata.filename ?? "");
    } catch {
      resumable.value = [];
    }
  }

  /** Adds files to the list; one that is empty or too large is refused here without sending. */
  function add(files: Iterable<File>): void {
    for (const file of files) {
      const item = reactive<UploadItem>({ key: nextKey++, file, state: "ready", sent: 0, total: file.size, refusal: null, imageId: "" });
      if (file.size === 0) refuse(item, { code: "invalid_argument", rules: ["image.file.empty"], message: "" });
      else if (file.size > maxBytes.value) refuse(item, { code: "invalid_argument", rules: ["image.file.max_bytes"], message: "" });
      items.value.push(item);
    }
  }

  function refuse(item: UploadItem, r: UploadRefusal): void {
    item.state = "failed";
    item.refusal = r;
  }

  /** Starts every file that is ready, with what the batch says of them. */
  function start(b: UploadBatch): void {
    batch = { ...b, teeth: [...b.teeth] };
    pump();
  }

  /** Starts files while fewer than `parallel` are going up. */
  function pump(): void {
    if (!batch) return;
    for (const item of items.value) {
      if (running.size >= parallel) return;
      if (item.state !== "ready" || running.has(item.key)) continue;
      void send(item, batch);
    }
  }

  async function send(item: UploadItem, b: UploadBatch): Promise<void> {
    item.state = "uploading";
    item.refusal = null;
    const { tus, httpStack, urlStorage } = await stackAndStorage();
    // A 401 is retried once, after a refresh the next request waits for.
    let refreshing: Promise<unknown> | null = null;
    let refreshed = false;
    const options: UploadOptions = {
      endpoint,
      metadata: metadataOf(patientId(), b, item.file),
      chunkSize: env.chunkSize ?? 8 * 1024 * 1024,
      retryDelays: env.retryDelays ?? retryDelays,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      httpStack,
      urlStorage,
      onBeforeRequest: async (req) => {
        if (refreshing) await refreshing.catch(() => null);
        const token = auth.token();
        if (token) req.setHeader("Authorization", `Bearer ${token}`);
      },
      onShouldRetry: (err, _attempt) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        if (status === 401 && !refreshed) {
          refreshed = true;
          refreshing = auth.refreshOnce();
          return true;
        }
        if (status >= 400 && status < 500 && status !== 409 && status !== 423 && status !== 429) return false;
        // Cut off or a server error: the next attempt asks the server its offset and goes on from there.
        item.state = "waiting";
        return true;
      },
      onProgress: (sent, total) => {
        if (item.state === "waiting") item.state = "uploading";
        item.sent = sent;
        item.total = total;
      },
      onSuccess: ({ lastResponse }) => {
        running.delete(item.key);
        item.state = "done";
        item.sent = item.total;
        item.imageId = lastResponse.getHeader("Molar-Image-Id") ?? "";
        resumable.value = resumable.value.filter((n) => n !== item.file.name);
        pump();
      },
      onError: (err) => {
        running.delete(item.key);
        const res = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null }).originalResponse;
        const status = res?.getStatus() ?? 0;
        if (status >= 400 && status < 500) {
          refuse(item, refusalOf(status, res?.getBody() ?? ""));
          // A refused file starts afresh if chosen again.
          void forget(upload, urlStorage);
        } else {
          // Still cut off after every retry: go on when the network is back.
          item.state = "waiting";
        }
        pump();
      },
    };
    const upload = new tus.Upload(item.file, options);
    running.set(item.key, upload);
    try {
      const previous = (await upload.findPreviousUploads()).filter((p) => p.metadata.patient_id === patientId());
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
    } catch {
      // Nothing to resume.
    }
    if (item.state !== "uploading") return; // canceled meanwhile
    upload.start();
  }

  async function forget(upload: Upload, urlStorage: UrlStorage): Promise<void> {
    try {
      for (const p of await upload.findPreviousUploads()) await urlStorage.removeUpload(p.urlStorageKey);
    } catch {
      // Left for the next attempt to resume, which the server will refuse again.
    }
  }

  /** Stops a file going up; it can be started again and resumes. */
  function cancel(item: UploadItem): void {
    const u = running.get(item.key);
    running.delete(item.key);
    item.state = "canceled";
    void u?.abort();
    pump();
  }

  /** Puts a failed, canceled or waiting file back in the queue. */
  function retry(item: UploadItem): void {
    const u = running.get(item.key);
    running.delete(item.key);
    void u?.abort();
    item.state = "ready";
    item.refusal = null;
    pump();
  }

  /** Takes a file off the list (stopping it if it is going up). */
  function remove(item: UploadItem): void {
    if (running.has(item.key)) cancel(item);
    items.value = items.value.filter((i) => i.key !== item.key);
  }

  /** Takes the finished files off the list. */
  function clearDone(): void {
    items.value = items.value.filter((i) => i.state !== "done");
  }

  // Uploads that gave up while offline go on as soon as the network is back.
  watch(online, (up) => {
    if (!up) return;
    for (const item of items.value) if (item.state === "waiting" && !running.has(item.key)) item.state = "ready";
    pump();
  });

  onBeforeUnmount(() => {
    // The page stays; the uploads stop but keep their fingerprints, so they resume when chosen again.
    for (const u of running.values()) void u.abort();
    running.clear();
  });

  return { items, ready, busy, maxBytes, resumable, prepare, add, start, cancel, retry, remove, clearDone };
}
