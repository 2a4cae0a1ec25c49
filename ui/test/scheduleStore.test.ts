import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import {
  AppointmentSchema,
  AppointmentStatus,
  BlockoutSchema,
  ScheduleService,
  WatchScheduleResponseSchema,
  type Appointment,
  type Blockout,
  type MoveAppointmentRequest,
  type SetAppointmentStatusRequest,
  type WatchScheduleRequest,
  type WatchScheduleResponse,
} from "../src/gen/molar/v1/schedule_pb";
import { reconnectDelay, startOf, useScheduleStore } from "../src/stores/schedule";
import { movedStart, nudged, resizedMinutes, rowAt, assignLanes, hoursOn, gridBounds } from "../src/components/schedule/layout";
import { ruleLine } from "../src/components/schedule/problemText";
import { ProblemReason, ProblemSchema, ResourceKind } from "../src/gen/molar/v1/problem_pb";
import { instantAt, zoned, mondayOf, addDays } from "../src/components/schedule/time";
import { piniaWith, until } from "./helpers";
import { savedClinic } from "./fixtures";

/** An instant given as Seoul wall-clock time. */
function seoul(date: string, time: string): Date {
  return new Date(`${date}T${time}:00+09:00`);
}

function appt(id: string, date: string, time: string, o: Partial<Omit<Appointment, "$typeName">> = {}): Appointment {
  return create(AppointmentSchema, {
    id,
    patientId: `p-${id}`,
    patientName: `환자${id}`,
    chartNumber: 100n,
    providerId: "dr-kim",
    chairId: "chair-1",
    startTime: timestampFromDate(seoul(date, time)),
    minutes: 30,
    typeId: "checkup",
    status: AppointmentStatus.BOOKED,
    version: 1n,
    revision: 1n,
    ...o,
  });
}

function block(id: string, date: string, time: string, o: Partial<Omit<Blockout, "$typeName">> = {}): Blockout {
  return create(BlockoutSchema, { id, providerId: "dr-kim", startTime: timestampFromDate(seoul(date, time)), minutes: 60, reason: "점심", ...o });
}

const snapshot = (revision: bigint, appointments: Appointment[], blockouts: Blockout[] = []): WatchScheduleResponse =>
  create(WatchScheduleResponseSchema, { revision, event: { case: "snapshot", value: { appointments, blockouts, revision } } });
const changed = (revision: bigint, a: Appointment): WatchScheduleResponse =>
  create(WatchScheduleResponseSchema, { revision, event: { case: "appointment", value: { ...a, revision } } });
const blockChanged = (revision: bigint, b: Blockout): WatchScheduleResponse =>
  create(WatchScheduleResponseSchema, { revision, event: { case: "blockout", value: { ...b, revision } } });
const heartbeat = (revision: bigint): WatchScheduleResponse =>
  create(WatchScheduleResponseSchema, { revision, event: { case: "heartbeat", value: true } });

/** Resolves when the call is cancelled: the stream stays open until then. */
function hold(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener("abort", () => resolve());
  });
}

type Watch = (req: WatchScheduleRequest, ctx: HandlerContext) => AsyncIterable<WatchScheduleResponse>;

interface Fake {
  watch?: Watch;
  move?: (req: MoveAppointmentRequest) => Appointment;
  status?: (req: SetAppointmentStatusRequest) => Appointment;
}

