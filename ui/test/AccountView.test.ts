import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { VueWrapper } from "@vue/test-utils";
import AccountView from "../src/views/AccountView.vue";
import { SessionSchema } from "../src/gen/molar/v1/auth_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { describeUserAgent } from "../src/components/account/userAgent";
import { buttonByText, inputByLabel, mountView, type, until } from "./helpers";
import { FakeAuth, meFor, signedIn } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

const chromeWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const safariIphone =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

async function mountAccount() {
  const server = new FakeAuth(meFor([Role.DENTIST], { displayName: "정치과", email: "dentist@molar.test" }));
  server.sessions = [
    create(SessionSchema, { id: "sess-1", current: true, ip: "10.0.0.7", userAgent: chromeWindows, createTime: timestampFromDate(new Date()) }),
    create(SessionSchema, { id: "sess-2", ip: "10.0.0.9", userAgent: safariIphone, createTime: timestampFromDate(new Date()) }),
  ];
  const { transport, pinia } = await signedIn(server, (r) => r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) }));
  w = await mountView(AccountView, transport, "ko", "/account", pinia);
  return server;
}

describe("AccountView", () => {
  it("lists sessions, marks this device and ends another", async () => {
    const server = await mountAccount();
    await until(() => w!.text().includes("이 기기"), "sessions");
    const items = [...document.querySelectorAll<HTMLElement>("[data-session-id]")];
    expect(items).toHaveLength(2);
    expect(items[0]!.textContent).toContain("Chrome 126 · Windows");
    expect(items[0]!.textContent).toContain("이 기기");
    expect(() => buttonByText("세션 종료", items[0]!)).toThrow();
    expect(items[1]!.textContent).toContain("Safari 17 · iOS");
    buttonByText("세션 종료", items[1]!).click();
    await until(() => server.revoked.length === 1, "revoke");
    expect(server.revoked).toEqual(["sess-2"]);
    await until(() => document.querySelectorAll("[data-session-id]").length === 1, "removed");
  });

  it("checks the new password in the browser first", async () => {
    const server = await mountAccount();
    await until(() => w!.text().includes("이 기기"), "loaded");
    type(inputByLabel("현재 비밀번호"), "whatever");
    type(inputByLabel("새 비밀번호"), "short");
    type(inputByLabel("비밀번호 확인"), "different");
    await w!.vm.$nextTick();
    await w!.find("form.change-password").trigger("submit");
    await until(() => w!.text().includes("10자 이상 입력해 주세요"), "too short");
    expect(w!.text()).toContain("새 비밀번호와 일치하지 않습니다");
    type(inputByLabel("새 비밀번호"), "whatever");
    type(inputByLabel("비밀번호 확인"), "whatever");
    await w!.vm.$nextTick();
    await w!.find("form.change-password").trigger("submit");
    await until(() => w!.text().includes("10자 이상 입력해 주세요"), "still too short");
    type(inputByLabel("새 비밀번호"), "whatever-but-longer");
    type(inputByLabel("비밀번호 확인"), "whatever-but-longer!");
    await w!.vm.$nextTick();
    await w!.find("form.change-password").trigger("submit");
    await until(() => w!.text().includes("새 비밀번호와 일치하지 않습니다"), "mismatch");
    expect(server.changes).toHaveLength(0);
  });

  it("changes the password and picks up a fresh token", async () => {
    const server = await mountAccount();
    await until(() => w!.text().includes("이 기기"), "loaded");
    const refreshes = server.calls.refresh;
    const old = server.password;
    type(inputByLabel("현재 비밀번호"), old);
    type(inputByLabel("새 비밀번호"), "a much better passphrase");
    type(inputByLabel("비밀번호 확인"), "a much better passphrase");
    await w!.vm.$nextTick();
    await w!.find("form.change-password").trigger("submit");
    await until(() => server.changes.length === 1, "change");
    expect(server.changes[0]).toMatchObject({ currentPassword: old, newPassword: "a much better passphrase" });
    await until(() => document.body.textContent!.includes("비밀번호를 변경했습니다"), "notice");
    expect(server.calls.refresh).toBe(refreshes + 1);
    expect(inputByLabel("현재 비밀번호").value).toBe("");
  });

  it("puts a wrong current password next to its field", async () => {
    const server = await mountAccount();
    await until(() => w!.text().includes("이 기기"), "loaded");
    type(inputByLabel("현재 비밀번호"), "not the password");
    type(inputByLabel("새 비밀번호"), "a much better passphrase");
    type(inputByLabel("비밀번호 확인"), "a much better passphrase");
    await w!.vm.$nextTick();
    await w!.find("form.change-password").trigger("submit");
    await until(() => server.changes.length === 1, "change");
    await until(() => w!.text().includes("현재 비밀번호가 올바르지 않습니다"), "wrong");
    expect(inputByLabel("현재 비밀번호").closest(".v-input")!.textContent).toContain("현재 비밀번호가 올바르지 않습니다");
  });
});

describe("describeUserAgent", () => {
  it("names common browsers", () => {
    expect(describeUserAgent(chromeWindows)).toEqual({ browser: "Chrome 126", os: "Windows", mobile: false });
    expect(describeUserAgent(safariIphone)).toEqual({ browser: "Safari 17", os: "iOS", mobile: true });
    const whale =
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Whale/3.26.244.21 Safari/537.36";
    expect(describeUserAgent(whale).browser).toBe("Whale 3");
    expect(describeUserAgent("").browser).toBe("");
  });
});
