import { afterEach, describe, expect, it } from "vitest";
import { createRouterTransport } from "@connectrpc/connect";
import { createMolar } from "../src/app";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { StaffService } from "../src/gen/molar/v1/staff_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { buttonByText, inputByLabel, type, until } from "./helpers";
import { FakeAuth, meFor, staffMember } from "./authServer";
import { savedClinic } from "./fixtures";

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
  document.body.innerHTML = "";
});

/** Starts the whole app as main.ts does, over a fake server, at path. */
async function start(server: FakeAuth, path = "/") {
  const molar = createMolar({
    memoryHistory: true,
    locale: "ko",
    transport: (interceptors) =>
      createRouterTransport(
        (r) => {
          server.routes(r);
          r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
          r.service(StaffService, {
            listStaff: (_, ctx) => {
              server.check(ctx);
              return { staff: [staffMember()] };
            },
          });
        },
        { transport: { interceptors } },
      ),
  });
  const el = document.createElement("div");
  document.body.appendChild(el);
  molar.app.mount(el);
  await molar.router.isReady();
  if (path !== "/") await molar.router.push(path);
  stop = () => molar.app.unmount();
  return molar;
}

const text = () => document.body.textContent ?? "";
const drawer = () => document.querySelector(".v-navigation-drawer");
const navTitles = () => [...document.querySelectorAll(".v-navigation-drawer .v-list-item-title")].map((e) => e.textContent?.trim());

async function signInWithForm(email: string, password: string): Promise<void> {
  await until(() => document.querySelector("form") !== null, "login form");
  type(inputByLabel("이메일"), email);
  type(inputByLabel("비밀번호"), password);
  await new Promise((r) => setTimeout(r, 0));
  document.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true }));
}

describe("the app shell", () => {
  it("shows the sign-in page without the shell, then the shell with what the front desk may open", async () => {
    const server = new FakeAuth(meFor([Role.FRONT_DESK], { displayName: "이데스크", email: "desk@molar.test" }));
    const { router } = await start(server, "/settings/staff");
    await until(() => router.currentRoute.value.path === "/login", "login");
    expect(router.currentRoute.value.query.redirect).toBe("/settings/staff");
    await until(() => text().includes("서울미소치과의원"), "clinic name on the sign-in page");
    expect(drawer()).toBeNull();
    expect(document.querySelector("[data-testid=user-menu]")).toBeNull();

    await signInWithForm("desk@molar.test", server.password);
    // Headed for staff management, which the front desk may not open.
    await until(() => router.currentRoute.value.name === "forbidden", "forbidden");
    await until(() => text().includes("이 화면을 볼 권한이 없습니다"), "no-permission page");
    expect(document.querySelector(".staff-table")).toBeNull();
    await until(() => drawer() !== null, "drawer");
    expect(navTitles()).toEqual(["Molar", "예약", "환자", "수납"]);
  });

  it("has a user menu with the account and sign-out", async () => {
    const server = new FakeAuth(meFor([Role.FRONT_DESK], { displayName: "이데스크", email: "desk@molar.test" }));
    server.session = true;
    const { router } = await start(server, "/schedule");
    await until(() => document.querySelector("[data-testid=user-menu]") !== null, "user menu");
    const menuButton = document.querySelector<HTMLButtonElement>("[data-testid=user-menu]")!;
    expect(menuButton.textContent).toContain("이데스크");
    expect(menuButton.getAttribute("aria-label")).toBe("사용자 메뉴 (이데스크)");
    menuButton.click();
    await until(() => text().includes("로그아웃"), "menu open");
    expect(text()).toContain("내 계정");
    expect(text()).toContain("desk@molar.test");
    expect(text()).toContain("데스크");
    const signOut = [...document.querySelectorAll<HTMLElement>(".v-list-item")].find((e) => e.textContent?.trim() === "로그아웃")!;
    signOut.click();
    await until(() => router.currentRoute.value.path === "/login", "back to sign-in");
    expect(router.currentRoute.value.query.redirect).toBeUndefined();
    expect(server.calls.logout).toBe(1);
    await until(() => text().includes("로그아웃했습니다"), "signed-out notice");
    expect(drawer()).toBeNull();
  });

  it("does not mount the protected screen again while the session ends", async () => {
    const server = new FakeAuth(meFor([Role.DENTIST]));
    server.session = true;
    const { router } = await start(server, "/account");
    await until(() => server.calls.listSessions === 1, "sessions loaded");
    document.querySelector<HTMLButtonElement>("[data-testid=user-menu]")!.click();
    await until(() => text().includes("로그아웃"), "menu open");
    [...document.querySelectorAll<HTMLElement>(".v-list-item")].find((e) => e.textContent?.trim() === "로그아웃")!.click();
    await until(() => router.currentRoute.value.path === "/login", "sign-in");
    await new Promise((r) => setTimeout(r, 50));
    expect(server.calls.listSessions).toBe(1);
    expect(server.calls.refresh).toBe(1);
  });

  it("shows an admin every settings page", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    server.session = true;
    const { router } = await start(server, "/settings");
    await until(() => router.currentRoute.value.path === "/settings/clinic", "first settings page");
    await until(() => document.querySelectorAll(".v-tab").length === 7, "tabs");
    expect([...document.querySelectorAll(".v-tab")].map((e) => e.textContent?.trim())).toEqual(["의원 정보", "예약 설정", "수가표", "직원 관리", "감사 기록", "백그라운드 작업", "백업"]);
    expect(navTitles()).toEqual(["Molar", "예약", "환자", "수납", "설정"]);
    await router.push("/settings/staff");
    await until(() => text().includes("admin@molar.test"), "staff list");
  });

  it("keeps a user with a temporary password on the change screen, then lets them in", async () => {
    const server = new FakeAuth(meFor([Role.FRONT_DESK], { mustChangePassword: true }));
    const { router } = await start(server, "/billing");
    await signInWithForm("admin@molar.test", server.password);
    await until(() => router.currentRoute.value.path === "/account/password", "change password");
    await until(() => text().includes("새 비밀번호를 정해 주세요"), "forced change page");
    expect(drawer()).toBeNull();

    type(inputByLabel("현재 비밀번호"), server.password);
    type(inputByLabel("새 비밀번호"), "my own passphrase");
    type(inputByLabel("비밀번호 확인"), "my own passphrase");
    await new Promise((r) => setTimeout(r, 0));
    document.querySelector("form.change-password")!.dispatchEvent(new Event("submit", { cancelable: true }));
    await until(() => router.currentRoute.value.path === "/billing", "on to billing");
    await until(() => drawer() !== null, "shell");
  });

  it("has a language switch on the sign-in page", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    await start(server, "/login");
    await until(() => document.querySelector("form") !== null, "form");
    buttonByText("English").click();
    await until(() => text().includes("Sign in"), "English");
    expect(inputByLabel("Email")).toBeTruthy();
    expect(inputByLabel("Password")).toBeTruthy();
  });
});
