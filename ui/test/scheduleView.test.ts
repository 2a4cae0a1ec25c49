import { afterEach, describe, expect, it } from "vitest";
import { nextTick } from "vue";
import { mount, type VueWrapper } from "@vue/test-utils";
import { createMemoryHistory, createRouter } from "vue-router";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type HandlerContext, type Transport } from "@connectrpc/connect";
import {
  AppointmentSchema,
  AppointmentStatus,
  ScheduleService,
  type Appointment,
  type BookAppointmentRequest,
  type FindFreeSlotsRequest,
  type MoveAppointmentRequest,
  type SetAppointmentStatusRequest,
} from "../src/gen/molar/v1/schedule_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { PatientService, PatientSummarySchema, Sex } from "../src/gen/molar/v1/patient_pb";
import { Permission, Role } from "../src/gen/molar/v1/access_pb";
import { transportKey } from "../src/api/transport";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { scheduleEn, scheduleKo } from "../src/i18n/schedule";
import { ProblemReason, ProblemSchema, ResourceKind } from "../src/gen/molar/v1/problem_pb";
import { scheduleRoutes } from "../src/router/schedule";
import { useAuthStore } from "../src/stores/auth";
import { firstFree, todayIn } from "../src/components/schedule/time";
import ScheduleView from "../src/views/schedule/ScheduleView.vue";
import PatientVisits from "../src/components/schedule/PatientVisits.vue";
import { buttonByText, inputByLabel, piniaWith, type, until } from "./helpers";
import { meFor } from "./authServer";
import { savedClinic } from "./fixtures";

const day = "2030-03-04"; // a Monday: 09:00–18:00, lunch 13:00–14:00 in the fixture clinic

function seoul(date: string, time: string): Date {
  return new Date(`${date}T${time}:00+09:00`);
}

function appt(id: string, time: string, o: Partial<Omit<Appointment, "$typeName">> = {}, date = day): Appointment {
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

interface Handlers {
  book?: (req: BookAppointmentRequest) => Promise<Appointment> | Appointment;
  move?: (req: MoveAppointmentRequest) => Promise<Appointment> | Appointment;
  status?: (req: SetAppointmentStatusRequest) => Appointment;
  free?: (req: FindFreeSlotsRequest) => { startTime: ReturnType<typeof timestampFromDate>; chairId: string }[];
  visits?: { upcoming: Appointment[]; past: Appointment[] };
}

function hold(ctx: HandlerContext): Promise<void> {
  return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
}

function server(book: Appointment[], h: Handlers = {}, clinic = savedClinic()): Transport {
  return createRouterTransport(({ service }) => {
    service(ScheduleService, {
      listResources: () => ({
        providers: [
          { id: "dr-kim", name: "김하늘 원장", color: "#1e88e5", active: true },
          { id: "dr-park", name: "박서준 원장", color: "#43a047", active: true },
        ],
        chairs: [
          { id: "chair-1", name: "1번 체어", position: 1, active: true },
          { id: "chair-2", name: "2번 체어", position: 2, active: true },
        ],
        types: [{ id: "checkup", nameKo: "정기검진", nameEn: "Check-up", defaultMinutes: 30, color: "#64b5f6", active: true }],
      }),
      watchSchedule: async function* (_req, ctx) {
        yield { revision: 5n, event: { case: "snapshot", value: { appointments: book, blockouts: [], revision: 5n } } };
        await hold(ctx);
      },
      bookAppointment: async (req) => ({ appointment: await h.book?.(req) }),
      moveAppointment: async (req) => ({ appointment: await h.move?.(req) }),
      setAppointmentStatus: (req) => ({ appointment: h.status?.(req) }),
      findFreeSlots: (req) => ({ slots: h.free?.(req) ?? [] }),
      listPatientAppointments: () => h.visits ?? { upcoming: [], past: [] },
    });
    service(ClinicService, { getClinic: () => ({ clinic }) });
    service(PatientService, {
      getPatient: (req) => ({
        patient: { id: req.id, chartNumber: 100n, details: { name: `환자${req.id.slice(2)}`, mobilePhone: req.id === "p-quiet" ? "" : "01012345678" }, active: true },
      }),
      searchPatients: () => ({
        patients: [
          create(PatientSummarySchema, { id: "p-1", chartNumber: 101n, name: "김민수", sex: Sex.MALE, birthDate: "1990-01-01", phoneTail: "5678", active: true }),
          create(PatientSummarySchema, { id: "p-2", chartNumber: 102n, name: "김민지", sex: Sex.FEMALE, birthDate: "1992-02-02", phoneTail: "1111", active: true }),
        ],
      }),
    });
  });
}

let mounted: VueWrapper | null = null;
afterEach(() => {
  mounted?.unmount();
  mounted = null;
  document.body.innerHTML = "";
});

async function mountSchedule(transport: Transport, opts: { path?: string; permissions?: Permission[]; component?: unknown; props?: object } = {}) {
  const pinia = piniaWith(transport);
  const me = meFor([Role.ADMIN]);
  if (opts.permissions) me.permissions = opts.permissions;
  useAuthStore().me = me;
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [...scheduleRoutes, { path: "/:rest(.*)*", component: { render: () => null } }],
  });
  await router.push(opts.path ?? `/schedule?date=${day}`);
  await router.isReady();
  const i18n = createAppI18n("ko");
  i18n.global.mergeLocaleMessage("ko", { schedule: scheduleKo });
  i18n.global.mergeLocaleMessage("en", { schedule: scheduleEn });
  const wrapper = mount((opts.component ?? ScheduleView) as typeof ScheduleView, {
    attachTo: document.body,
    props: opts.props,
    global: {
      plugins: [pinia, i18n, router, createAppVuetify("ko")],
      provide: { [transportKey as symbol]: transport },
    },
  });
  mounted = wrapper;
  return { wrapper, router };
}

