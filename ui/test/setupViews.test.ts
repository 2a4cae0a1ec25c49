import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import BookSetupView from "../src/views/settings/BookSetupView.vue";
import CatalogView from "../src/views/settings/CatalogView.vue";
import {
  AppointmentTypeSchema,
  ChairSchema,
  ProviderSchema,
  ScheduleService,
  type AppointmentType,
  type Chair,
  type Provider,
} from "../src/gen/molar/v1/schedule_pb";
import { CatalogService, ProcedureCategory, ProcedureSchema, type Procedure } from "../src/gen/molar/v1/chart_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { buttonByText, inputByLabel, mountView, type, until } from "./helpers";
import { FakeAuth, meFor, signedIn } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

/** Schedule resources and the catalog in memory, behind the fake sign-in. */
function fakeSetup() {
  const auth = new FakeAuth(meFor([Role.ADMIN]));
  const providers: Provider[] = [create(ProviderSchema, { id: "p1", name: "김원장", color: "#1E88E5", active: true })];
  const chairs: Chair[] = [create(ChairSchema, { id: "c1", name: "1번 체어", position: 1, active: true })];
  const types: AppointmentType[] = [create(AppointmentTypeSchema, { id: "t1", nameKo: "검진", nameEn: "Check-up", defaultMinutes: 30, color: "#43A047", active: true })];
  const procedures: Procedure[] = [
    create(ProcedureSchema, { code: "SCAL", nameKo: "스케일링", nameEn: "Scaling", category: ProcedureCategory.PREVENTIVE, fee: 15000n, insured: true, active: true }),
  ];
  const saved: { providers: Provider[]; chairs: Chair[]; types: AppointmentType[]; procedures: Procedure[] } = { providers: [], chairs: [], types: [], procedures: [] };
  const routes = (r: ConnectRouter) => {
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
    r.service(ScheduleService, {
      listResources: (_, ctx) => {
        auth.check(ctx);
        return { providers, chairs, types };
      },
      saveProvider: (req, ctx) => {
        auth.check(ctx);
        const p = create(ProviderSchema, { ...req.provider!, id: req.provider!.id || `p${providers.length + 1}` });
        saved.providers.push(req.provider!);
        providers.push(p);
        return { provider: p };
      },
      saveChair: (req) => {
        const c = create(ChairSchema, { ...req.chair!, id: req.chair!.id || `c${chairs.length + 1}` });
        saved.chairs.push(req.chair!);
        chairs.push(c);
        return { chair: c };
      },
      saveAppointmentType: (req) => {
        const ty = create(AppointmentTypeSchema, { ...req.type!, id: req.type!.id || `t${types.length + 1}` });
        saved.types.push(req.type!);
        types.push(ty);
        return { type: ty };
      },
    });
    r.service(CatalogService, {
      listProcedures: () => ({ procedures }),
      saveProcedure: (req) => {
        saved.procedures.push(req.procedure!);
        procedures.push(req.procedure!);
        return { procedure: req.procedure };
      },
    });
  };
  return { auth, routes, saved };
}

function dialog(id: string): HTMLElement {
  const d = document.querySelector<HTMLElement>(`[data-testid=${id}]`);
  if (!d) throw new Error(`no ${id}`);
  return d;
}

function submit(id: string): void {
  dialog(id).querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
}

