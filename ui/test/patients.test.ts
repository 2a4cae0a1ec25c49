import { describe, expect, it } from "vitest";
import type { Component } from "vue";
import { mount } from "@vue/test-utils";
import { createMemoryHistory, createRouter } from "vue-router";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import {
  PatientInputSchema,
  PatientSchema,
  PatientService,
  PatientSummarySchema,
  Sex,
  type CreatePatientRequest,
  type FindDuplicatesRequest,
  type Patient,
  type PatientSummary,
  type SearchPatientsRequest,
} from "../src/gen/molar/v1/patient_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { transportKey } from "../src/api/transport";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { patientsEn, patientsKo } from "../src/i18n/patients";
import { patientRoutes } from "../src/router/patients";
import { usePatientsStore } from "../src/stores/patients";
import { useAuthStore } from "../src/stores/auth";
import { manAge, formatMobile, fromRrn, inputOf, emptyDraft } from "../src/components/patients/format";
import PatientSearchView from "../src/views/patients/PatientSearchView.vue";
import PatientFormView from "../src/views/patients/PatientFormView.vue";
import PatientCardView from "../src/views/patients/PatientCardView.vue";
import { buttonByText, inputByLabel, piniaWith, type, until } from "./helpers";
import { meFor } from "./authServer";

function summary(overrides: Partial<Omit<PatientSummary, "$typeName">> = {}): PatientSummary {
  return create(PatientSummarySchema, {
    id: "p-1",
    chartNumber: 1n,
    name: "김민수",
    sex: Sex.MALE,
    birthDate: "1990-01-01",
    phoneTail: "5678",
    active: true,
    ...overrides,
  });
}

function savedPatient(overrides: Partial<Omit<Patient, "$typeName">> = {}): Patient {
  return create(PatientSchema, {
    id: "p-1",
    chartNumber: 1n,
    details: create(PatientInputSchema, {
      name: "김민수",
      sex: Sex.MALE,
      birthDate: "1990-01-01",
      mobilePhone: "010-1234-5678",
      alerts: { allergies: ["페니실린"], conditions: ["고혈압"], medications: [] },
    }),
    rrnMasked: "900101-1******",
    active: true,
    version: 1n,
    ...overrides,
  });
}

const three = [
  summary({ id: "p-1", chartNumber: 101n, name: "김민수", alerts: ["페니실린"] }),
  summary({ id: "p-2", chartNumber: 102n, name: "김민지", sex: Sex.FEMALE, phoneTail: "1111" }),
  summary({ id: "p-3", chartNumber: 103n, name: "김민호", phoneTail: "2222" }),
];

/** Mounts a patient screen as the app will: patient messages, patient routes, a signed-in user with roles. */
async function mountPatients(component: Component, transport: Transport, path: string, roles: Role[] = [Role.ADMIN]) {
  const pinia = piniaWith(transport);
  useAuthStore().me = meFor(roles);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [...patientRoutes, { path: "/:rest(.*)*", component: { render: () => null } }],
  });
  await router.push(path);
  await router.isReady();
  const i18n = createAppI18n("ko");
  i18n.global.mergeLocaleMessage("ko", { patients: patientsKo });
  i18n.global.mergeLocaleMessage("en", { patients: patientsEn });
  const props = router.currentRoute.value.params.id ? { id: String(router.currentRoute.value.params.id) } : {};
  const wrapper = mount(component, {
    attachTo: document.body,
    props,
    global: {
      plugins: [pinia, i18n, router, createAppVuetify("ko")],
      provide: { [transportKey as symbol]: transport },
    },
  });
  return { wrapper, router };
}

function keydown(el: Element, key: string): void {
  el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
}

describe("patient helpers", () => {
  it("counts 만 나이 from the birthday", () => {
    expect(manAge("1990-05-10", "2025-05-09")).toBe(34);
    expect(manAge("1990-05-10", "2025-05-10")).toBe(35);
    expect(manAge("", "2025-05-10")).toBeNull();
  });

  it("normalises phones and reads registration numbers", () => {
    expect(formatMobile("01012345678")).toBe("010-1234-5678");
    expect(formatMobile("12345")).toBe("12345");
    expect(fromRrn("900101-1234567")).toEqual({ birthDate: "1990-01-01", sex: Sex.MALE });
    expect(fromRrn("0503154123456")).toEqual({ birthDate: "2005-03-15", sex: Sex.FEMALE });
    const input = inputOf({ ...emptyDraft(), name: " 김민수 ", allergies: ["페니실린", " ", "페니실린"], mobilePhone: "01012345678" });
    expect(input.name).toBe("김민수");
    expect(input.alerts?.allergies).toEqual(["페니실린"]);
    expect(input.mobilePhone).toBe("010-1234-5678");
  });
});

