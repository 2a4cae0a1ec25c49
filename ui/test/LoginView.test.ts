import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport, type ConnectRouter } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import LoginView from "../src/views/LoginView.vue";
import { AuthService } from "../src/gen/molar/v1/auth_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { useAuthStore } from "../src/stores/auth";
import { buttonByText, inputByLabel, mountView, piniaWith, type, until } from "./helpers";
import { FakeAuth, meFor } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

function withClinic(auth: (r: ConnectRouter) => void) {
  return createRouterTransport((r) => {
    auth(r);
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
  });
}

async function signIn(email: string, password: string): Promise<void> {
  type(inputByLabel("이메일"), email);
  type(inputByLabel("비밀번호"), password);
  await w!.vm.$nextTick();
  await w!.find("form").trigger("submit");
}

describe("LoginView", () => {
  it("shows the clinic's name above the form", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "ko", "/login");
    await until(() => w!.text().includes("서울미소치과의원"), "clinic name");
    expect(buttonByText("로그인").type).toBe("submit");
  });

  it("shows the generic failure and clears the password", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "ko", "/login");
    await signIn("nobody@molar.test", "wrong password");
    await until(() => w!.text().includes("이메일 또는 비밀번호가 올바르지 않습니다"), "failure");
    expect(inputByLabel("비밀번호").value).toBe("");
    expect(inputByLabel("이메일").value).toBe("nobody@molar.test");
    expect(server.calls.login).toBe(1);
  });

  it("says it in English too", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "en", "/login");
    type(inputByLabel("Email"), "x@molar.test");
    type(inputByLabel("Password"), "nope");
    await w.vm.$nextTick();
    await w.find("form").trigger("submit");
    await until(() => w!.text().includes("Incorrect email or password"), "failure");
  });

  it("asks for what is missing without calling the server", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "ko", "/login");
    await w.find("form").trigger("submit");
    await until(() => w!.text().includes("이메일을 입력해 주세요"), "email required");
    expect(w.text()).toContain("비밀번호를 입력해 주세요");
    expect(server.calls.login).toBe(0);
  });

  it("shows the lockout with the time to wait and holds the button", async () => {
    let calls = 0;
    const transport = withClinic((r) =>
      r.service(AuthService, {
        login: () => {
          calls++;
          throw new ConnectError("locked", Code.ResourceExhausted, new Headers({ "Retry-After": "300" }));
        },
      }),
    );
    w = await mountView(LoginView, transport, "ko", "/login");
    await signIn("admin@molar.test", "whatever");
    await until(() => w!.text().includes("로그인 시도가 너무 많습니다"), "lockout");
    expect(w.text()).toMatch(/(5분|4분 59초) 후에 다시 시도해 주세요/);
    expect(buttonByText("로그인").disabled).toBe(true);
    // Enter does nothing while locked.
    type(inputByLabel("비밀번호"), "again");
    await w.find("form").trigger("submit");
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBe(1);
  });

  it("signs in and goes where the user was headed", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "ko", "/login?redirect=/settings/staff");
    await signIn("admin@molar.test", server.password);
    await until(() => w!.vm.$router.currentRoute.value.path === "/settings/staff", "redirect");
  });

  it("sends a user with a temporary password to change it", async () => {
    const server = new FakeAuth(meFor([Role.FRONT_DESK], { mustChangePassword: true }));
    w = await mountView(LoginView, withClinic((r) => server.routes(r)), "ko", "/login?redirect=/billing");
    await signIn("admin@molar.test", server.password);
    await until(() => w!.vm.$router.currentRoute.value.path === "/account/password", "change password");
    expect(w.vm.$router.currentRoute.value.query.redirect).toBe("/billing");
  });

  it("says why the user is here after the session ended", async () => {
    const server = new FakeAuth(meFor([Role.ADMIN]));
    const transport = withClinic((r) => server.routes(r));
    const pinia = piniaWith(transport);
    useAuthStore().clear("expired");
    w = await mountView(LoginView, transport, "ko", "/login", pinia);
    await until(() => w!.text().includes("로그인이 만료되었습니다"), "notice");
  });
});
