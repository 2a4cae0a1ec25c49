import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { computed, inject, reactive, ref, shallowReactive, watch } from "vue";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { keepLive, type LiveState } from "../api/liveStream";
import { useOnline } from "../composables/useOnline";
import {
  ImageKind,
  ImageService,
  UpdateImageRequestSchema,
  type Image,
  type ImageLinks,
  type UpdateImageRequest,
} from "../gen/molar/v1/images_pb";
import { useAuthStore } from "./auth";

/** What the grid is narrowed to: a kind (UNSPECIFIED for all), a tooth (0 for all), removed ones or not. */
export interface ImageFilter {
  kind: ImageKind;
  tooth: number;
  includeRemoved: boolean;
}

/** What can be corrected of an image; the links to a chart entry and a visit are optional. */
export type ImageCorrection = Pick<UpdateImageRequest, "kind" | "takenOn" | "teeth" | "note"> &
  Partial<Pick<UpdateImageRequest, "chartEntryId" | "appointmentId">>;

/** An image opened in the viewer, with its short-lived links. */
export interface OpenedImage {
  image: Image;
  links: ImageLinks;
}

/** Whether image belongs in a grid filtered by f. */
export function matches(image: Image, f: ImageFilter): boolean {
  if (image.removed && !f.includeRemoved) return false;
  if (f.kind !== ImageKind.UNSPECIFIED && image.kind !== f.kind) return false;
  return f.tooth === 0 || image.teeth.includes(f.tooth);
}

/** Newest first: by the day taken, then by upload time. */
function newestFirst(a: Image, b: Image): number {
  if (a.takenOn !== b.takenOn) return a.takenOn < b.takenOn ? 1 : -1;
  const at = a.uploadTime ? timestampDate(a.uploadTime).getTime() : 0;
  const bt = b.uploadTime ? timestampDate(b.uploadTime).getTime() : 0;
  return bt - at;
}

/**
 * One patient's images: the grid as filtered, kept live by WatchImages (a new
 * upload appears, a thumbnail goes from queued to made without a reload), and
 * the viewer's actions (open with links, correct, remove).
 */