describe("patients store", () => {
  it("shows only the latest search's answer when answers arrive out of order", async () => {
    const release = new Map<string, () => void>();
    const transport = createRouterTransport(({ service }) => {
      service(PatientService, {
        searchPatients: async (req: SearchPatientsRequest) => {
          await new Promise<void>((r) => release.set(req.query, r));
          return { patients: [summary({ id: req.query, name: `${req.query} 결과` })] };
        },
      });
    });
    piniaWith(transport);
    const store = usePatientsStore();
    const first = store.search("김");
    const second = store.search("김민");
    await until(() => release.has("김") && release.has("김민"), "both searches sent");

    release.get("김민")!();
    await second;
    expect(store.results.map((p) => p.name)).toEqual(["김민 결과"]);
    expect(store.searching).toBe(false);

    release.get("김")!();
    await first;
    expect(store.results.map((p) => p.name)).toEqual(["김민 결과"]);
    expect(store.resultsFor).toBe("김민");
    expect(store.searching).toBe(false);
  });

  it("appends the next page, asking with the token", async () => {
    const tokens: string[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(PatientService, {
        searchPatients: (req: SearchPatientsRequest) => {
          tokens.push(req.pageToken);
          return req.pageToken
            ? { patients: [three[2]!] }
            : { patients: [three[0]!, three[1]!], nextPageToken: "next" };
        },
      });
    });
    piniaWith(transport);
    const store = usePatientsStore();
    await store.search("김민");
    await store.loadMore();
    expect(tokens).toEqual(["", "next"]);
    expect(store.results.map((p) => p.id)).toEqual(["p-1", "p-2", "p-3"]);
    expect(store.nextPageToken).toBe("");
  });

  it("lists the likely duplicates when registration is refused, and registers anyway on request", async () => {
    const creates: CreatePatientRequest[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(PatientService, {
        findDuplicates: () => ({ patients: [three[0]!] }),
        createPatient: (req: CreatePatientRequest) => {
          creates.push(req);
          if (!req.allowDuplicate) throw new ConnectError("1 existing patient(s) may be the same person", Code.FailedPrecondition);
          return { patient: savedPatient({ id: "p-new", chartNumber: 200n }) };
        },
      });
    });
    piniaWith(transport);
    const store = usePatientsStore();
    const details = create(PatientInputSchema, { name: "김민수", sex: Sex.MALE, birthDate: "1990-01-01" });
    expect(await store.createPatient(details)).toBeNull();
    expect(store.saveProblem?.code).toBe(Code.FailedPrecondition);
    expect(store.blockingDuplicates?.map((p) => p.id)).toEqual(["p-1"]);

    const made = await store.createPatient(details, true);
    expect(made?.id).toBe("p-new");
    expect(store.blockingDuplicates).toBeNull();
    expect(creates.map((c) => c.allowDuplicate)).toEqual([false, true]);
  });

  it("does not send what the schema rejects", async () => {
    let calls = 0;
    const transport = createRouterTransport(({ service }) => {
      service(PatientService, {
        createPatient: () => {
          calls++;
          return {};
        },
      });
    });
    piniaWith(transport);
    const store = usePatientsStore();
    const ok = await store.createPatient(create(PatientInputSchema, { name: "김민수", sex: Sex.MALE, birthDate: "1990-01-01", mobilePhone: "12345" }));
    expect(ok).toBeNull();
    expect(calls).toBe(0);
    expect(store.saveProblem?.fields.map((f) => f.field)).toEqual(["details.mobile_phone"]);
  });
});