function server(f: Fake) {
  return createRouterTransport(({ service }) => {
    service(ScheduleService, {
      watchSchedule: f.watch ?? (async function* () {}),
      moveAppointment: (req) => ({ appointment: f.move?.(req) }),
      setAppointmentStatus: (req) => ({ appointment: f.status?.(req) }),
    });
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe("schedule store: the live book", () => {
  it("applies the snapshot, then each change, and drops what moved out of the range", async () => {
    const day = "2025-03-03";
    let req: WatchScheduleRequest | undefined;
    piniaWith(
      server({
        watch: async function* (r, ctx) {
          req = r;
          yield snapshot(5n, [appt("a1", day, "10:00"), appt("a2", day, "11:00")], [block("b1", day, "13:00")]);
          yield changed(6n, appt("a1", day, "10:30", { minutes: 45, version: 2n }));
          yield changed(7n, appt("a2", "2025-03-05", "11:00", { version: 2n })); // moved to another day
          yield blockChanged(8n, block("b1", day, "13:00", { deleted: true }));
          yield changed(9n, appt("a3", day, "15:00"));
          yield heartbeat(9n);
          await hold(ctx);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange(day, day);
    await until(() => store.revision === 9n && store.live === "live", "changes applied");

    expect(req?.startDate).toBe(day);
    expect(req?.endDate).toBe(day);
    expect(req?.sinceRevision).toBe(0n);
    expect([...store.appointments.keys()].sort()).toEqual(["a1", "a3"]);
    const a1 = store.appointments.get("a1")!;
    expect(a1.minutes).toBe(45);
    expect(zoned(startOf(a1), "Asia/Seoul").minutes).toBe(10 * 60 + 30);
    expect(store.blockouts.size).toBe(0);
    expect(store.loaded).toBe(true);
    store.stopWatching();
  });

  it("resumes from the last revision received and never applies a revision twice", async () => {
    const day = "2025-03-03";
    const since: bigint[] = [];
    piniaWith(
      server({
        watch: async function* (r, ctx) {
          since.push(r.sinceRevision);
          if (since.length === 1) {
            yield snapshot(5n, [appt("a1", day, "10:00")]);
            yield changed(6n, appt("a1", day, "10:00", { minutes: 40, version: 2n }));
            throw new ConnectError("connection reset", Code.Unavailable);
          }
          // The server repeats what the client has; the client must not apply it again.
          yield changed(6n, appt("a1", day, "10:00", { minutes: 99, version: 2n }));
          yield changed(7n, appt("a2", day, "12:00"));
          await hold(ctx);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange(day, day);
    await until(() => store.revision === 7n, "resumed stream");
    expect(since).toEqual([0n, 6n]);
    expect(store.appointments.get("a1")?.minutes).toBe(40);
    expect(store.appointments.has("a2")).toBe(true);
    expect(store.live).toBe("live");
    store.stopWatching();
  });

  it("starts again from a snapshot when the range changes, and stops the old stream", async () => {
    const ranges: string[] = [];
    const aborted: string[] = [];
    piniaWith(
      server({
        watch: async function* (r, ctx) {
          ranges.push(`${r.startDate}..${r.endDate}@${r.sinceRevision}`);
          ctx.signal.addEventListener("abort", () => aborted.push(r.startDate));
          yield snapshot(10n, [appt(`x-${r.startDate}`, r.startDate, "10:00")]);
          await hold(ctx);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange("2025-03-03", "2025-03-03");
    await until(() => store.appointments.has("x-2025-03-03"), "first day");
    store.watchRange("2025-03-03", "2025-03-09");
    await until(() => ranges.length === 2 && store.loaded, "week");
    expect(ranges).toEqual(["2025-03-03..2025-03-03@0", "2025-03-03..2025-03-09@0"]);
    await until(() => aborted.length === 1, "old stream cancelled");
    store.stopWatching();
    await until(() => aborted.length === 2, "stream cancelled on leave");
  });

  it("resumes from its revision when the screen comes back to the same range", async () => {
    const since: bigint[] = [];
    piniaWith(
      server({
        watch: async function* (r, ctx) {
          since.push(r.sinceRevision);
          if (r.sinceRevision === 0n) yield snapshot(12n, [appt("a1", "2025-03-03", "10:00")]);
          else yield heartbeat(r.sinceRevision);
          await hold(ctx);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange("2025-03-03", "2025-03-03");
    await until(() => store.loaded && store.live === "live", "first visit");
    store.stopWatching();
    expect(store.live).toBe("offline");
    store.watchRange("2025-03-03", "2025-03-03");
    await until(() => since.length === 2 && store.live === "live", "second visit");
    expect(since).toEqual([0n, 12n]);
    expect(store.appointments.has("a1")).toBe(true);
    store.stopWatching();
  });

  it("reconnects with exponential back-off after errors, and resets it after a success", async () => {
    vi.useFakeTimers();
    let calls = 0;
    let succeedOnCall = 0;
    piniaWith(
      server({
        watch: async function* (_r, ctx) {
          calls++;
          if (calls === succeedOnCall) {
            yield heartbeat(3n);
          }
          if (ctx.signal.aborted) return;
          throw new ConnectError("down", Code.Unavailable);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange("2025-03-03", "2025-03-03");
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    expect(store.live).toBe("offline");
    expect(store.streamProblem?.code).toBe(Code.Unavailable);

    // 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s at most.
    const waits = [500, 1000, 2000, 4000, 8000, 10_000, 10_000];
    for (const [i, wait] of waits.entries()) {
      expect(store.retryDelay).toBe(wait);
      await vi.advanceTimersByTimeAsync(wait - 1);
      expect(calls).toBe(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(i + 2);
    }
    expect(reconnectDelay.max).toBe(10_000);

    // A connection that delivers a message resets the wait.
    succeedOnCall = calls + 1;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(succeedOnCall);
    expect(store.revision).toBe(3n);
    expect(store.retryDelay).toBe(500);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(succeedOnCall + 1);

    store.stopWatching();
    const after = calls;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(after);
  });
});

describe("schedule store: actions", () => {
  const day = "2025-03-03";

  function liveBook(f: Omit<Fake, "watch">, appointments: Appointment[]) {
    piniaWith(
      server({
        ...f,
        watch: async function* (_r, ctx) {
          yield snapshot(5n, appointments);
          await hold(ctx);
        },
      }),
    );
    const store = useScheduleStore();
    store.watchRange(day, day);
    return store;
  }

  it("moves at once, sends the version, and keeps the server's answer", async () => {
    let sent: MoveAppointmentRequest | undefined;
    const store = liveBook(
      {
        move: (req) => {
          sent = req;
          return appt("a1", day, "11:00", { providerId: req.providerId, minutes: req.minutes, version: 4n, revision: 6n });
        },
      },
      [appt("a1", day, "10:00", { version: 3n })],
    );
    await until(() => store.loaded, "book");
    const moving = store.move("a1", { providerId: "dr-park", chairId: "chair-1", start: seoul(day, "11:00"), minutes: 40 });
    // Before the server answers, the book already shows the new place.
    expect(store.appointments.get("a1")?.providerId).toBe("dr-park");
    expect(zoned(startOf(store.appointments.get("a1")!), "Asia/Seoul").minutes).toBe(11 * 60);
    expect(await moving).toBe(true);
    expect(sent?.version).toBe(3n);
    expect(sent?.minutes).toBe(40);
    expect(startOf({ startTime: sent?.startTime }).toISOString()).toBe("2025-03-03T02:00:00.000Z");
    expect(store.appointments.get("a1")?.version).toBe(4n);
    store.stopWatching();
  });

  it("puts the appointment back when the move is refused", async () => {
    const store = liveBook(
      {
        move: () => {
          throw new ConnectError("chair chair-1 is already booked", Code.AlreadyExists, undefined, [
            {
              desc: ProblemSchema,
              value: {
                reason: ProblemReason.SLOT_TAKEN,
                resourceKind: ResourceKind.CHAIR,
                resourceId: "chair-1",
                resourceName: "1번 체어",
                time: timestampFromDate(seoul(day, "11:00")),
                subjectId: "a2",
                chartNumber: 7n,
              },
            },
          ]);
        },
      },
      [appt("a1", day, "10:00", { version: 3n })],
    );
    await until(() => store.loaded, "book");
    const moving = store.move("a1", { providerId: "dr-kim", chairId: "chair-1", start: seoul(day, "11:00"), minutes: 30 });
    expect(zoned(startOf(store.appointments.get("a1")!), "Asia/Seoul").minutes).toBe(11 * 60);
    expect(await moving).toBe(false);
    expect(zoned(startOf(store.appointments.get("a1")!), "Asia/Seoul").minutes).toBe(10 * 60);
    expect(store.appointments.get("a1")?.version).toBe(3n);
    expect(store.actionProblem?.code).toBe(Code.AlreadyExists);
    expect(store.actionProblem?.rule?.reason).toBe(ProblemReason.SLOT_TAKEN);
  });

  it("changes the status with the appointment's version and a reason for cancelling", async () => {
    const sent: SetAppointmentStatusRequest[] = [];
    const store = liveBook(
      {
        status: (req) => {
          sent.push(req);
          return appt("a1", day, "10:00", { status: req.status, version: req.version + 1n, revision: 5n + BigInt(sent.length) });
        },
      },
      [appt("a1", day, "10:00", { version: 3n, status: AppointmentStatus.CONFIRMED })],
    );
    await until(() => store.loaded, "book");
    expect(await store.setStatus("a1", AppointmentStatus.ARRIVED)).toBe(true);
    expect(store.appointments.get("a1")?.status).toBe(AppointmentStatus.ARRIVED);
    expect(await store.setStatus("a1", AppointmentStatus.CANCELLED, "  환자 요청 ")).toBe(true);
    expect(sent.map((r) => [r.id, r.status, r.version, r.reason])).toEqual([
      ["a1", AppointmentStatus.ARRIVED, 3n, ""],
      ["a1", AppointmentStatus.CANCELLED, 4n, "환자 요청"],
    ]);
  });

  it("flags overlaps in the same provider or chair, but not with cancelled visits", async () => {
    const store = liveBook({}, [
      appt("a1", day, "10:00"),
      appt("a2", day, "11:00", { providerId: "dr-park", chairId: "chair-2", status: AppointmentStatus.CANCELLED }),
      appt("a3", day, "12:00", { providerId: "dr-park", chairId: "chair-2" }),
    ]);
    await until(() => store.loaded, "book");
    const at = (time: string, providerId: string, chairId: string, id?: string) =>
      store.clashesWith({ id, providerId, chairId, start: seoul(day, time), minutes: 30 }).map((c) => (c.kind === "blockout" ? c.kind : `${c.kind}:${c.appointment.id}`));
    expect(at("10:15", "dr-kim", "chair-9")).toEqual(["provider:a1"]);
    expect(at("10:15", "dr-lee", "chair-1")).toEqual(["chair:a1"]);
    expect(at("10:30", "dr-kim", "chair-1")).toEqual([]);
    expect(at("10:00", "dr-kim", "chair-1", "a1")).toEqual([]);
    expect(at("11:00", "dr-park", "chair-2")).toEqual([]);
    expect(at("12:20", "dr-park", "chair-2")).toEqual(["provider:a3"]);
    store.stopWatching();
  });
});

describe("schedule helpers", () => {
  it("snaps a drag to the 5-minute grid", () => {
    // Rows of 10 px from 09:00 (540); a 30-minute visit grabbed by its second row.
    expect(rowAt(1000 + 125, 1000, 10, 108)).toBe(12); // 10:00
    expect(movedStart(12 + 6, 1, 540, 1080, 30)).toBe(540 + 17 * 5); // 10:25
    expect(movedStart(0, 3, 540, 1080, 30)).toBe(540); // not above the grid
    expect(movedStart(107, 0, 540, 1080, 30)).toBe(1050); // not past its end
    expect(resizedMinutes(17, 600, 540)).toBe(30); // pointer over 10:25 → ends 10:30
    expect(resizedMinutes(0, 600, 540)).toBe(5);
  });

  it("moves and resizes by key inside the grid", () => {
    const cols = ["d|a", "d|b"];
    const at = { key: "d|a", start: 1050, minutes: 30 }; // 17:30 in a 09:00–18:00 grid
    expect(nudged(at, "ArrowDown", false, cols, 540, 1080)).toEqual(at); // already at the end
    expect(nudged(at, "ArrowUp", false, cols, 540, 1080)).toEqual({ ...at, start: 1045 });
    expect(nudged(at, "ArrowDown", true, cols, 540, 1080)).toEqual(at); // cannot run past closing
    expect(nudged(at, "ArrowUp", true, cols, 540, 1080)).toEqual({ ...at, minutes: 25 });
    expect(nudged({ ...at, minutes: 5 }, "ArrowUp", true, cols, 540, 1080)).toEqual({ ...at, minutes: 5 });
    expect(nudged(at, "ArrowLeft", false, cols, 540, 1080)).toEqual(at); // first column
    expect(nudged(at, "ArrowRight", false, cols, 540, 1080)).toEqual({ ...at, key: "d|b" });
    expect(nudged({ ...at, start: 540 }, "ArrowUp", false, cols, 540, 1080)).toEqual({ ...at, start: 540 });
    expect(nudged(at, "a", false, cols, 540, 1080)).toBeNull();
  });

  it("works in the clinic's zone whatever the browser's", () => {
    const at = instantAt("2025-03-03", 10 * 60, "Asia/Seoul");
    expect(at.toISOString()).toBe("2025-03-03T01:00:00.000Z");
    expect(zoned(new Date("2025-03-03T15:30:00Z"), "Asia/Seoul")).toEqual({ date: "2025-03-04", minutes: 30, weekday: 2 });
    expect(mondayOf("2025-03-09")).toBe("2025-03-03");
    expect(addDays("2025-02-28", 1)).toBe("2025-03-01");
  });

  it("reads the clinic's hours, lunch and closed days", () => {
    const c = savedClinic({ closedDays: [{ $typeName: "molar.v1.ClosedDay", date: "2025-03-10", reason: "연수" }] });
    expect(hoursOn(c, "2025-03-03")).toEqual({ closed: false, reason: "", open: 540, close: 1080, lunch: { start: 780, end: 840 } });
    expect(hoursOn(c, "2025-03-04").closed).toBe(true);
    expect(hoursOn(c, "2025-03-10")).toMatchObject({ closed: true, reason: "연수" });
    expect(hoursOn(null, "2025-03-04")).toMatchObject({ closed: false, open: 540, close: 1080 });
    expect(gridBounds([hoursOn(c, "2025-03-03")], [{ start: 1075, end: 1105 }])).toEqual({ start: 540, end: 1110 });
  });

  it("puts overlapping visits side by side", () => {
    const a = { start: 600, end: 630 };
    const b = { start: 615, end: 645 };
    const c = { start: 700, end: 730 };
    const lanes = assignLanes([a, b, c]);
    expect(lanes.get(a)).toEqual({ lane: 0, lanes: 2 });
    expect(lanes.get(b)).toEqual({ lane: 1, lanes: 2 });
    expect(lanes.get(c)).toEqual({ lane: 0, lanes: 1 });
  });

  it("says what the server found in the way, by the typed detail", () => {
    const t = (key: string, v?: Record<string, unknown>) => `${key}${v ? JSON.stringify(v) : ""}`;
    const rule = (o: Parameters<typeof create<typeof ProblemSchema>>[1]) => create(ProblemSchema, o);
    expect(
      ruleLine(
        rule({
          reason: ProblemReason.SLOT_TAKEN,
          resourceKind: ResourceKind.CHAIR,
          resourceId: "chair-1",
          resourceName: "1번 체어",
          time: timestampFromDate(seoul("2025-03-03", "10:00")),
          subjectId: "x",
          chartNumber: 101n,
        }),
        t,
        "Asia/Seoul",
      ),
    ).toBe('schedule.conflict.bookedChart{"what":"1번 체어","time":"2025-03-03 10:00","chart":"101"}');
    expect(ruleLine(rule({ reason: ProblemReason.LUNCH_BREAK, windowStart: "13:00", windowEnd: "14:00", overridable: true }), t, "Asia/Seoul")).toBe(
      'schedule.precondition.lunch{"from":"13:00","to":"14:00"}',
    );
    expect(ruleLine(rule({ reason: ProblemReason.BLOCKED, label: "회의", windowStart: "15:00", windowEnd: "16:00" }), t, "Asia/Seoul")).toBe(
      'schedule.precondition.blocked{"reason":"회의","from":"15:00","to":"16:00"}',
    );
    expect(ruleLine(rule({ reason: ProblemReason.STATUS_TRANSITION, state: "BOOKED", wantedState: "COMPLETED" }), t, "Asia/Seoul")).toBe(
      'schedule.precondition.transition{"state":"schedule.status.BOOKED","wanted":"schedule.status.COMPLETED"}',
    );
    expect(ruleLine(rule({ reason: ProblemReason.PAYMENT_EXCEEDS_BALANCE }), t, "Asia/Seoul")).toBeNull();
  });
});
