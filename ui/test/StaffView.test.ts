import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { VueWrapper } from "@vue/test-utils";
import StaffView from "../src/views/settings/StaffView.vue";
import { StaffService, type CreateStaffRequest, type StaffMember } from "../src/gen/molar/v1/staff_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { buttonByText, inputByLabel, mountView, type, until } from "./helpers";
import { FakeAuth, meFor, signedIn, staffMember } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

/** A staff service holding accounts in memory, behind the fake sign-in. */
function fakeStaff() {
  const auth = new FakeAuth(meFor([Role.ADMIN]));
  const accounts: StaffMember[] = [
    staffMember(),
    staffMember({ id: "s-desk", email: "desk@molar.test", displayName: "이데스크", roles: [Role.FRONT_DESK], mustChangePassword: true }),
    staffMember({ id: "s-old", email: "old@molar.test", displayName: "박퇴사", roles: [Role.HYGIENIST], disabled: true }),
  ];
  const created: CreateStaffRequest[] = [];
  const disabled: { id: string; disabled: boolean }[] = [];
  let failCreate: ConnectError | null = null;
  const routes = (r: ConnectRouter) => {
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
    r.service(StaffService, {
      listStaff: (_, ctx) => {
        auth.check(ctx);
        return { staff: accounts };
      },
      createStaff: (req, ctx) => {
        auth.check(ctx);
        if (failCreate) throw failCreate;
        created.push(req);
        const m = staffMember({ id: `s-${created.length + 10}`, email: req.email, displayName: req.displayName, roles: req.roles, mustChangePassword: true });
        accounts.push(m);
        return { staff: m };
      },
      setStaffDisabled: (req, ctx) => {
        auth.check(ctx);
        disabled.push({ id: req.id, disabled: req.disabled });
        const m = accounts.find((a) => a.id === req.id)!;
        return { staff: { ...m, disabled: req.disabled, version: m.version + 1n } };
      },
    });
  };
  return {
    auth,
    routes,
    created,
    disabled,
    failCreateWith(err: ConnectError) {
      failCreate = err;
    },
  };
}

async function mountSignedIn(s: ReturnType<typeof fakeStaff>) {
  const { transport, pinia } = await signedIn(s.auth, s.routes);
  return mountView(StaffView, transport, "ko", "/settings/staff", pinia);
}

function row(name: string): HTMLElement {
  const tr = [...document.querySelectorAll<HTMLElement>("tbody tr")].find((r) => r.textContent?.includes(name));
  if (!tr) throw new Error(`no row ${name}`);
  return tr;
}

function dialog(): HTMLElement {
  const d = document.querySelector<HTMLElement>("[data-testid=staff-dialog]");
  if (!d) throw new Error("no dialog");
  return d;
}