const q = <T extends Element = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const block = (id: string) => q(`[data-appointment-id="${id}"].appt`);
const cell = (column: string, time: string) => q(`.cell[data-column="${column}"][data-time="${time}"]`);

/** Whether the dialog with this test id is open. */
function shown(testId: string): boolean {
  return q(`[data-testid=${testId}]`)?.closest(".v-overlay")?.classList.contains("v-overlay--active") ?? false;
}

function keydown(el: Element, key: string): void {
  el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
}

/** jsdom lays nothing out: give the day's columns places, 120 px wide, their bodies 100 px from the top. */
function layOutColumns(): void {
  const cols = [...document.querySelectorAll<HTMLElement>("[data-column-body]")];
  cols.forEach((el, i) => {
    const left = 56 + i * 120;
    el.getBoundingClientRect = () => new DOMRect(left, 100, 120, 1080);
  });
}

/** Pointer events as Chromium sends them (jsdom has no PointerEvent; Vue only reads the type and coordinates). */
function pointer(target: EventTarget, kind: "pointerdown" | "pointermove" | "pointerup", x: number, y: number): void {
  target.dispatchEvent(new MouseEvent(kind, { bubbles: true, cancelable: true, clientX: x, clientY: y, button: 0 }));
}

/** The y of the middle of the row at HH:MM, with rows of 10 px from 09:00. */
function yAt(time: string): number {
  const [h = 0, m = 0] = time.split(":").map(Number);
  return 100 + ((h * 60 + m - 540) / 5) * 10 + 5;
}