describe("PatientSearchView", () => {
  function searchServer(seen: string[] = []) {
    return createRouterTransport(({ service }) => {
      service(PatientService, {
        searchPatients: (req: SearchPatientsRequest) => {
          seen.push(req.query);
          if (req.query === "없는사람") return { patients: [] };
          return { patients: three };
        },
      });
    });
  }

  it("focuses the search box, moves with the arrow keys and opens the highlighted patient with Enter", async () => {
    const { wrapper, router } = await mountPatients(PatientSearchView, searchServer(), "/patients");
    await until(() => wrapper.findAll("[role=option]").length === 3, "recent patients");
    const input = inputByLabel("환자 검색");
    expect(document.activeElement).toBe(input);

    const rows = wrapper.findAll("[role=option]");
    expect(rows[0]!.attributes("aria-selected")).toBe("true");
    expect(rows[0]!.text()).toContain("#101");
    expect(rows[0]!.text()).toContain("김민수");
    expect(rows[0]!.text()).toMatch(/만 \d+세 · 남/);
    expect(rows[0]!.text()).toContain("···5678");
    expect(rows[0]!.find(".v-chip").text()).toContain("페니실린");

    keydown(input, "ArrowDown");
    keydown(input, "ArrowDown");
    keydown(input, "ArrowUp");
    await wrapper.vm.$nextTick();
    expect(wrapper.findAll("[role=option]")[1]!.attributes("aria-selected")).toBe("true");
    expect(input.getAttribute("aria-activedescendant")).toBe("patient-option-1");

    keydown(input, "Enter");
    await until(() => router.currentRoute.value.path === "/patients/p-2", "navigation to the card");
    wrapper.unmount();
  });

  it("searches as the receptionist types and says when nothing matches", async () => {
    const seen: string[] = [];
    const { wrapper } = await mountPatients(PatientSearchView, searchServer(seen), "/patients");
    await until(() => wrapper.findAll("[role=option]").length === 3, "recent patients");
    type(inputByLabel("환자 검색"), "없는사람");
    await until(() => wrapper.text().includes("'없는사람'에 맞는 환자가 없습니다"), "no results");
    expect(seen).toEqual(["", "없는사람"]);
    expect(buttonByText("새 환자로 등록")).toBeTruthy();
    wrapper.unmount();
  });

  it("shows the error and a retry when the search fails", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(PatientService, {
        searchPatients: () => {
          throw new ConnectError("down", Code.Unavailable);
        },
      });
    });
    const { wrapper } = await mountPatients(PatientSearchView, transport, "/patients");
    await until(() => wrapper.text().includes("서버에 연결할 수 없습니다"), "error");
    expect(buttonByText("다시 시도")).toBeTruthy();
    wrapper.unmount();
  });
});