describe("StaffView", () => {
  it("lists staff with their roles and status", async () => {
    const s = fakeStaff();
    w = await mountSignedIn(s);
    await until(() => w!.text().includes("박퇴사"), "list");
    expect(row("김원장").textContent).toContain("admin@molar.test");
    expect(row("김원장").textContent).toContain("관리자");
    expect(row("김원장").textContent).toContain("나");
    expect(row("이데스크").textContent).toContain("데스크");
    expect(row("이데스크").textContent).toContain("사용 중");
    expect(row("이데스크").textContent).toContain("비밀번호 변경 대기");
    expect(row("박퇴사").textContent).toContain("사용 중지됨");
    expect(row("박퇴사").textContent).toContain("다시 사용");
    // An admin cannot lock themselves out from here.
    expect(() => buttonByText("사용 중지", row("김원장"))).toThrow();
    expect(buttonByText("사용 중지", row("이데스크"))).toBeTruthy();
  });

  it("creates an account with a temporary password", async () => {
    const s = fakeStaff();
    w = await mountSignedIn(s);
    await until(() => w!.text().includes("박퇴사"), "list");
    buttonByText("직원 추가").click();
    await until(() => document.querySelector("[data-testid=staff-dialog]") !== null, "dialog");
    const temp = inputByLabel("임시 비밀번호", dialog()).value;
    expect(temp.length).toBeGreaterThanOrEqual(10);
    type(inputByLabel("이름", dialog()), "최위생");
    type(inputByLabel("이메일", dialog()), "hyg@molar.test");
    inputByLabel("치위생사", dialog()).click();
    await w.vm.$nextTick();
    dialog().querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => s.created.length === 1, "create");
    expect(s.created[0]).toMatchObject({ email: "hyg@molar.test", displayName: "최위생", roles: [Role.HYGIENIST], temporaryPassword: temp });
    await until(() => w!.text().includes("hyg@molar.test"), "new row");
    await until(() => document.body.textContent!.includes("최위생 계정을 만들었습니다"), "notice");
  });

  it("checks the schema's rules before sending", async () => {
    const s = fakeStaff();
    w = await mountSignedIn(s);
    await until(() => w!.text().includes("박퇴사"), "list");
    buttonByText("직원 추가").click();
    await until(() => document.querySelector("[data-testid=staff-dialog]") !== null, "dialog");
    type(inputByLabel("이름", dialog()), "최위생");
    type(inputByLabel("이메일", dialog()), "not an email");
    type(inputByLabel("임시 비밀번호", dialog()), "short");
    await w.vm.$nextTick();
    dialog().querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => dialog().textContent!.includes("하나 이상 고르세요"), "roles");
    const email = inputByLabel("이메일", dialog()).closest(".v-input")!;
    expect(email.textContent).toContain("이메일 형식이 올바르지 않습니다");
    expect(inputByLabel("임시 비밀번호", dialog()).closest(".v-input")!.textContent).toContain("10자 이상 입력해 주세요");
    expect(s.created).toHaveLength(0);
    type(inputByLabel("이메일", dialog()), "");
    await w.vm.$nextTick();
    dialog().querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => inputByLabel("이메일", dialog()).closest(".v-input")!.textContent!.includes("이메일을 입력해 주세요"), "email empty");
  });

  it("shows the server's 'email taken' next to the email", async () => {
    const s = fakeStaff();
    s.failCreateWith(
      new ConnectError("invalid", Code.InvalidArgument, undefined, [
        {
          desc: ViolationsSchema,
          value: create(ViolationsSchema, {
            violations: [{ field: { elements: [{ fieldName: "email" }] }, ruleId: "staff.email.taken", message: "an account with this email exists" }],
          }),
        },
      ]),
    );
    w = await mountSignedIn(s);
    await until(() => w!.text().includes("박퇴사"), "list");
    buttonByText("직원 추가").click();
    await until(() => document.querySelector("[data-testid=staff-dialog]") !== null, "dialog");
    type(inputByLabel("이름", dialog()), "중복");
    type(inputByLabel("이메일", dialog()), "desk@molar.test");
    inputByLabel("데스크", dialog()).click();
    await w.vm.$nextTick();
    dialog().querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => dialog().textContent!.includes("이 이메일로 등록된 계정이 이미 있습니다"), "taken");
    expect(inputByLabel("이메일", dialog()).closest(".v-input")!.textContent).toContain("이 이메일로 등록된 계정이 이미 있습니다");
  });

  it("disables an account after confirmation", async () => {
    const s = fakeStaff();
    w = await mountSignedIn(s);
    await until(() => w!.text().includes("이데스크"), "list");
    buttonByText("사용 중지", row("이데스크")).click();
    await until(() => document.querySelector("[data-testid=staff-dialog]") !== null, "confirm");
    expect(dialog().textContent).toContain("이데스크 계정을 사용 중지할까요?");
    expect(s.disabled).toHaveLength(0);
    buttonByText("사용 중지", dialog()).click();
    await until(() => s.disabled.length === 1, "disable");
    expect(s.disabled[0]).toEqual({ id: "s-desk", disabled: true });
    await until(() => row("이데스크").textContent!.includes("사용 중지됨"), "status");
  });

  it("shows a retry when the list cannot be loaded", async () => {
    const transport = createRouterTransport(({ service }) => {
      service(StaffService, {
        listStaff: () => {
          throw new ConnectError("down", Code.Unavailable);
        },
      });
      service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
    });
    w = await mountView(StaffView, transport, "ko", "/settings/staff");
    await until(() => w!.text().includes("직원 목록을 불러오지 못했습니다"), "error");
    expect(w.text()).toContain("다시 시도");
  });
});