describe("ScheduleView", () => {
  it("shows the book in Seoul time with the live indicator", async () => {
    await mountSchedule(server([appt("a1", "10:00", { status: AppointmentStatus.CONFIRMED }), appt("a2", "11:00", { providerId: "dr-park" })]));
    await until(() => block("a1") !== null, "appointment block");
    const a1 = block("a1")!;
    expect(a1.dataset.start).toBe("10:00");
    expect(a1.dataset.provider).toBe("dr-kim");
    expect(a1.dataset.chair).toBe("chair-1");
    expect(a1.dataset.status).toBe("CONFIRMED");
    expect(a1.textContent).toContain("환자a1");
    expect(a1.textContent).toContain("#100");
    expect(a1.textContent).toContain("확정");
    expect(cell("dr-kim", "09:00")).not.toBeNull();
    expect(cell("dr-kim", "17:55")).not.toBeNull();
    expect(cell("dr-kim", "18:00")).toBeNull();
    expect(document.querySelector(".shade-lunch")?.textContent).toContain("점심시간");
    await until(() => q("[data-testid=live-status]")?.textContent?.includes("실시간") ?? false, "live");
  });

  it("books from a clicked slot, picking the patient with the keyboard, and shows the server's conflict", async () => {
    const sent: BookAppointmentRequest[] = [];
    const transport = server([], {
      book: (req) => {
        sent.push(req);
        if (sent.length === 1)
          throw new ConnectError("provider dr-kim is already booked", Code.AlreadyExists, undefined, [
            {
              desc: ProblemSchema,
              value: {
                reason: ProblemReason.SLOT_TAKEN,
                resourceKind: ResourceKind.PROVIDER,
                resourceId: "dr-kim",
                resourceName: "김하늘 원장",
                time: timestampFromDate(seoul(day, "10:00")),
                subjectId: "zz",
                chartNumber: 555n,
              },
            },
          ]);
        return appt("new-1", "10:00", { patientId: req.patientId, patientName: "김민지", chartNumber: 102n, revision: 6n });
      },
    });
    await mountSchedule(transport);
    await until(() => cell("dr-kim", "10:00") !== null, "grid");
    cell("dr-kim", "10:00")!.click();
    await until(() => shown("booking-dialog"), "booking dialog");

    const search = inputByLabel("환자");
    type(search, "김");
    await until(() => document.querySelectorAll("[role=option]").length === 2, "patient results");
    keydown(search, "ArrowDown");
    await nextTick();
    expect(document.querySelector("[role=option][aria-selected=true]")?.textContent).toContain("김민지");
    keydown(search, "Enter");
    await until(() => q("[data-testid=picked-patient]")?.textContent?.includes("김민지") ?? false, "patient picked");
    expect(inputByLabel("시작 시간").value).toBe("10:00");
    expect(inputByLabel("날짜", q("[data-testid=booking-dialog]")!).value).toBe(day);

    buttonByText("예약").click();
    await until(() => document.body.textContent!.includes("예약이 겹칩니다"), "conflict");
    expect(document.body.textContent).toContain("김하늘 원장에 이미 2030-03-04 10:00 예약이 있습니다 (차트 #555)");
    expect(sent[0]).toMatchObject({ patientId: "p-2", providerId: "dr-kim", chairId: "chair-1", minutes: 30 });
    expect(timestampDate(sent[0]!.startTime!).toISOString()).toBe("2030-03-04T01:00:00.000Z");

    buttonByText("예약").click();
    await until(() => block("new-1") !== null, "booked appointment on the grid");
    await until(() => !shown("booking-dialog"), "dialog closed");
  });

  it("warns of a clash it can see and finds the next free time", async () => {
    const asked: FindFreeSlotsRequest[] = [];
    await mountSchedule(
      server([appt("a1", "10:00", { chairId: "chair-2" })], {
        free: (req) => {
          asked.push(req);
          return [{ startTime: timestampFromDate(seoul("2030-03-05", "15:30")), chairId: "chair-2" }];
        },
      }),
    );
    await until(() => block("a1") !== null, "grid");
    cell("dr-kim", "10:15")!.click();
    await until(() => q("[data-testid=booking-clash]") !== null, "clash warning");
    expect(q("[data-testid=booking-clash]")!.textContent).toContain("환자a1(#100) 예약과 겹칩니다 10:00–10:30");

    buttonByText("다음 빈 시간 찾기").click();
    await until(() => q("[data-testid=free-slots]") !== null, "free slots");
    expect(asked[0]).toMatchObject({ providerId: "dr-kim", minutes: 30 });
    const chip = [...q("[data-testid=free-slots]")!.querySelectorAll(".v-chip")][0] as HTMLElement;
    expect(chip.textContent).toContain("3월 5일 (화) 15:30 · 2번 체어");
    chip.click();
    await nextTick();
    expect(inputByLabel("시작 시간").value).toBe("15:30");
  });

  it("drags an appointment to another column on the 5-minute grid, flags a clash at once, and rolls back when refused", async () => {
    let sent: MoveAppointmentRequest | undefined;
    let answer!: () => void;
    const answered = new Promise<void>((r) => (answer = r));
    await mountSchedule(
      server([appt("a1", "10:00", { version: 3n }), appt("a2", "11:00", { providerId: "dr-park", chairId: "chair-2" })], {
        move: async (req) => {
          sent = req;
          await answered;
          throw new ConnectError("chair chair-2 is already booked", Code.AlreadyExists, undefined, [
            {
              desc: ProblemSchema,
              value: {
                reason: ProblemReason.SLOT_TAKEN,
                resourceKind: ResourceKind.CHAIR,
                resourceId: "chair-2",
                resourceName: "2번 체어",
                time: timestampFromDate(seoul(day, "11:30")),
              },
            },
          ]);
        },
      }),
    );
    await until(() => block("a1") !== null && block("a2") !== null, "grid");
    layOutColumns();

    // Hold a1 by its top row and carry it over 박서준 원장's column.
    pointer(block("a1")!, "pointerdown", 100, yAt("10:00") - 3);
    pointer(window, "pointermove", 56 + 120 + 60, yAt("11:10"));
    await nextTick();
    let ghost = q("[data-testid=drag-ghost]")!;
    expect(ghost.closest("[data-column-body]")!.getAttribute("data-column-body")).toBe(`${day}|dr-park`);
    expect(ghost.dataset.start).toBe("11:10");
    expect(ghost.dataset.clash).toBe("true");
    expect(ghost.textContent).toContain("환자a2(#100) 예약과 겹칩니다 11:00–11:30");

    pointer(window, "pointermove", 56 + 120 + 60, yAt("11:30"));
    await nextTick();
    ghost = q("[data-testid=drag-ghost]")!;
    expect(ghost.dataset.start).toBe("11:30");
    expect(ghost.dataset.clash).toBe("false");

    pointer(window, "pointerup", 56 + 120 + 60, yAt("11:30"));
    await until(() => block("a1")?.dataset.provider === "dr-park", "moved at once");
    expect(block("a1")!.dataset.start).toBe("11:30");
    expect(sent).toMatchObject({ id: "a1", providerId: "dr-park", chairId: "chair-1", minutes: 30, version: 3n });
    expect(timestampDate(sent!.startTime!).toISOString()).toBe("2030-03-04T02:30:00.000Z");

    answer();
    await until(() => block("a1")?.dataset.provider === "dr-kim", "rolled back");
    expect(block("a1")!.dataset.start).toBe("10:00");
    await until(() => q("[data-testid=schedule-problem]") !== null, "problem shown");
    expect(q("[data-testid=schedule-problem]")!.textContent).toContain("예약이 겹칩니다");
    expect(q("[data-testid=schedule-problem]")!.textContent).toContain("2번 체어에 이미 2030-03-04 11:30 예약이 있습니다");
  });

  it("resizes by the bottom edge", async () => {
    let sent: MoveAppointmentRequest | undefined;
    await mountSchedule(
      server([appt("a1", "10:00", { version: 2n })], {
        move: (req) => {
          sent = req;
          return appt("a1", "10:00", { minutes: req.minutes, version: 3n, revision: 6n });
        },
      }),
    );
    await until(() => block("a1") !== null, "grid");
    layOutColumns();
    const handle = block("a1")!.querySelector("[data-resize-handle]")!;
    pointer(handle, "pointerdown", 100, yAt("10:25") + 3);
    pointer(window, "pointermove", 100, yAt("10:55"));
    await nextTick();
    expect(q("[data-testid=drag-ghost]")!.dataset.minutes).toBe("60");
    pointer(window, "pointerup", 100, yAt("10:55"));
    await until(() => block("a1")?.dataset.minutes === "60", "resized");
    expect(sent).toMatchObject({ id: "a1", providerId: "dr-kim", chairId: "chair-1", minutes: 60, version: 2n });
    expect(timestampDate(sent!.startTime!).toISOString()).toBe("2030-03-04T01:00:00.000Z");
  });

  it("changes the status in one click with the version, and asks a reason to cancel", async () => {
    const sent: SetAppointmentStatusRequest[] = [];
    await mountSchedule(
      server([appt("a1", "10:00", { version: 3n, status: AppointmentStatus.CONFIRMED })], {
        status: (req) => {
          sent.push(req);
          return appt("a1", "10:00", { status: req.status, version: req.version + 1n, revision: 5n + BigInt(sent.length), cancelReason: req.reason });
        },
      }),
    );
    await until(() => block("a1") !== null, "grid");
    block("a1")!.click();
    await until(() => shown("appointment-detail"), "detail");
    const actions = [...q("[data-testid=status-actions]")!.querySelectorAll("button")].map((b) => b.textContent?.trim());
    expect(actions).toEqual(["내원", "부도", "취소"]);
    expect(q("[data-testid=appointment-detail]")!.textContent).toContain("환자 차트");

    buttonByText("내원").click();
    await until(() => block("a1")?.dataset.status === "ARRIVED", "checked in");
    expect(sent[0]).toMatchObject({ id: "a1", status: AppointmentStatus.ARRIVED, version: 3n });

    // The dialog stays on the visit and offers the next step.
    expect(shown("appointment-detail")).toBe(true);
    await until(() => q("[data-testid=status-actions]")?.textContent?.includes("진료 시작") ?? false, "seat offered");
    buttonByText("취소", q("[data-testid=status-actions]")!).click();
    await until(() => q("[data-testid=cancel-dialog]") !== null, "reason asked");
    buttonByText("예약 취소").click();
    await until(() => document.body.textContent!.includes("취소 사유를 입력해 주세요"), "reason required");
    expect(sent).toHaveLength(1);
    type(inputByLabel("취소 사유"), "환자 요청");
    buttonByText("예약 취소").click();
    await until(() => sent.length === 2, "cancelled");
    expect(sent[1]).toMatchObject({ id: "a1", status: AppointmentStatus.CANCELLED, version: 4n, reason: "환자 요청" });
    await until(() => block("a1") === null, "cancelled visit hidden");
  });

  it("lists who is waiting today and seats them in one click", async () => {
    const today = todayIn("Asia/Seoul");
    const arrived = appt("w1", "00:00", { status: AppointmentStatus.ARRIVED, version: 5n, arriveTime: timestampFromDate(new Date(Date.now() - 12 * 60_000)) }, today);
    const sent: SetAppointmentStatusRequest[] = [];
    await mountSchedule(
      server([arrived], {
        status: (req) => {
          sent.push(req);
          return { ...arrived, status: req.status, version: 6n, revision: 6n };
        },
      }),
      { path: "/schedule" },
    );
    const room = () => q("[data-testid=waiting-room]");
    await until(() => room()?.textContent?.includes("환자w1") ?? false, "waiting patient");
    expect(room()!.textContent).toContain("12분 대기");
    buttonByText("진료 시작", room()!).click();
    await until(() => sent.length === 1, "seated");
    expect(sent[0]).toMatchObject({ id: "w1", status: AppointmentStatus.IN_CHAIR, version: 5n });
    await until(() => room()!.textContent!.includes("기다리는 환자가 없습니다"), "room empty");
  });

  it("is read-only without the schedule permission", async () => {
    await mountSchedule(server([appt("a1", "10:00")]), { permissions: [Permission.PATIENTS_READ] });
    await until(() => block("a1") !== null, "grid");
    expect(q("[data-testid=read-only]")?.textContent).toContain("보기 전용");
    expect(() => buttonByText("새 예약")).toThrow();
    expect(block("a1")!.querySelector("[data-resize-handle]")).toBeNull();
    cell("dr-kim", "11:00")!.click();
    await nextTick();
    expect(q("[data-testid=booking-dialog]")).toBeNull();
    block("a1")!.click();
    await until(() => q("[data-testid=appointment-detail]") !== null, "detail");
    expect(q("[data-testid=status-actions]")).toBeNull();
  });

  it("switches to the week by chair and moves by a week", async () => {
    const { router } = await mountSchedule(server([appt("a1", "10:00", { chairId: "chair-2" })]));
    await until(() => block("a1") !== null, "grid");
    buttonByText("주").click();
    await until(() => router.currentRoute.value.query.view === "week", "week");
    // The week shows each day as one column, everyone's visits side by side.
    await until(() => block("a1")?.closest("[data-column-body]")?.getAttribute("data-column-body") === `${day}|`, "day column");
    expect(document.querySelectorAll(".res-head").length).toBe(0);
    expect(block("a1")!.style.borderLeft).toContain("4px solid");
    buttonByText("체어별").click();
    await until(() => router.currentRoute.value.query.by === "chair", "by chair");
    await router.replace({ query: { ...router.currentRoute.value.query, only: "chair-2" } });
    await until(() => block("a1")?.closest("[data-column-body]")?.getAttribute("data-column-body") === `${day}|chair-2`, "chair column");
    // The fixture clinic opens Mondays and Saturdays.
    const days = [...document.querySelectorAll(".day-head")].map((d) => d.getAttribute("data-date"));
    expect(days).toEqual(["2030-03-04", "2030-03-09"]);
    expect(q("[data-testid=range-label]")!.textContent).toContain("3월 4일 (월) – 3월 10일 (일)");
    (q("button[aria-label=다음]") as HTMLButtonElement).click();
    await until(() => router.currentRoute.value.query.date === "2030-03-11", "next week");
  });
});