export const useImagesStore = defineStore("images", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ImageService, transport);
  const auth = useAuthStore();

  const patientId = ref<string | null>(null);
  const filter = reactive<ImageFilter>({ kind: ImageKind.UNSPECIFIED, tooth: 0, includeRemoved: false });
  const byId = shallowReactive(new Map<string, Image>());
  const loaded = ref(false);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  const live = ref<LiveState>("offline");
  const streamProblem = ref<Problem | null>(null);
  /** Milliseconds until the next reconnection attempt, while offline. */
  const retryDelay = ref(0);

  /** The grid: the images that pass the filter, newest first. */
  const images = computed(() => [...byId.values()].filter((i) => matches(i, filter)).sort(newestFirst));
  /** Whether any filter narrows the grid. */
  const filtered = computed(() => filter.kind !== ImageKind.UNSPECIFIED || filter.tooth !== 0 || filter.includeRemoved);

  // Ids the stream changed while a list was in flight: the list's copy of
  // them may be older than what the stream already said.
  let streamed: Set<string> | null = null;
  let listGeneration = 0;

  /** Puts what the stream says about an image into the grid, or takes it out when it no longer belongs. */
  function put(image: Image): void {
    if (image.patientId !== patientId.value) return;
    streamed?.add(image.id);
    if (matches(image, filter)) byId.set(image.id, image);
    else byId.delete(image.id);
  }

  /** Loads the grid of the current patient and filter; only the latest of overlapping loads is shown. */
  async function load(): Promise<void> {
    const id = patientId.value;
    if (!id) return;
    const mine = ++listGeneration;
    loading.value = true;
    loadProblem.value = null;
    const touched = new Set<string>();
    streamed = touched;
    try {
      const res = await client.listImages({ patientId: id, kind: filter.kind, tooth: filter.tooth, includeRemoved: filter.includeRemoved });
      if (mine !== listGeneration) return;
      const keep = new Map([...byId].filter(([k]) => touched.has(k)));
      byId.clear();
      for (const image of res.images) if (!touched.has(image.id)) byId.set(image.id, image);
      for (const [k, image] of keep) byId.set(k, image);
      loaded.value = true;
    } catch (err) {
      if (mine === listGeneration) loadProblem.value = toProblem(err);
    } finally {
      if (mine === listGeneration) {
        loading.value = false;
        streamed = null;
      }
    }
  }

  let watching: AbortController | null = null;

  function watchLoop(id: string, signal: AbortSignal): Promise<void> {
    return keepLive(
      {
        open: (again) => {
          const stream = client.watchImages({ patientId: id }, { signal });
          // There is no first snapshot: the stream is live once open, and
          // what changed while it was down is not replayed, so list again.
          live.value = "live";
          if (again) void load();
          return stream;
        },
        receive: (msg) => msg.image && put(msg.image),
        live,
        problem: streamProblem,
        retryDelay,
        refresh: auth.refreshOnce,
      },
      signal,
    );
  }

  function startWatching(): void {
    watching?.abort();
    const id = patientId.value;
    if (!id) return;
    const ctrl = new AbortController();
    watching = ctrl;
    void watchLoop(id, ctrl.signal);
  }

  /** Shows patient id's images and keeps them live until close. */
  function open(id: string): void {
    if (patientId.value !== id) {
      patientId.value = id;
      byId.clear();
      loaded.value = false;
    }
    void load();
    startWatching();
  }

  /** Ends the live stream (the tab was left). */
  function close(): void {
    watching?.abort();
    watching = null;
    live.value = "offline";
    retryDelay.value = 0;
  }

  /** Reconnects now instead of waiting out the back-off. */
  function reconnect(): void {
    if (!patientId.value || !watching) return;
    startWatching();
  }

  const online = useOnline();
  watch(online, (up) => {
    if (!watching) return;
    if (up) startWatching();
    else {
      watching.abort();
      live.value = "offline";
    }
  });

  /** Narrows the grid and lists again. */
  function setFilter(f: Partial<ImageFilter>): void {
    Object.assign(filter, f);
    void load();
  }

  // Grid links are short-lived: when one stops working, fetch new ones, at most every half minute.
  let linksRenewedAt = 0;
  /** Lists again for fresh thumbnail links (one failed to load). */
  function renewLinks(now = Date.now()): void {
    if (now - linksRenewedAt < 30_000) return;
    linksRenewedAt = now;
    void load();
  }

  // The viewer.
  const opening = ref(false);
  const openProblem = ref<Problem | null>(null);

  /** Gets an image with fresh links for the viewer; null (openProblem says why) on failure. */
  async function get(id: string): Promise<OpenedImage | null> {
    opening.value = true;
    openProblem.value = null;
    try {
      const res = await client.getImage({ id });
      if (!res.image || !res.links) throw new Error("incomplete answer");
      return { image: res.image, links: res.links };
    } catch (err) {
      openProblem.value = toProblem(err);
      return null;
    } finally {
      opening.value = false;
    }
  }

  const saving = ref(false);
  const saveProblem = ref<Problem | null>(null);

  /** Corrects an image; returns it as saved, or null (saveProblem says why). */
  async function update(image: Image, c: ImageCorrection): Promise<Image | null> {
    saveProblem.value = null;
    const req = {
      id: image.id,
      kind: c.kind,
      takenOn: c.takenOn,
      teeth: c.teeth,
      note: c.note,
      // Links not named in the correction stay as they are.
      chartEntryId: c.chartEntryId ?? image.chartEntryId,
      appointmentId: c.appointmentId ?? image.appointmentId,
      version: image.version,
    };
    const invalid = await schemaProblem(UpdateImageRequestSchema, create(UpdateImageRequestSchema, req));
    if (invalid) {
      saveProblem.value = invalid;
      return null;
    }
    saving.value = true;
    try {
      const res = await client.updateImage(req);
      if (res.image) put(res.image);
      return res.image ?? null;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  const removing = ref(false);
  const removeProblem = ref<Problem | null>(null);

  /** Removes an image with a reason; returns it as saved, or null (removeProblem says why, e.g. the five-year rule). */
  async function remove(image: Image, reason: string): Promise<Image | null> {
    removing.value = true;
    removeProblem.value = null;
    try {
      const res = await client.removeImage({ id: image.id, reason, version: image.version });
      if (res.image) put(res.image);
      return res.image ?? null;
    } catch (err) {
      removeProblem.value = toProblem(err);
      return null;
    } finally {
      removing.value = false;
    }
  }

  return {
    patientId,
    filter,
    images,
    filtered,
    loaded,
    loading,
    loadProblem,
    live,
    streamProblem,
    retryDelay,
    open,
    close,
    load,
    reconnect,
    setFilter,
    renewLinks,
    put,
    opening,
    openProblem,
    get,
    saving,
    saveProblem,
    update,
    removing,
    removeProblem,
    remove,
    clearSaveProblem: () => (saveProblem.value = null),
    clearRemoveProblem: () => (removeProblem.value = null),
  };
});
