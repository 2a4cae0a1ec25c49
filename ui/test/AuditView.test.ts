import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import AuditView from "../src/views/settings/AuditView.vue";
import {
  AuditAction,
  AuditEventSchema,
  AuditService,
  type AuditEvent,
  type ListAuditEventsRequest,
} from "../src/gen/molar/v1/audit_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { PatientService, PatientSummarySchema } from "../src/gen/molar/v1/patient_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { endOfDay, startOfDay } from "../src/composables/useDateTime";
import { buttonByText, inputByLabel, mountView, type, until } from "./helpers";
import { FakeAuth, meFor, signedIn } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

function event(i: number, overrides: Partial<Omit<AuditEvent, "$typeName">> = {}): AuditEvent {
  return create(AuditEventSchema, {
    id: `e${i}`,
    // 01:02:03 UTC is 10:02:03 in Seoul.
    time: timestampFromDate(new Date(Date.UTC(2025, 2, 4, 1, 2, 3) - i * 60_000)),
    action: AuditAction.STAFF_UPDATED,
    actorId: "s-admin",
    actorEmail: "admin@molar.test",
    ip: "10.0.0.7",
    targetType: "staff",
    targetId: `s-${i}`,
    detail: `roles changed ${i}`,
    ...overrides,
  });
}

/** Two pages of events; the requests are kept. */
function fakeAudit() {
  const requests: ListAuditEventsRequest[] = [];
  const page1 = [
    event(0, { action: AuditAction.LOGIN_FAILED, actorId: "", actorEmail: "guess@molar.test", targetType: "", targetId: "", detail: "" }),
    ...Array.from({ length: 2 }, (_, i) => event(i + 1)),
  ];
  const page2 = [event(10, { action: AuditAction.PASSWORD_RESET, detail: "second page" })];
  const routes = (r: ConnectRouter) => {
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
    r.service(AuditService, {
      listAuditEvents: (req) => {
        requests.push(req);
        if (req.pageToken === "") return { events: page1, nextPageToken: "p2" };
        if (req.pageToken === "p2") return { events: page2, nextPageToken: "" };
        throw new ConnectError("bad token", Code.InvalidArgument);
      },
    });
  };
  return { routes, requests };
}

async function mountAudit(routes: (r: ConnectRouter) => void, locale: "ko" | "en" = "ko") {
  const { transport, pinia } = await signedIn(new FakeAuth(meFor([Role.ADMIN])), routes);
  return mountView(AuditView, transport, locale, "/settings/audit", pinia);
}

const rows = () => [...document.querySelectorAll<HTMLElement>("tbody tr")];

describe("AuditView", () => {
  it("renders events in Seoul time with translated actions", async () => {
    const a = fakeAudit();
    w = await mountAudit(a.routes);
    await until(() => rows().length === 3, "rows");
    const first = rows()[0]!.textContent!;
    expect(first).toContain("10:02:03");
    expect(first).toContain("2025");
    expect(first).toContain("로그인 실패");
    expect(first).toContain("guess@molar.test");
    const second = rows()[1]!.textContent!;
    expect(second).toContain("직원 정보 수정");
    expect(second).toContain("admin@molar.test");
    expect(second).toContain("10.0.0.7");
    expect(second).toContain("직원");
    expect(second).toContain("s-1");
    expect(second).toContain("roles changed 1");
    expect(a.requests[0]).toMatchObject({ pageToken: "", pageSize: 50, actions: [] });
  });

  it("loads the next page with 더 보기 and says when there is no more", async () => {
    const a = fakeAudit();
    w = await mountAudit(a.routes);
    await until(() => rows().length === 3, "rows");
    buttonByText("더 보기").click();
    await until(() => rows().length === 4, "second page");
    expect(a.requests.at(-1)?.pageToken).toBe("p2");
    expect(rows()[3]!.textContent).toContain("second page");
    expect(rows()[3]!.textContent).toContain("비밀번호 재설정");
    await until(() => w!.text().includes("마지막 기록까지 모두 표시했습니다"), "end");
    expect(() => buttonByText("더 보기")).toThrow();
  });

  it("filters by date range in the clinic's time zone", async () => {
    const a = fakeAudit();
    w = await mountAudit(a.routes);
    await until(() => rows().length === 3, "rows");
    type(inputByLabel("시작일"), "2025-03-01");
    await until(() => a.requests.length === 2, "reload");
    expect(timestampDate(a.requests[1]!.startTime!).toISOString()).toBe("2025-02-28T15:00:00.000Z");
    expect(a.requests[1]!.endTime).toBeUndefined();
    type(inputByLabel("종료일"), "2025-03-04");
    await until(() => a.requests.length === 3, "reload");
    // The end day is included: up to the start of the next day.
    expect(timestampDate(a.requests[2]!.endTime!).toISOString()).toBe("2025-03-04T15:00:00.000Z");
  });

  it("does not ask for an impossible range", async () => {
    const a = fakeAudit();
    w = await mountAudit(a.routes);
    await until(() => rows().length === 3, "rows");
    type(inputByLabel("종료일"), "2025-03-01");
    await until(() => a.requests.length === 2, "reload");
    type(inputByLabel("시작일"), "2025-03-05");
    await until(() => w!.text().includes("종료일이 시작일보다 앞섭니다"), "range error");
    expect(a.requests).toHaveLength(2);
  });

  it("shows the empty state", async () => {
    w = await mountAudit((r) => {
      r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
      r.service(AuditService, { listAuditEvents: () => ({ events: [], nextPageToken: "" }) });
    });
    await until(() => w!.text().includes("조건에 맞는 기록이 없습니다"), "empty");
  });

  it("shows why it could not load, with a retry", async () => {
    let fail = true;
    w = await mountAudit((r) => {
      r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
      r.service(AuditService, {
        listAuditEvents: () => {
          if (fail) throw new ConnectError("no", Code.PermissionDenied);
          return { events: [event(1)], nextPageToken: "" };
        },
      });
    });
    await until(() => w!.text().includes("이 작업을 할 권한이 없습니다"), "error");
    fail = false;
    buttonByText("다시 시도").click();
    await until(() => rows().length === 1, "retried");
  });

  it("speaks English", async () => {
    const a = fakeAudit();
    w = await mountAudit(a.routes, "en");
    await until(() => rows().length === 3, "rows");
    expect(rows()[0]!.textContent).toContain("Sign-in failed");
    expect(w.text()).toContain("Load more");
  });
});