describe("keyboard, call lists and closed days", () => {
  it("moves and resizes an appointment from the keyboard alone, telling where it would land", async () => {
    let sent: MoveAppointmentRequest | undefined;
    await mountSchedule(
      server([appt("a1", "10:00", { version: 3n }), appt("a2", "10:30", { providerId: "dr-park", chairId: "chair-2" })], {
        move: (req) => {
          sent = req;
          return appt("a1", "10:10", { providerId: req.providerId, minutes: req.minutes, version: 4n, revision: 6n });
        },
      }),
    );
    await until(() => block("a1") !== null, "grid");
    const a1 = block("a1")!;
    expect(a1.getAttribute("aria-describedby")).toBe("book-move-keys");
    expect(q("#book-move-keys")!.textContent).toContain("스페이스");
    a1.focus();
    keydown(a1, " ");
    await nextTick();
    expect(q("[data-testid=drag-ghost]")!.dataset.start).toBe("10:00");
    keydown(a1, "ArrowDown");
    keydown(a1, "ArrowDown");
    keydown(a1, "ArrowRight");
    await nextTick();
    let ghost = q("[data-testid=drag-ghost]")!;
    expect(ghost.closest("[data-column-body]")!.getAttribute("data-column-body")).toBe(`${day}|dr-park`);
    expect(ghost.dataset.start).toBe("10:10");
    expect(ghost.dataset.clash).toBe("true");
    expect(q("[data-testid=move-news]")!.textContent).toContain("박서준 원장, 10:10–10:40, 환자a2(#100) 예약과 겹칩니다");
    for (let i = 0; i < 2; i++) a1.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowUp", shiftKey: true, bubbles: true, cancelable: true }));
    await nextTick();
    ghost = q("[data-testid=drag-ghost]")!;
    expect(ghost.dataset.minutes).toBe("20");
    expect(ghost.dataset.clash).toBe("false");
    keydown(a1, "Enter");
    await until(() => sent !== undefined, "move sent");
    expect(sent).toMatchObject({ id: "a1", providerId: "dr-park", chairId: "chair-1", minutes: 20, version: 3n });
    expect(timestampDate(sent!.startTime!).toISOString()).toBe("2030-03-04T01:10:00.000Z");
    expect(q("[data-testid=drag-ghost]")).toBeNull();
    await until(() => block("a1")?.dataset.provider === "dr-park", "moved");
    await until(() => document.activeElement === block("a1"), "focus kept on the moved appointment");
  });

  it("puts a lifted appointment back on Escape and sends nothing", async () => {
    let moved = false;
    await mountSchedule(server([appt("a1", "10:00")], { move: () => ((moved = true), appt("a1", "10:00")) }));
    await until(() => block("a1") !== null, "grid");
    const a1 = block("a1")!;
    a1.focus();
    keydown(a1, " ");
    keydown(a1, "ArrowDown");
    await nextTick();
    expect(q("[data-testid=drag-ghost]")!.dataset.start).toBe("10:05");
    keydown(a1, "Escape");
    await nextTick();
    expect(q("[data-testid=drag-ghost]")).toBeNull();
    expect(moved).toBe(false);
  });

  it("lists the cancelled and missed appointments of the day with phone numbers to call back", async () => {
    await mountSchedule(
      server([
        appt("a1", "10:00"),
        appt("a2", "11:00", { status: AppointmentStatus.CANCELLED, cancelReason: "출장", patientId: "p-a2" }),
        appt("a3", "15:00", { status: AppointmentStatus.NO_SHOW, patientId: "p-quiet", patientName: "조용한" }),
      ]),
    );
    await until(() => block("a1") !== null, "grid");
    const toggle = q("[data-testid=follow-ups-toggle]")!;
    expect(toggle.textContent).toContain("취소·부도 2");
    toggle.click();
    await until(() => q("[data-testid=follow-ups]") !== null, "list");
    const list = q("[data-testid=follow-ups]")!;
    await until(() => list.querySelectorAll("[data-testid=call-phone] a, [data-testid=call-phone] span").length === 2, "phones");
    const rows = [...list.querySelectorAll("[data-appointment-id]")];
    expect(rows.map((r) => r.getAttribute("data-appointment-id"))).toEqual(["a2", "a3"]);
    expect(rows[0]!.textContent).toContain("환자a2");
    expect(rows[0]!.textContent).toContain("취소");
    expect(rows[0]!.textContent).toContain("사유: 출장");
    expect(rows[0]!.querySelector("a")!.getAttribute("href")).toBe("tel:010-1234-5678");
    expect(rows[1]!.textContent).toContain("부도");
    expect(rows[1]!.textContent).toContain("번호 없음");
  });

  it("flags appointments left on a closed day until they are moved", async () => {
    const clinic = savedClinic({ closedDays: [{ $typeName: "molar.v1.ClosedDay", date: day, reason: "원장님 학회" }] });
    await mountSchedule(server([appt("a1", "10:00"), appt("a2", "11:00", { status: AppointmentStatus.CANCELLED })], {}, clinic));
    await until(() => block("a1") !== null && q("[data-testid=stranded]") !== null, "flag");
    expect(block("a1")!.dataset.stranded).toBe("true");
    expect(block("a1")!.getAttribute("aria-label")).toContain("휴진일 예약");
    const alert = q("[data-testid=stranded]")!;
    expect(alert.textContent).toContain("휴진일에 남은 예약 1건");
    await until(() => alert.querySelector("[data-testid=call-phone] a") !== null, "phone");
    expect(alert.querySelector("[data-testid=call-phone] a")!.textContent).toBe("010-1234-5678");
  });

  it("spreads free-time offers over half-days and shows more on request", async () => {
    const asked: FindFreeSlotsRequest[] = [];
    await mountSchedule(
      server([], {
        free: (req) => {
          asked.push(req);
          return Array.from({ length: req.limit }, (_, i) => ({
            startTime: timestampFromDate(seoul(`2030-03-${String(5 + Math.floor(i / 2)).padStart(2, "0")}`, i % 2 ? "14:00" : "09:00")),
            chairId: "chair-1",
          }));
        },
      }),
    );
    await until(() => cell("dr-kim", "10:00") !== null, "grid");
    cell("dr-kim", "10:00")!.click();
    await until(() => shown("booking-dialog"), "booking dialog");
    buttonByText("다음 빈 시간 찾기").click();
    await until(() => q("[data-testid=free-slots]")?.querySelectorAll(".v-chip").length === 6, "six offers");
    expect(asked[0]).toMatchObject({ providerId: "dr-kim", limit: 6, spread: true });
    q<HTMLElement>("[data-testid=more-slots]")!.click();
    await until(() => q("[data-testid=free-slots]")?.querySelectorAll(".v-chip").length === 12, "twelve offers");
    expect(asked[1]).toMatchObject({ limit: 12, spread: true });
  });
});

