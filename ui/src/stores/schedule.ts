import { clone } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { defineStore } from "pinia";
import { computed, inject, reactive, ref, shallowReactive, shallowRef, watch } from "vue";
import { toProblem, type Problem } from "../api/errors";
import { transportKey } from "../api/transport";
import { keepLive, type LiveState } from "../api/liveStream";
import { defaultTimeZone } from "../composables/useDateTime";
import { PatientService, type PatientSummary } from "../gen/molar/v1/patient_pb";
import {
  AppointmentSchema,
  AppointmentStatus,
  ScheduleService,
  type Appointment,
  type AppointmentType,
  type Blockout,
  type Chair,
  type FreeSlot,
  type Provider,
  type WatchScheduleResponse,
} from "../gen/molar/v1/schedule_pb";
import { isFinal, releasesTime } from "../components/schedule/status";
import { addDays, overlaps, zoned } from "../components/schedule/time";
import { useAuthStore } from "./auth";
import { useOnline } from "../composables/useOnline";
import { useClinicStore } from "./clinic";

export { reconnectDelay, type LiveState } from "../api/liveStream";

/** A date range of the book, both ends inclusive, "YYYY-MM-DD" in the clinic's zone. */
export interface DateRange {
  start: string;
  end: string;
}

/** Where an appointment would go: for the overlap check before the server answers. */
export interface Placement {
  /** The appointment being moved, which does not clash with itself. */
  id?: string;
  providerId: string;
  chairId: string;
  start: Date;
  minutes: number;
}

/** What is in the way of a placement, as far as this browser knows. */
export type Clash =
  | { kind: "provider" | "chair"; appointment: Appointment }
  | { kind: "blockout"; blockout: Blockout };

/** A booking as the dialog gathers it. */
export interface BookInput {
  patientId: string;
  providerId: string;
  chairId: string;
  start: Date;
  minutes: number;
  typeId: string;
  note: string;
}

/** A blockout as the dialog gathers it: a provider, a chair, or both. */
export interface BlockoutInput {
  providerId: string;
  chairId: string;
  start: Date;
  minutes: number;
  reason: string;
}

/** The start of an appointment or blockout as a Date (the epoch when unset). */
export function startOf(x: { startTime?: Timestamp }): Date {
  return x.startTime ? timestampDate(x.startTime) : new Date(0);
}

/**
 * The appointment book: providers, chairs and visit types, the appointments
 * and blockouts of the range on screen kept live by WatchSchedule, and the
 * actions of the front desk. Appointments are replaced whole by id; the
 * revision of the last message is kept so that a reconnect picks up exactly
 * where the stream stopped.
 */
