import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import ClinicSettingsView from "../src/views/settings/ClinicSettingsView.vue";
import { buttonByText, mountView, piniaWith, until } from "./helpers";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AppointmentSchema, AppointmentStatus, ScheduleService } from "../src/gen/molar/v1/schedule_pb";
import { PatientService } from "../src/gen/molar/v1/patient_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { useAuthStore } from "../src/stores/auth";
import { meFor } from "./authServer";
import { savedClinic } from "./fixtures";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function server(updateClinic: (req: any) => any) {
  return createRouterTransport(({ service }) => {
    service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }), updateClinic });
  });
}

function inputByLabel(root: HTMLElement, label: string): HTMLInputElement {
  const l = [...root.querySelectorAll("label[for]")].find((x) => x.textContent?.trim() === label);
  if (!l) throw new Error(`no label ${label}`);
  const input = document.getElementById(l.getAttribute("for")!) as HTMLInputElement | null;
  if (!input) throw new Error(`no input for ${label}`);
  return input;
}

describe("ClinicSettingsView", () => {
  it("shows the loaded clinic and saves an edit", async () => {
    let saved = "";
    const w = await mountView(
      ClinicSettingsView,
      server((req: { clinic: ReturnType<typeof savedClinic> }) => {
        saved = req.clinic.name;
        return { clinic: { ...req.clinic, version: 4n } };
      }),
    );
    await until(() => w.text().includes("기본 정보"), "form");
    const name = inputByLabel(w.element as HTMLElement, "의원 이름");
    expect(name.value).toBe("서울미소치과의원");
    name.value = "새이름치과의원";
    name.dispatchEvent(new Event("input"));
    await w.vm.$nextTick();
    expect(w.text()).toContain("저장하지 않은 변경이 있습니다");
    await w.find("form").trigger("submit");
    await until(() => saved !== "", "save");
    expect(saved).toBe("새이름치과의원");
    w.unmount();
  });

  it("shows the schema's violation next to the phone field, in Korean", async () => {
    const w = await mountView(ClinicSettingsView, server(() => ({})));
    await until(() => w.text().includes("기본 정보"), "form");
    const phone = inputByLabel(w.element as HTMLElement, "대표 전화");
    phone.value = "12345";
    phone.dispatchEvent(new Event("input"));
    await w.vm.$nextTick();
    await w.find("form").trigger("submit");
    await until(() => w.text().includes("형식이 올바르지 않습니다"), "phone error");
    const field = phone.closest(".v-input")!;
    expect(field.textContent).toContain("형식이 올바르지 않습니다");
    expect(w.text()).toContain("입력한 내용을 확인해 주세요");
    w.unmount();
  });

  it("shows a server-side rule next to its field", async () => {
    const detail = create(ViolationsSchema, {
      violations: [
        {
          field: { elements: [{ fieldName: "clinic" }, { fieldName: "business_registration_number" }] },
          ruleId: "clinic.business_registration_number.checksum",
          message: "check digit does not match",
        },
      ],
    });
    const w = await mountView(
      ClinicSettingsView,
      server(() => {
        throw new ConnectError("invalid", Code.InvalidArgument, undefined, [{ desc: ViolationsSchema, value: detail }]);
      }),
      "en",
    );
    await until(() => w.text().includes("Profile"), "form");
    await w.find("form").trigger("submit");
    await until(() => w.text().includes("check digit"), "brn error");
    const brn = inputByLabel(w.element as HTMLElement, "Business registration no.");
    expect(brn.closest(".v-input")!.textContent).toContain("Not a valid business registration number");
    w.unmount();
  });

  it("offers a reload when someone else saved first", async () => {
    const w = await mountView(
      ClinicSettingsView,
      server(() => {
        throw new ConnectError("changed", Code.Aborted);
      }),
    );
    await until(() => w.text().includes("기본 정보"), "form");
    await w.find("form").trigger("submit");
    await until(() => w.text().includes("다른 사용자가 먼저 저장했습니다"), "conflict");
    expect(w.text()).toContain("새로 불러오기");
    w.unmount();
  });

  it("shows a retry when the clinic cannot be loaded", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(ClinicService, {
        getClinic: () => {
          throw new ConnectError("down", Code.Unavailable);
        },
        updateClinic: () => ({}),
      });
    });
    const w = await mountView(ClinicSettingsView, transport);
    await until(() => w.text().includes("의원 정보를 불러오지 못했습니다"), "error state");
    expect(w.text()).toContain("서버에 연결할 수 없습니다");
    expect(w.text()).toContain("다시 시도");
    w.unmount();
  });
});

describe("closing a day", () => {
  it("lists the day's appointments with phone numbers before saving, and saves once confirmed", async () => {
    const saved: string[][] = [];
    const transport = createRouterTransport(({ service }) => {
      service(ClinicService, {
        getClinic: () => ({ clinic: savedClinic() }),
        updateClinic: (req) => {
          const clinic = req.clinic!;
          saved.push(clinic.closedDays.map((d) => d.date));
          clinic.version = 4n;
          return { clinic };
        },
      });
      service(ScheduleService, {
        listResources: () => ({ providers: [{ id: "dr-kim", name: "김하늘 원장", active: true }], chairs: [], types: [] }),
        listSchedule: (req) => ({
          appointments:
            req.startDate === "2030-03-04"
              ? [
                  create(AppointmentSchema, {
                    id: "a1",
                    patientId: "p-1",
                    patientName: "임준하",
                    chartNumber: 299n,
                    providerId: "dr-kim",
                    startTime: timestampFromDate(new Date("2030-03-04T10:00:00+09:00")),
                    minutes: 30,
                    status: AppointmentStatus.BOOKED,
                  }),
                  create(AppointmentSchema, { id: "a2", patientId: "p-2", patientName: "취소됨", status: AppointmentStatus.CANCELLED }),
                ]
              : [],
        }),
      });
      service(PatientService, {
        getPatient: (req) => ({ patient: { id: req.id, details: { name: "임준하", mobilePhone: "01098765432" } } }),
      });
    });
    const pinia = piniaWith(transport);
    useAuthStore().me = meFor([Role.ADMIN]);
    const w = await mountView(ClinicSettingsView, transport, "ko", "/", pinia);
    await until(() => w.text().includes("휴진일 추가"), "form");
    buttonByText("휴진일 추가").click();
    await w.vm.$nextTick();
    const dates = [...document.querySelectorAll<HTMLInputElement>("input[type=date]")];
    const date = dates[dates.length - 1]!;
    date.value = "2030-03-04";
    date.dispatchEvent(new Event("input"));
    await w.vm.$nextTick();
    await w.find("form").trigger("submit");
    await until(() => document.querySelector("[data-testid=closing-dialog]") !== null, "closing dialog");
    const dialog = document.querySelector<HTMLElement>("[data-testid=closing-dialog]")!;
    expect(dialog.textContent).toContain("예약 1건이 남아 있습니다");
    expect(dialog.textContent).toContain("임준하");
    expect(dialog.textContent).not.toContain("취소됨");
    await until(() => dialog.querySelector("[data-testid=call-phone] a")?.textContent === "010-9876-5432", "phone");
    expect(saved).toEqual([]);
    dialog.querySelector<HTMLElement>("[data-testid=closing-confirm]")!.click();
    await until(() => saved.length === 1, "saved");
    expect(saved[0]).toContain("2030-03-04");
    w.unmount();
  });
});