describe("calendar days in a time zone", () => {
  it("starts and ends days at local midnight", () => {
    expect(startOfDay("2025-03-04", "Asia/Seoul").toISOString()).toBe("2025-03-03T15:00:00.000Z");
    expect(endOfDay("2025-12-31", "Asia/Seoul").toISOString()).toBe("2025-12-31T15:00:00.000Z");
    expect(startOfDay("2025-03-04", "UTC").toISOString()).toBe("2025-03-04T00:00:00.000Z");
    // Across a daylight-saving change.
    expect(startOfDay("2025-03-10", "America/New_York").toISOString()).toBe("2025-03-10T04:00:00.000Z");
    expect(startOfDay("2025-03-09", "America/New_York").toISOString()).toBe("2025-03-09T05:00:00.000Z");
  });
});

describe("AuditView by patient", () => {
  it("answers who viewed a patient's record: names, a link to the record, and a CSV of it", async () => {
    const requests: ListAuditEventsRequest[] = [];
    const viewed = create(AuditEventSchema, {
      id: "v1",
      time: timestampFromDate(new Date(Date.UTC(2025, 2, 4, 1, 2, 3))),
      action: AuditAction.PATIENT_VIEWED,
      actorId: "s-dr",
      actorEmail: "dr@molar.test",
      actorName: "김원장",
      targetType: "patient",
      targetId: "p-9",
      targetName: "임준하",
      targetChartNumber: 299n,
    });
    const routes = (r: ConnectRouter) => {
      r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
      r.service(PatientService, {
        searchPatients: (req) => ({
          patients: req.query.startsWith("임") ? [create(PatientSummarySchema, { id: "p-9", name: "임준하", chartNumber: 299n })] : [],
        }),
      });
      r.service(AuditService, {
        listAuditEvents: (req) => {
          requests.push(req);
          return { events: req.targetId === "p-9" ? [viewed] : [event(1)], nextPageToken: "" };
        },
      });
    };
    let blob: Blob | null = null;
    URL.createObjectURL = vi.fn((b: Blob) => {
      blob = b;
      return "blob:csv";
    }) as typeof URL.createObjectURL;
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});

    w = await mountAudit(routes);
    await until(() => rows().length === 1, "rows");
    const who = inputByLabel("환자");
    who.focus();
    await new Promise((r) => setTimeout(r, 0)); // as a person pauses between focusing and typing
    type(who, "임준");
    const offered = () => [...document.querySelectorAll<HTMLElement>(".v-overlay .v-list-item")].find((x) => x.textContent?.includes("임준하 #299"));
    await until(() => offered() !== undefined, "patient offered");
    offered()!.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    await until(() => requests.some((r) => r.targetId === "p-9"), "filtered by patient");
    await until(() => rows()[0]?.textContent?.includes("김원장") === true, "named row");
    const row = rows()[0]!;
    expect(row.textContent).toContain("환자 정보 열람");
    expect(row.querySelector("a")?.getAttribute("href")).toBe("/patients/p-9");
    expect(row.querySelector("a")?.textContent?.trim()).toBe("임준하 #299");

    buttonByText("CSV 내보내기").click();
    await until(() => blob !== null, "csv made");
    const csv = await new Promise<string>((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result as string);
      r.readAsText(blob as unknown as Blob);
    });
    expect(csv).toContain("김원장,dr@molar.test");
    expect(csv).toContain("임준하 #299");
  });
});