export const useScheduleStore = defineStore("schedule", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ScheduleService, transport);
  const patientClient = createClient(PatientService, transport);
  const clinicStore = useClinicStore();
  const auth = useAuthStore();

  /** The clinic's zone: dates of the range and times on screen are in it. */
  const timeZone = computed(() => clinicStore.clinic?.timeZone || defaultTimeZone);

  // Resources.
  const providers = shallowRef<Provider[]>([]);
  const chairs = shallowRef<Chair[]>([]);
  const types = shallowRef<AppointmentType[]>([]);
  const resourcesLoaded = ref(false);
  const resourcesLoading = ref(false);
  const resourcesProblem = ref<Problem | null>(null);
  let resourcesInFlight: Promise<void> | null = null;

  const providerById = computed(() => new Map(providers.value.map((p) => [p.id, p])));
  const chairById = computed(() => new Map(chairs.value.map((c) => [c.id, c])));
  const typeById = computed(() => new Map(types.value.map((t) => [t.id, t])));

  /** Loads providers, chairs and types once (again with force). */
  function loadResources(force = false): Promise<void> {
    if (resourcesLoaded.value && !force) return Promise.resolve();
    resourcesInFlight ??= (async () => {
      resourcesLoading.value = true;
      resourcesProblem.value = null;
      try {
        const res = await client.listResources({});
        providers.value = res.providers;
        chairs.value = [...res.chairs].sort((a, b) => a.position - b.position);
        types.value = res.types;
        resourcesLoaded.value = true;
      } catch (err) {
        resourcesProblem.value = toProblem(err);
      } finally {
        resourcesLoading.value = false;
        resourcesInFlight = null;
      }
    })();
    return resourcesInFlight;
  }

  // The book of the range on screen.
  const range = ref<DateRange | null>(null);
  const appointments = shallowReactive(new Map<string, Appointment>());
  const blockouts = shallowReactive(new Map<string, Blockout>());
  const revision = ref(0n);
  /** Whether the range's first snapshot has arrived. */
  const loaded = ref(false);
  const live = ref<LiveState>("offline");
  /** Why the stream last failed, while it is down. */
  const streamProblem = ref<Problem | null>(null);
  /** Milliseconds until the next reconnection attempt, while offline. */
  const retryDelay = ref(0);
  let watching: AbortController | null = null;

  const appointmentList = computed(() => [...appointments.values()]);
  const blockoutList = computed(() => [...blockouts.values()]);

  function inRange(at: Date): boolean {
    const r = range.value;
    if (!r) return false;
    const d = zoned(at, timeZone.value).date;
    return d >= r.start && d <= r.end;
  }

  /**
   * Puts a newer state of an appointment into the book, or drops it when it
   * left the range. A state older than the one held (a late answer racing the
   * stream) is ignored.
   */
  function putAppointment(a: Appointment): void {
    const cur = appointments.get(a.id);
    if (cur && cur.revision > a.revision) return;
    if (inRange(startOf(a))) appointments.set(a.id, a);
    else appointments.delete(a.id);
  }

  function putBlockout(b: Blockout): void {
    if (b.deleted || !inRange(startOf(b))) blockouts.delete(b.id);
    else blockouts.set(b.id, b);
  }

  /**
   * Applies one message of the stream. A snapshot replaces everything; a
   * change at or below the revision already applied is skipped, so a message
   * seen twice (around a reconnect) never counts twice.
   */
  function apply(msg: WatchScheduleResponse): void {
    const ev = msg.event;
    if (ev.case === "snapshot") {
      appointments.clear();
      blockouts.clear();
      for (const a of ev.value.appointments) putAppointment(a);
      for (const b of ev.value.blockouts) putBlockout(b);
      revision.value = msg.revision;
      loaded.value = true;
      return;
    }
    if (msg.revision <= revision.value) return;
    if (ev.case === "appointment") putAppointment(ev.value);
    else if (ev.case === "blockout") putBlockout(ev.value);
    revision.value = msg.revision;
  }

  function watchLoop(r: DateRange, signal: AbortSignal): Promise<void> {
    return keepLive(
      {
        open: () => client.watchSchedule({ startDate: r.start, endDate: r.end, sinceRevision: revision.value }, { signal }),
        receive: apply,
        live,
        problem: streamProblem,
        retryDelay,
        refresh: auth.refreshOnce,
      },
      signal,
    );
  }

  /**
   * Shows the range start..end (inclusive) and keeps it live until another
   * range is chosen or stopWatching is called. Choosing the range already
   * shown keeps the stream, or resumes it from the last revision.
   */
  function watchRange(start: string, end: string): void {
    const same = range.value?.start === start && range.value.end === end;
    if (same && watching) return;
    if (same && loaded.value) {
      // Back on the range last shown: resume from its revision.
      const ctrl = new AbortController();
      watching = ctrl;
      void watchLoop({ start, end }, ctrl.signal);
      return;
    }
    stopWatching();
    range.value = { start, end };
    appointments.clear();
    blockouts.clear();
    revision.value = 0n;
    loaded.value = false;
    streamProblem.value = null;
    const ctrl = new AbortController();
    watching = ctrl;
    void watchLoop({ start, end }, ctrl.signal);
  }

  /** Ends the live stream (the screen was left). The book is kept until another range is chosen. */
  function stopWatching(): void {
    watching?.abort();
    watching = null;
    live.value = "offline";
    retryDelay.value = 0;
  }

  /** Reconnects now instead of waiting out the back-off. */
  // The browser knows at once when the network goes: the book says so
  // instead of looking live, and picks up again as soon as it is back.
  const online = useOnline();
  watch(online, (up) => {
    if (!range.value) return;
    if (!up) {
      watching?.abort();
      live.value = "offline";
      return;
    }
    reconnect();
  });

  function reconnect(): void {
    const r = range.value;
    if (!r) return;
    watching?.abort();
    const ctrl = new AbortController();
    watching = ctrl;
    void watchLoop(r, ctrl.signal);
  }

  /** Appointments and blockouts in the way of p, as far as the book on screen shows. */
  function clashesWith(p: Placement): Clash[] {
    const start = p.start.getTime();
    const out: Clash[] = [];
    for (const a of appointments.values()) {
      if (a.id === p.id || releasesTime(a.status)) continue;
      if (!overlaps(start, p.minutes, startOf(a).getTime(), a.minutes)) continue;
      if (a.providerId === p.providerId) out.push({ kind: "provider", appointment: a });
      else if (a.chairId === p.chairId) out.push({ kind: "chair", appointment: a });
    }
    for (const b of blockouts.values()) {
      const mine = (b.providerId !== "" && b.providerId === p.providerId) || (b.chairId !== "" && b.chairId === p.chairId);
      if (!mine) continue;
      if (overlaps(start, p.minutes, startOf(b).getTime(), b.minutes)) out.push({ kind: "blockout", blockout: b });
    }
    return out;
  }

  // Actions.
  /** Appointments with a change in flight, for spinners on their buttons. */
  const busy = reactive(new Set<string>());
  /** Why the last move, resize, status change or blockout change failed. */
  const actionProblem = ref<Problem | null>(null);
  const booking = ref(false);
  const bookProblem = ref<Problem | null>(null);

  /** Books an appointment; returns it, or null with bookProblem saying why. */
  async function book(input: BookInput): Promise<Appointment | null> {
    booking.value = true;
    bookProblem.value = null;
    try {
      const res = await client.bookAppointment({
        patientId: input.patientId,
        providerId: input.providerId,
        chairId: input.chairId,
        startTime: timestampFromDate(input.start),
        minutes: input.minutes,
        typeId: input.typeId,
        note: input.note.trim(),
      });
      if (res.appointment) putAppointment(res.appointment);
      return res.appointment ?? null;
    } catch (err) {
      bookProblem.value = toProblem(err);
      return null;
    } finally {
      booking.value = false;
    }
  }

  function clearBookProblem(): void {
    bookProblem.value = null;
  }

  /**
   * Moves and/or resizes an appointment. The book shows the new place at
   * once; if the server refuses, the appointment goes back where it was
   * (unless the stream has meanwhile brought a newer state) and
   * actionProblem says why.
   */
  async function move(id: string, to: Omit<Placement, "id">): Promise<boolean> {
    const before = appointments.get(id);
    if (!before) return false;
    const moved = clone(AppointmentSchema, before);
    moved.providerId = to.providerId;
    moved.chairId = to.chairId;
    moved.startTime = timestampFromDate(to.start);
    moved.minutes = to.minutes;
    appointments.set(id, moved);
    busy.add(id);
    actionProblem.value = null;
    try {
      const res = await client.moveAppointment({
        id,
        providerId: to.providerId,
        chairId: to.chairId,
        startTime: timestampFromDate(to.start),
        minutes: to.minutes,
        version: before.version,
      });
      if (res.appointment) {
        if (appointments.get(id) === moved) appointments.delete(id);
        putAppointment(res.appointment);
      }
      return true;
    } catch (err) {
      if (appointments.get(id) === moved) appointments.set(id, before);
      actionProblem.value = toProblem(err);
      return false;
    } finally {
      busy.delete(id);
    }
  }

  /** Confirms, checks in, seats, completes, cancels (with a reason) or marks a no-show. */
  async function setStatus(id: string, status: AppointmentStatus, reason = ""): Promise<boolean> {
    const cur = appointments.get(id);
    if (!cur) return false;
    busy.add(id);
    actionProblem.value = null;
    try {
      const res = await client.setAppointmentStatus({ id, status, reason: reason.trim(), version: cur.version });
      if (res.appointment) putAppointment(res.appointment);
      return true;
    } catch (err) {
      actionProblem.value = toProblem(err);
      return false;
    } finally {
      busy.delete(id);
    }
  }

  /** Blocks time on a provider and/or a chair. */
  async function createBlockout(input: BlockoutInput): Promise<boolean> {
    actionProblem.value = null;
    try {
      const res = await client.createBlockout({
        providerId: input.providerId,
        chairId: input.chairId,
        startTime: timestampFromDate(input.start),
        minutes: input.minutes,
        reason: input.reason.trim(),
      });
      if (res.blockout) putBlockout(res.blockout);
      return true;
    } catch (err) {
      actionProblem.value = toProblem(err);
      return false;
    }
  }

  /** Removes a blockout. */
  async function deleteBlockout(id: string): Promise<boolean> {
    actionProblem.value = null;
    try {
      await client.deleteBlockout({ id });
      blockouts.delete(id);
      return true;
    } catch (err) {
      actionProblem.value = toProblem(err);
      return false;
    }
  }

  function clearActionProblem(): void {
    actionProblem.value = null;
  }

  /**
   * The appointments still to be kept on the given dates (not completed,
   * cancelled or missed): what closing those days leaves stranded.
   */
  async function heldOn(dates: readonly string[]): Promise<Appointment[]> {
    const out: Appointment[] = [];
    for (const d of new Set(dates)) {
      const res = await client.listSchedule({ startDate: d, endDate: d });
      out.push(...res.appointments.filter((a) => !isFinal(a.status)));
    }
    return out;
  }

  // Free slots, for the booking dialog.
  const freeSlots = shallowRef<FreeSlot[]>([]);
  const findingSlots = ref(false);
  const slotsProblem = ref<Problem | null>(null);

  /**
   * Finds free starts for a provider in the two weeks from fromDate: the
   * first of each morning and afternoon, or with spread false every one.
   */
  async function findFreeSlots(providerId: string, minutes: number, fromDate: string, limit = 6, spread = true): Promise<FreeSlot[]> {
    findingSlots.value = true;
    slotsProblem.value = null;
    try {
      const res = await client.findFreeSlots({ providerId, minutes, startDate: fromDate, endDate: addDays(fromDate, 13), limit, spread });
      freeSlots.value = res.slots;
    } catch (err) {
      freeSlots.value = [];
      slotsProblem.value = toProblem(err);
    } finally {
      findingSlots.value = false;
    }
    return freeSlots.value;
  }

  function clearFreeSlots(): void {
    freeSlots.value = [];
    slotsProblem.value = null;
  }

  // Patient search, for the booking dialog. Answers can come back in any
  // order: only the latest search's answer is shown.
  const patientResults = shallowRef<PatientSummary[]>([]);
  const searchingPatients = ref(false);
  const patientSearchProblem = ref<Problem | null>(null);
  let searchGeneration = 0;

  async function searchPatients(query: string): Promise<void> {
    const mine = ++searchGeneration;
    searchingPatients.value = true;
    patientSearchProblem.value = null;
    try {
      const res = await patientClient.searchPatients({ query: query.trim(), pageSize: 8 });
      if (mine === searchGeneration) patientResults.value = res.patients;
    } catch (err) {
      if (mine === searchGeneration) {
        patientResults.value = [];
        patientSearchProblem.value = toProblem(err);
      }
    } finally {
      if (mine === searchGeneration) searchingPatients.value = false;
    }
  }

  function clearPatientSearch(): void {
    searchGeneration++;
    patientResults.value = [];
    searchingPatients.value = false;
    patientSearchProblem.value = null;
  }

  return {
    timeZone,
    providers,
    chairs,
    types,
    providerById,
    chairById,
    typeById,
    resourcesLoaded,
    resourcesLoading,
    resourcesProblem,
    loadResources,
    range,
    appointments,
    blockouts,
    appointmentList,
    blockoutList,
    revision,
    loaded,
    live,
    streamProblem,
    retryDelay,
    watchRange,
    stopWatching,
    reconnect,
    clashesWith,
    busy,
    actionProblem,
    booking,
    bookProblem,
    book,
    clearBookProblem,
    move,
    setStatus,
    createBlockout,
    deleteBlockout,
    clearActionProblem,
    heldOn,
    freeSlots,
    findingSlots,
    slotsProblem,
    findFreeSlots,
    clearFreeSlots,
    patientResults,
    searchingPatients,
    patientSearchProblem,
    searchPatients,
    clearPatientSearch,
  };
});

/** A patient's visits, for the visits tab of the patient card. */
export const usePatientVisitsStore = defineStore("patientVisits", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(ScheduleService, transport);

  const patientId = ref("");
  const upcoming = shallowRef<Appointment[]>([]);
  const past = shallowRef<Appointment[]>([]);
  const loading = ref(false);
  const problem = ref<Problem | null>(null);
  let generation = 0;

  /** Loads the visits of a patient (the card may switch patients while a load runs). */
  async function load(id: string): Promise<void> {
    const mine = ++generation;
    if (patientId.value !== id) {
      upcoming.value = [];
      past.value = [];
    }
    patientId.value = id;
    loading.value = true;
    problem.value = null;
    try {
      const res = await client.listPatientAppointments({ patientId: id });
      if (mine !== generation) return;
      upcoming.value = res.upcoming;
      past.value = res.past;
    } catch (err) {
      if (mine === generation) problem.value = toProblem(err);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  return { patientId, upcoming, past, loading, problem, load };
});