describe("when the connection comes back", () => {
  it("sends a booking that could not reach the server again, once, and closes the dialog", async () => {
    let calls = 0;
    await mountSchedule(
      server([], {
        book: (req) => {
          calls++;
          if (calls === 1) throw new ConnectError("Failed to fetch", Code.Unavailable);
          return appt("new-1", "10:00", { patientId: req.patientId, patientName: "김민수", revision: 6n });
        },
      }),
    );
    await until(() => cell("dr-kim", "10:00") !== null, "grid");
    cell("dr-kim", "10:00")!.click();
    await until(() => shown("booking-dialog"), "booking dialog");
    const search = inputByLabel("환자");
    type(search, "김");
    await until(() => document.querySelectorAll("[role=option]").length === 2, "patient results");
    keydown(search, "Enter");
    await until(() => q("[data-testid=picked-patient]") !== null, "patient picked");
    window.dispatchEvent(new Event("offline"));
    buttonByText("예약").click();
    await until(() => q("[data-testid=retry-waiting]") !== null, "waiting to retry");
    expect(q("[data-testid=retry-waiting]")!.textContent).toContain("연결이 돌아오면 자동으로 다시 보냅니다");
    expect(calls).toBe(1);
    window.dispatchEvent(new Event("online"));
    // (The fake server's stream restarts from its fixed snapshot, so the book itself is not checked here.)
    await until(() => !shown("booking-dialog"), "dialog closed once back");
    await until(() => q("[data-testid=schedule-notice]")?.textContent?.includes("김민수") ?? false, "booked notice");
    expect(calls).toBe(2);
  });
});

