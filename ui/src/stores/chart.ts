import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { computed, inject, ref, shallowRef, watch } from "vue";
import {
  AddChartEntryRequestSchema,
  AddNoteRequestSchema,
  AmendNoteRequestSchema,
  CatalogService,
  ChartService,
  Condition,
  EntryStatus,
  ListNotesRequestSchema,
  RemoveChartEntryRequestSchema,
  RemoveNoteRequestSchema,
  SetChartEntryStatusRequestSchema,
  type ChartChange,
  type ChartEntry,
  type Note,
  type Procedure,
  type Surface,
} from "../gen/molar/v1/chart_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** Notes per page. */
export const notePageSize = 20;

/** What is charted: a finding, or a procedure from the catalog with its status. */
export type NewEntry =
  | { tooth: number; surfaces: Surface[]; condition: Condition }
  | { tooth: number; surfaces: Surface[]; procedureCode: string; status: EntryStatus };

/**
 * One patient's tooth chart (now or as it was at a past change), the
 * procedure catalog it is charted from, and the patient's clinical notes.
 */
export const useChartStore = defineStore("chart", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ChartService, transport);
  const catalogClient = createClient(CatalogService, transport);
  const auth = useAuthStore();

  /** Checks req against the schema; on failure records the violations in target and says so. */
  async function invalid<Desc extends DescMessage>(schema: Desc, req: MessageShape<Desc>, target: { value: Problem | null }): Promise<boolean> {
    const problem = await schemaProblem(schema, req);
    if (!problem) return false;
    target.value = problem;
    return true;
  }

  // The chart.
  const patientId = ref<string | null>(null);
  const entries = shallowRef<ChartEntry[]>([]);
  /** How many changes the shown chart includes. */
  const revision = ref(0n);
  /** Every change of the chart, oldest first. */
  const changeTimes = shallowRef<Timestamp[]>([]);
  /** Every change, oldest first: who, when, what. */
  const changes = shallowRef<ChartChange[]>([]);
  /** The past time shown, or null for now. */
  const asOf = shallowRef<Timestamp | null>(null);
  const loaded = ref(false);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  let chartGeneration = 0;

  /** Whether a past state is shown (and the chart is read-only). */
  const past = computed(() => asOf.value !== null);

  /**
   * Loads the patient's chart now, or as it was at `at`. Dragging the history
   * slider fires many of these; only the latest answer is shown.
   */
  async function load(id: string, at: Timestamp | null = null): Promise<void> {
    const mine = ++chartGeneration;
    if (patientId.value !== id) {
      patientId.value = id;
      entries.value = [];
      changeTimes.value = [];
      changes.value = [];
      revision.value = 0n;
      loaded.value = false;
    }
    loading.value = true;
    loadProblem.value = null;
    try {
      const res = await client.getChart({ patientId: id, asOf: at ?? undefined });
      if (mine !== chartGeneration) return;
      entries.value = res.entries;
      revision.value = res.revision;
      changeTimes.value = res.changeTimes;
      changes.value = res.changes;
      asOf.value = at;
      loaded.value = true;
    } catch (err) {
      if (mine === chartGeneration) loadProblem.value = toProblem(err);
    } finally {
      if (mine === chartGeneration) loading.value = false;
    }
  }

  // The catalog, fetched once per session (the transport GETs it, so the
  // browser revalidates it with its ETag).
  const procedures = shallowRef<Procedure[]>([]);
  const catalogLoaded = ref(false);
  const catalogLoading = ref(false);
  const catalogProblem = ref<Problem | null>(null);
  const procedureByCode = computed(() => new Map(procedures.value.map((p) => [p.code, p])));
  /** The procedures offered for new charting. */
  const activeProcedures = computed(() => procedures.value.filter((p) => p.active));

  /** Loads the catalog unless it is loaded already (or force). */
  async function loadCatalog(force = false): Promise<void> {
    if ((catalogLoaded.value && !force) || catalogLoading.value) return;
    catalogLoading.value = true;
    catalogProblem.value = null;
    try {
      const res = await catalogClient.listProcedures({});
      procedures.value = res.procedures;
      catalogLoaded.value = true;
    } catch (err) {
      catalogProblem.value = toProblem(err);
    } finally {
      catalogLoading.value = false;
    }
  }

  // Chart changes. Each is followed by loading the chart anew, so the screen
  // shows others' changes too and the history gains the new time.
  const saving = ref(false);
  const saveProblem = ref<Problem | null>(null);

  function clearSaveProblem(): void {
    saveProblem.value = null;
  }

  async function change<T>(id: string, call: () => Promise<T>): Promise<T | null> {
    saving.value = true;
    try {
      const out = await call();
      await load(id);
      return out;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return null;
    } finally {
      saving.value = false;
    }
  }

  /** Charts a finding or a procedure on the open patient; returns the entry, or null (saveProblem says why). */
  async function addEntry(e: NewEntry): Promise<ChartEntry | null> {
    const id = patientId.value;
    if (!id) return null;
    clearSaveProblem();
    const req = create(AddChartEntryRequestSchema, {
      patientId: id,
      tooth: e.tooth,
      surfaces: [...e.surfaces],
      ...("condition" in e ? { condition: e.condition } : { procedureCode: e.procedureCode, status: e.status }),
    });
    if (await invalid(AddChartEntryRequestSchema, req, saveProblem)) return null;
    const res = await change(id, () => client.addChartEntry(req));
    return res?.entry ?? null;
  }

  /** Moves a procedure to status (planned → completed). */
  async function setStatus(entryId: string, status: EntryStatus): Promise<boolean> {
    const id = patientId.value;
    if (!id) return false;
    clearSaveProblem();
    const req = create(SetChartEntryStatusRequestSchema, { patientId: id, entryId, status });
    if (await invalid(SetChartEntryStatusRequestSchema, req, saveProblem)) return false;
    return (await change(id, () => client.setChartEntryStatus(req))) !== null;
  }

  /** Takes an entry off the chart with a reason; the history keeps it. */
  async function removeEntry(entryId: string, reason: string): Promise<boolean> {
    const id = patientId.value;
    if (!id) return false;
    clearSaveProblem();
    const req = create(RemoveChartEntryRequestSchema, { patientId: id, entryId, reason: reason.trim() });
    if (await invalid(RemoveChartEntryRequestSchema, req, saveProblem)) return false;
    return (await change(id, () => client.removeChartEntry(req))) !== null;
  }

  // Notes, newest first, a page at a time.
  const notesPatientId = ref<string | null>(null);
  const notes = shallowRef<Note[]>([]);
  const notesNextPageToken = ref("");
  const notesTag = ref("");
  const includeRemoved = ref(false);
  const notesLoaded = ref(false);
  const notesLoading = ref(false);
  const notesLoadingMore = ref(false);
  const notesProblem = ref<Problem | null>(null);
  /** Every tag seen on this patient's notes, for the filter chips. */
  const knownTags = ref<string[]>([]);
  let notesGeneration = 0;

  function learnTags(list: Note[]): void {
    const all = new Set(knownTags.value);
    for (const n of list) for (const t of n.tags) all.add(t);
    if (all.size !== knownTags.value.length) knownTags.value = [...all].sort((a, b) => a.localeCompare(b, "ko"));
  }

  function notesRequest(pageToken: string) {
    return create(ListNotesRequestSchema, {
      patientId: notesPatientId.value ?? "",
      tag: notesTag.value,
      includeRemoved: includeRemoved.value,
      pageSize: notePageSize,
      pageToken,
    });
  }

  /** Loads the first page of a patient's notes, with this tag only (all when empty). */
  async function loadNotes(id: string, tag = notesTag.value, removed = includeRemoved.value): Promise<void> {
    if (notesPatientId.value !== id) {
      notesPatientId.value = id;
      notes.value = [];
      knownTags.value = [];
      notesLoaded.value = false;
    }
    notesTag.value = tag;
    includeRemoved.value = removed;
    const mine = ++notesGeneration;
    notesLoading.value = true;
    notesLoadingMore.value = false;
    notesProblem.value = null;
    try {
      const res = await client.listNotes(notesRequest(""));
      if (mine !== notesGeneration) return;
      notes.value = res.notes;
      notesNextPageToken.value = res.nextPageToken;
      notesLoaded.value = true;
      learnTags(res.notes);
    } catch (err) {
      if (mine !== notesGeneration) return;
      notes.value = [];
      notesNextPageToken.value = "";
      notesProblem.value = toProblem(err);
    } finally {
      if (mine === notesGeneration) notesLoading.value = false;
    }
  }

  /** Appends the next page of notes, if there is one. */
  async function moreNotes(): Promise<void> {
    if (!notesNextPageToken.value || notesLoading.value || notesLoadingMore.value) return;
    const mine = notesGeneration;
    notesLoadingMore.value = true;
    notesProblem.value = null;
    try {
      const res = await client.listNotes(notesRequest(notesNextPageToken.value));
      if (mine !== notesGeneration) return;
      notes.value = [...notes.value, ...res.notes];
      notesNextPageToken.value = res.nextPageToken;
      learnTags(res.notes);
    } catch (err) {
      if (mine === notesGeneration) notesProblem.value = toProblem(err);
    } finally {
      if (mine === notesGeneration) notesLoadingMore.value = false;
    }
  }

  const noteSaving = ref(false);
  const noteProblem = ref<Problem | null>(null);

  function clearNoteProblem(): void {
    noteProblem.value = null;
  }

  function cleanTags(tags: string[]): string[] {
    return [...new Set(tags.map((t) => t.trim()).filter((t) => t !== ""))];
  }

  async function saveNote<T>(call: () => Promise<T>): Promise<T | null> {
    noteSaving.value = true;
    try {
      return await call();
    } catch (err) {
      noteProblem.value = toProblem(err);
      return null;
    } finally {
      noteSaving.value = false;
    }
  }

  /** Writes a note for the patient whose notes are shown; it goes on top. */
  async function addNote(title: string, content: string, tags: string[]): Promise<Note | null> {
    const id = notesPatientId.value;
    if (!id) return null;
    clearNoteProblem();
    const req = create(AddNoteRequestSchema, { patientId: id, title: title.trim(), content: content.trim(), tags: cleanTags(tags) });
    if (await invalid(AddNoteRequestSchema, req, noteProblem)) return null;
    const res = await saveNote(() => client.addNote(req));
    const note = res?.note;
    if (!note) return null;
    if (!notesTag.value || note.tags.includes(notesTag.value)) notes.value = [note, ...notes.value];
    learnTags([note]);
    return note;
  }

  /**
   * Amends a note; the server keeps the earlier text in its revisions.
   * Aborted (noteProblem) when someone amended it since it was loaded.
   */
  async function amendNote(note: Note, title: string, content: string, tags: string[]): Promise<Note | null> {
    clearNoteProblem();
    const req = create(AmendNoteRequestSchema, {
      noteId: note.id,
      title: title.trim(),
      content: content.trim(),
      tags: cleanTags(tags),
      version: note.version,
    });
    if (await invalid(AmendNoteRequestSchema, req, noteProblem)) return null;
    const res = await saveNote(() => client.amendNote(req));
    const amended = res?.note;
    if (!amended) return null;
    notes.value = notes.value.map((n) => (n.id === amended.id ? amended : n));
    learnTags([amended]);
    return amended;
  }

  /** Removes a note with a reason; it stays listed (marked) only while removed notes are included. */
  async function removeNote(note: Note, reason: string): Promise<boolean> {
    clearNoteProblem();
    const req = create(RemoveNoteRequestSchema, { noteId: note.id, reason: reason.trim() });
    if (await invalid(RemoveNoteRequestSchema, req, noteProblem)) return false;
    const res = await saveNote(() => client.removeNote(req));
    if (res === null) return false;
    notes.value = includeRemoved.value
      ? notes.value.map((n) => (n.id === note.id ? { ...n, removed: true, removedReason: reason.trim() } : n))
      : notes.value.filter((n) => n.id !== note.id);
    return true;
  }

  // Clinical data never outlives the session it was loaded in.
  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now === before) return;
      chartGeneration++;
      notesGeneration++;
      loading.value = false;
      notesLoading.value = false;
      notesLoadingMore.value = false;
      patientId.value = null;
      entries.value = [];
      changeTimes.value = [];
      changes.value = [];
      revision.value = 0n;
      asOf.value = null;
      loaded.value = false;
      notesPatientId.value = null;
      notes.value = [];
      notesNextPageToken.value = "";
      knownTags.value = [];
      notesLoaded.value = false;
    },
  );

  return {
    patientId,
    entries,
    revision,
    changeTimes,
    changes,
    asOf,
    past,
    loaded,
    loading,
    loadProblem,
    load,
    procedures,
    activeProcedures,
    procedureByCode,
    catalogLoaded,
    catalogLoading,
    catalogProblem,
    loadCatalog,
    saving,
    saveProblem,
    clearSaveProblem,
    addEntry,
    setStatus,
    removeEntry,
    notesPatientId,
    notes,
    notesNextPageToken,
    notesTag,
    includeRemoved,
    notesLoaded,
    notesLoading,
    notesLoadingMore,
    notesProblem,
    knownTags,
    loadNotes,
    moreNotes,
    noteSaving,
    noteProblem,
    clearNoteProblem,
    addNote,
    amendNote,
    removeNote,
  };
});