describe("PatientFormView", () => {
  function formServer(onDuplicates: (req: FindDuplicatesRequest) => PatientSummary[], creates: CreatePatientRequest[] = []) {
    return createRouterTransport(({ service }) => {
      service(PatientService, {
        findDuplicates: (req: FindDuplicatesRequest) => ({ patients: onDuplicates(req) }),
        createPatient: (req: CreatePatientRequest) => {
          creates.push(req);
          if (!req.allowDuplicate) throw new ConnectError("may be the same person", Code.FailedPrecondition);
          return { patient: savedPatient({ id: "p-new", details: req.details }) };
        },
      });
    });
  }

  it("keeps a half-filled registration for this tab, without the registration number, and offers it back", async () => {
    const first = await mountPatients(PatientFormView, formServer(() => []), "/patients/new");
    await until(() => first.wrapper.text().includes("새 환자 등록"), "form");
    type(inputByLabel("이름"), "이초안");
    type(inputByLabel("주민등록번호"), "900101-1234567");
    await until(() => (sessionStorage.getItem("molar.patients.newDraft") ?? "").includes("이초안"), "draft kept");
    expect(sessionStorage.getItem("molar.patients.newDraft")).not.toContain("1234567");
    first.wrapper.unmount();

    const again = await mountPatients(PatientFormView, formServer(() => []), "/patients/new");
    await until(() => document.querySelector("[data-testid=draft-restored]") !== null, "draft offered");
    expect(inputByLabel("이름").value).toBe("이초안");
    expect(inputByLabel("주민등록번호").value).toBe("");
    buttonByText("버리고 새로 쓰기").click();
    await until(() => inputByLabel("이름").value === "", "discarded");
    expect(sessionStorage.getItem("molar.patients.newDraft")).toBeNull();
    again.wrapper.unmount();
  });

  it("shows the schema's violation next to the phone field and sends nothing", async () => {
    const creates: CreatePatientRequest[] = [];
    const { wrapper } = await mountPatients(PatientFormView, formServer(() => [], creates), "/patients/new");
    await until(() => wrapper.text().includes("새 환자 등록"), "form");
    type(inputByLabel("이름"), "김민수");
    type(inputByLabel("생년월일"), "1990-01-01");
    inputByLabel("남").click();
    const phone = inputByLabel("휴대전화");
    type(phone, "12345");
    await wrapper.vm.$nextTick();
    await wrapper.find("form").trigger("submit");
    await until(() => phone.closest(".v-input")!.textContent!.includes("형식이 올바르지 않습니다"), "phone error");
    expect(phone.closest(".v-input")!.textContent).toContain("010-1234-5678");
    expect(wrapper.text()).toContain("입력한 내용을 확인해 주세요");
    expect(inputByLabel("이름").closest(".v-input")!.textContent).not.toContain("형식");
    expect(creates).toHaveLength(0);
    wrapper.unmount();
  });

  it("warns about possible duplicates while typing and registers anyway after the server refuses", async () => {
    const asked: FindDuplicatesRequest[] = [];
    const creates: CreatePatientRequest[] = [];
    const { wrapper, router } = await mountPatients(
      PatientFormView,
      formServer((req) => {
        asked.push(req);
        return req.name === "김민수" && req.birthDate === "1990-01-01" ? [summary({ id: "p-1", chartNumber: 101n })] : [];
      }, creates),
      "/patients/new",
    );
    await until(() => wrapper.text().includes("새 환자 등록"), "form");
    type(inputByLabel("이름"), "김민수");
    type(inputByLabel("생년월일"), "1990-01-01");
    await until(() => wrapper.find("[data-testid=duplicates]").exists(), "duplicate warning");
    const warning = wrapper.find("[data-testid=duplicates]");
    expect(warning.text()).toContain("같은 사람일 수 있는 환자가 있습니다");
    expect(warning.text()).toContain("#101");
    expect(warning.find("a").attributes("href")).toBe("/patients/p-1");
    expect(asked.at(-1)).toMatchObject({ name: "김민수", birthDate: "1990-01-01" });

    inputByLabel("남").click();
    await wrapper.vm.$nextTick();
    await wrapper.find("form").trigger("submit");
    await until(() => wrapper.find("[data-testid=duplicates-blocked]").exists(), "refusal");
    buttonByText("그래도 등록").click();
    await until(() => router.currentRoute.value.path === "/patients/p-new", "card of the new patient");
    expect(creates.map((c) => c.allowDuplicate)).toEqual([false, true]);
    expect(creates[1]!.details?.sex).toBe(Sex.MALE);
    wrapper.unmount();
  });
});

describe("PatientCardView", () => {
  function cardServer() {
    return createRouterTransport(({ service }) => {
      service(PatientService, {
        getPatient: () => ({ patient: savedPatient() }),
        revealRrn: () => ({ rrn: "900101-1234567" }),
      });
    });
  }

  it("shows the medical alerts and hides the chart from the front desk", async () => {
    const { wrapper } = await mountPatients(PatientCardView, cardServer(), "/patients/p-1", [Role.FRONT_DESK]);
    await until(() => wrapper.find("[data-testid=patient-name]").exists(), "card");
    expect(wrapper.find("[data-testid=medical-alerts]").text()).toContain("페니실린");
    expect(wrapper.find("[data-testid=medical-alerts]").text()).toContain("고혈압");
    const tabs = wrapper.findAll(".v-tab").map((x) => x.text());
    expect(tabs).toEqual(["환자 정보", "방문 기록", "수납"]);
    expect(wrapper.text()).toContain("900101-1******");
    wrapper.unmount();
  });

  it("reveals the registration number for those who may", async () => {
    const { wrapper } = await mountPatients(PatientCardView, cardServer(), "/patients/p-1?tab=info", [Role.ADMIN]);
    await until(() => wrapper.find("[data-testid=rrn]").exists(), "details");
    expect(wrapper.findAll(".v-tab").map((x) => x.text())).toEqual(["치아 차트", "진료 기록", "영상", "환자 정보", "이력", "방문 기록", "수납", "열람 기록"]);
    buttonByText("보기").click();
    await until(() => wrapper.find("[data-testid=rrn]").text().includes("900101-1234567"), "revealed");
    wrapper.unmount();
  });
});