describe("PatientVisits", () => {
  it("lists upcoming and past visits", async () => {
    const up = appt("u1", "10:00", { typeId: "checkup", status: AppointmentStatus.CONFIRMED }, "2099-01-05");
    const past = appt("p1", "14:30", { providerId: "dr-park", status: AppointmentStatus.COMPLETED, minutes: 45 }, "2024-12-02");
    const { wrapper } = await mountSchedule(server([], { visits: { upcoming: [up], past: [past] } }), {
      component: PatientVisits,
      props: { patientId: "p-1" },
    });
    await until(() => wrapper.text().includes("박서준 원장"), "visits");
    const upcoming = wrapper.find("[data-section=upcoming]").text();
    expect(upcoming).toContain("1월 5일 (월)");
    expect(upcoming).toContain("10:00–10:30");
    expect(upcoming).toContain("김하늘 원장");
    expect(upcoming).toContain("정기검진");
    expect(upcoming).toContain("확정");
    const pastText = wrapper.find("[data-section=past]").text();
    expect(pastText).toContain("14:30–15:15");
    expect(pastText).toContain("완료");
  });
});

describe("booking in the past", () => {
  const pastDay = "2025-03-03"; // a Monday long gone

  it("tells the front desk at once and sends nothing", async () => {
    const sent: BookAppointmentRequest[] = [];
    await mountSchedule(
      server([], {
        book: (req) => {
          sent.push(req);
          return appt("new-1", "10:00", {}, pastDay);
        },
      }),
      { path: `/schedule?date=${pastDay}`, permissions: [Permission.SCHEDULE_WRITE, Permission.PATIENTS_READ] },
    );
    await until(() => cell("dr-kim", "10:00") !== null, "grid");
    cell("dr-kim", "10:00")!.click();
    await until(() => shown("booking-dialog"), "booking dialog");
    await until(() => q("[data-testid=booking-past]") !== null, "past warning");
    expect(q("[data-testid=booking-past]")!.textContent).toContain("지난 시간에는 예약할 수 없습니다");
    expect(buttonByText("예약").disabled).toBe(true);
    expect(sent).toHaveLength(0);
  });

  it("lets someone who may override record a past visit once they say so", async () => {
    await mountSchedule(server([]), { path: `/schedule?date=${pastDay}` });
    await until(() => cell("dr-kim", "10:00") !== null, "grid");
    cell("dr-kim", "10:00")!.click();
    await until(() => shown("booking-dialog"), "booking dialog");
    await until(() => q("[data-testid=booking-past]") !== null, "past warning");
    expect(buttonByText("예약").disabled).toBe(true);
    inputByLabel("지난 방문으로 기록합니다").click();
    await until(() => !buttonByText("예약").disabled, "enabled once confirmed");
  });
});

describe("firstFree", () => {
  it("finds the first grid start with room before the end", () => {
    const busy = new Set([600, 605, 610]);
    expect(firstFree(598, 1080, 30, (m) => !busy.has(m))).toBe(615);
    expect(firstFree(1055, 1080, 30, () => true)).toBeNull();
    expect(firstFree(540, 1080, 30, () => true)).toBe(540);
  });
});
