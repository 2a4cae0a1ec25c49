import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import BackupsView from "../src/views/settings/BackupsView.vue";
import {
  BackupFailure,
  BackupRunSchema,
  BackupScheduleSchema,
  BackupService,
  BackupTrigger,
  GetBackupStatusResponseSchema,
  type BackupRun,
  type GetBackupStatusResponse,
} from "../src/gen/molar/v1/backup_pb";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { formatBytes } from "../src/components/backup/format";
import { buttonByText, mountView, until } from "./helpers";
import { FakeAuth, meFor, signedIn } from "./authServer";
import { savedClinic } from "./fixtures";

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

const hour = 3600_000;

/** A run that started at (UTC) and took a minute. */
function run(id: string, at: Date, overrides: Partial<Omit<BackupRun, "$typeName">> = {}): BackupRun {
  return create(BackupRunSchema, {
    id,
    trigger: BackupTrigger.SCHEDULED,
    startTime: timestampFromDate(at),
    endTime: timestampFromDate(new Date(at.getTime() + 60_000)),
    file: `molar-backup-${id}.tar.zst.age`,
    sizeBytes: 1_468_006n,
    images: 42,
    engine: "sqlite",
    ...overrides,
  });
}

/** A daily schedule whose last backup ran an hour ago (15:00 UTC is midnight in Seoul). */
function healthy(): GetBackupStatusResponse {
  const now = Date.now();
  const ok = run("ok", new Date(now - hour));
  return create(GetBackupStatusResponseSchema, {
    schedule: create(BackupScheduleSchema, {
      enabled: true,
      every: durationFromMs(24 * hour),
      keep: 14,
      directory: "/mnt/backup/molar",
      recipients: ["age1example"],
      nextTime: timestampFromDate(new Date(Date.UTC(2030, 0, 1, 15, 0, 0))),
    }),
    lastSuccess: ok,
    recent: [ok],
  });
}

async function mountBackups(status: () => GetBackupStatusResponse, locale: "ko" | "en" = "ko") {
  const routes = (r: ConnectRouter) => {
    r.service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
    r.service(BackupService, { getBackupStatus: status });
  };
  const { transport, pinia } = await signedIn(new FakeAuth(meFor([Role.ADMIN])), routes);
  return mountView(BackupsView, transport, locale, "/settings/backups", pinia);
}

const byTestId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`);

describe("BackupsView", () => {
  it("shows the last backup, the next one and the schedule", async () => {
    w = await mountBackups(healthy);
    await until(() => byTestId("backup-last") !== null, "last backup");
    expect(byTestId("backup-state")!.textContent).toContain("정상");
    const last = byTestId("backup-last")!.textContent!;
    expect(last).toContain(formatBytes(1_468_006n, "ko"));
    expect(last).toContain("1.40 MB");
    expect(last).toContain("영상 42건");
    expect(last).toContain("molar-backup-ok.tar.zst.age");
    // The next backup at midnight in Seoul.
    expect(byTestId("backup-next")!.textContent).toContain("2030. 01. 02. 00:00:00");
    expect(w.text()).toContain("1일마다");
    expect(w.text()).toContain("최근 14개");
    expect(w.text()).toContain("/mnt/backup/molar");
    expect(byTestId("backup-no-failures")!.textContent).toContain("최근 실패가 없습니다");
  });

  it("shows a failure with its reason in the owner's language and its detail", async () => {
    const status = () => {
      const s = healthy();
      const failed = run("full", new Date(Date.now() - 10 * 60_000), {
        failure: BackupFailure.NO_SPACE,
        error: "write /mnt/backup/molar/.partial-x: no space left on device",
        sizeBytes: 0n,
      });
      s.recent = [failed, ...s.recent];
      return s;
    };
    w = await mountBackups(status);
    await until(() => byTestId("backup-failures") !== null, "failures");
    expect(byTestId("backup-state")!.textContent).toContain("최근 백업 실패");
    const failures = byTestId("backup-failures")!.textContent!;
    expect(failures).toContain("백업 디스크에 공간이 없습니다");
    expect(failures).toContain("no space left on device");
    const runs = [...byTestId("backup-runs")!.querySelectorAll("tbody tr")].map((r) => r.textContent!);
    expect(runs).toHaveLength(2);
    expect(runs[0]).toContain("백업 디스크에 공간이 없습니다");
    expect(runs[1]).toContain("성공");
    expect(runs[1]).toContain("예약");
    w.unmount();

    w = await mountBackups(status, "en");
    await until(() => byTestId("backup-failures") !== null, "failures");
    expect(byTestId("backup-state")!.textContent).toContain("Last backup failed");
    expect(byTestId("backup-failures")!.textContent).toContain("The backup disk is full");
  });

  it("says when backups are late", async () => {
    w = await mountBackups(() => {
      const s = healthy();
      const old = run("old", new Date(Date.now() - 3 * 24 * hour));
      s.lastSuccess = old;
      s.recent = [old];
      return s;
    });
    await until(() => byTestId("backup-state") !== null, "state");
    expect(byTestId("backup-state")!.textContent).toContain("백업이 늦어지고 있음");
    expect(w.text()).toContain("예약 주기의 두 배보다 오래되었습니다");
  });

  it("says when scheduled backups are off and none has been made", async () => {
    w = await mountBackups(() => create(GetBackupStatusResponseSchema, { schedule: create(BackupScheduleSchema, { enabled: false }) }));
    await until(() => byTestId("backup-off") !== null, "off");
    expect(byTestId("backup-state")!.textContent).toContain("예약 백업 꺼짐");
    expect(byTestId("backup-off")!.textContent).toContain("MOLAR_BACKUP_DIR");
    expect(byTestId("backup-last")!.textContent).toContain("아직 성공한 백업이 없습니다");
    expect(byTestId("backup-next")).toBeNull();
  });

  it("shows why it could not load, with a retry", async () => {
    let fail = true;
    w = await mountBackups(() => {
      if (fail) throw new ConnectError("down", Code.Unavailable);
      return healthy();
    });
    await until(() => w!.text().includes("백업 상태를 불러오지 못했습니다"), "error");
    fail = false;
    buttonByText("다시 시도").click();
    await until(() => byTestId("backup-last") !== null, "loaded after retry");
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [1023, "1,023 B"],
    [1536, "1.50 KB"],
    [250 * 1024 * 1024, "250 MB"],
    [3.5 * 1024 ** 3, "3.50 GB"],
  ])("%d bytes is %s", (n, want) => {
    expect(formatBytes(n, "en")).toBe(want);
  });
});