describe("BookSetupView", () => {
  it("adds a provider with hours of their own and a day off", async () => {
    const s = fakeSetup();
    const { transport, pinia } = await signedIn(s.auth, s.routes);
    w = await mountView(BookSetupView, transport, "ko", "/settings/book", pinia);
    await until(() => w!.text().includes("김원장") && w!.text().includes("1번 체어") && w!.text().includes("검진"), "lists");
    buttonByText("진료진 추가").click();
    await until(() => document.querySelector("[data-testid=provider-dialog]") !== null, "dialog");
    type(inputByLabel("이름", dialog("provider-dialog")), "이위생");
    inputByLabel("치과위생사", dialog("provider-dialog")).click();
    inputByLabel("요일별로 정함", dialog("provider-dialog")).click();
    await until(() => document.querySelector("[data-testid=provider-hours]") !== null, "hours");
    // Works Monday to Friday by default; drop Friday, start Monday late.
    inputByLabel("금", dialog("provider-dialog")).click();
    const starts = [...dialog("provider-dialog").querySelectorAll<HTMLInputElement>("input[type=time]")];
    type(starts[0]!, "10:00");
    type(inputByLabel("휴무일 추가", dialog("provider-dialog")), "2026-12-24");
    dialog("provider-dialog").querySelector<HTMLButtonElement>("button[aria-label='휴무일 추가']")!.click();
    await until(() => dialog("provider-dialog").textContent!.includes("2026-12-24"), "day off chip");
    await w.vm.$nextTick();
    submit("provider-dialog");
    await until(() => s.saved.providers.length === 1, "save");
    const p = s.saved.providers[0]!;
    expect(p).toMatchObject({ id: "", name: "이위생", hygienist: true, active: true, daysOff: ["2026-12-24"] });
    expect(p.hours.map((h) => [h.weekday, h.startTime, h.endTime])).toEqual([
      [1, "10:00", "18:00"],
      [2, "09:00", "18:00"],
      [3, "09:00", "18:00"],
      [4, "09:00", "18:00"],
    ]);
    await until(() => w!.text().includes("이위생"), "new row");
    expect(document.body.textContent).toContain("이위생을(를) 저장했습니다");
  });

  it("refuses hours that end before they start, at the field, without sending", async () => {
    const s = fakeSetup();
    const { transport, pinia } = await signedIn(s.auth, s.routes);
    w = await mountView(BookSetupView, transport, "ko", "/settings/book", pinia);
    await until(() => w!.text().includes("김원장"), "lists");
    buttonByText("진료진 추가").click();
    await until(() => document.querySelector("[data-testid=provider-dialog]") !== null, "dialog");
    type(inputByLabel("이름", dialog("provider-dialog")), "박원장");
    inputByLabel("요일별로 정함", dialog("provider-dialog")).click();
    await until(() => document.querySelector("[data-testid=provider-hours]") !== null, "hours");
    const times = [...dialog("provider-dialog").querySelectorAll<HTMLInputElement>("input[type=time]")];
    type(times[0]!, "19:00");
    await w.vm.$nextTick();
    submit("provider-dialog");
    await until(() => dialog("provider-dialog").textContent!.includes("시작 시간이 종료 시간보다 앞서야 합니다"), "rule");
    expect(s.saved.providers).toHaveLength(0);
  });

  it("adds a chair after the others and an appointment type", async () => {
    const s = fakeSetup();
    const { transport, pinia } = await signedIn(s.auth, s.routes);
    w = await mountView(BookSetupView, transport, "en", "/settings/book", pinia);
    await until(() => w!.text().includes("Chair 1") || w!.text().includes("1번 체어"), "lists");
    buttonByText("Add chair").click();
    await until(() => document.querySelector("[data-testid=chair-dialog]") !== null, "chair dialog");
    type(inputByLabel("Name", dialog("chair-dialog")), "2번 체어");
    await w.vm.$nextTick();
    submit("chair-dialog");
    await until(() => s.saved.chairs.length === 1, "chair saved");
    expect(s.saved.chairs[0]).toMatchObject({ name: "2번 체어", position: 2, active: true });

    buttonByText("Add type").click();
    await until(() => document.querySelector("[data-testid=type-dialog]") !== null, "type dialog");
    type(inputByLabel("Name (Korean)", dialog("type-dialog")), "임플란트 수술");
    type(inputByLabel("Name (English)", dialog("type-dialog")), "Implant surgery");
    type(inputByLabel("Default length (minutes)", dialog("type-dialog")), "90");
    await w.vm.$nextTick();
    submit("type-dialog");
    await until(() => s.saved.types.length === 1, "type saved");
    expect(s.saved.types[0]).toMatchObject({ nameKo: "임플란트 수술", nameEn: "Implant surgery", defaultMinutes: 90 });
    await until(() => w!.text().includes("Implant surgery"), "type row");
  });
});

describe("CatalogView", () => {
  it("adds a procedure with its fee and coverage, and finds it", async () => {
    const s = fakeSetup();
    const { transport, pinia } = await signedIn(s.auth, s.routes);
    w = await mountView(CatalogView, transport, "ko", "/settings/catalog", pinia);
    await until(() => w!.text().includes("스케일링"), "catalog");
    expect(w.text()).toContain("₩15,000");
    expect(w.text()).toContain("급여");
    buttonByText("처치 추가").click();
    await until(() => document.querySelector("[data-testid=procedure-dialog]") !== null, "dialog");
    const d = dialog("procedure-dialog");
    type(inputByLabel("코드", d), "crown-zr");
    type(inputByLabel("이름 (한국어)", d), "지르코니아 크라운");
    type(inputByLabel("이름 (영어)", d), "Zirconia crown");
    type(inputByLabel("수가", d), "abc");
    await w.vm.$nextTick();
    submit("procedure-dialog");
    await until(() => d.textContent!.includes("수가를 원 단위 숫자로 입력하세요"), "fee rule");
    expect(s.saved.procedures).toHaveLength(0);
    type(inputByLabel("수가", d), "450,000");
    await w.vm.$nextTick();
    submit("procedure-dialog");
    await until(() => s.saved.procedures.length === 1, "save");
    expect(s.saved.procedures[0]).toMatchObject({ code: "CROWN-ZR", nameKo: "지르코니아 크라운", fee: 450000n, insured: false, active: true });
    await until(() => w!.text().includes("지르코니아 크라운"), "new row");
    type(inputByLabel("코드나 이름으로 찾기"), "크라운");
    await until(() => !w!.text().includes("스케일링"), "filtered");
    expect(w.text()).toContain("₩450,000");
  });
});
