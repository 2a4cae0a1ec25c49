import { describe, expect, it } from "vitest";
import type { Component } from "vue";
import { mount } from "@vue/test-utils";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import {
  CatalogService,
  ChartEntrySchema,
  ChartService,
  EntryStatus,
  NoteRevisionSchema,
  NoteSchema,
  ProcedureCategory,
  ProcedureSchema,
  Surface,
  type AddChartEntryRequest,
  type AmendNoteRequest,
  type ChartEntry,
  type Note,
  type SetChartEntryStatusRequest,
} from "../src/gen/molar/v1/chart_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { transportKey } from "../src/api/transport";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { patientsEn, patientsKo } from "../src/i18n/patients";
import { useAuthStore } from "../src/stores/auth";
import { useChartStore } from "../src/stores/chart";
import { chartColors } from "../src/components/chart/teeth";
import ChartPanel from "../src/components/chart/ChartPanel.vue";
import NotesPanel from "../src/components/chart/NotesPanel.vue";
import { buttonByText, inputByLabel, piniaWith, type, until } from "./helpers";
import { meFor } from "./authServer";

const catalog = [
  create(ProcedureSchema, {
    code: "RS-CR",
    nameKo: "레진 충전",
    nameEn: "Composite resin filling",
    category: ProcedureCategory.RESTORATIVE,
    fee: 100000n,
    requiresTooth: true,
    requiresSurfaces: true,
    active: true,
  }),
  create(ProcedureSchema, {
    code: "PR-CR-Z",
    nameKo: "지르코니아 크라운",
    nameEn: "Zirconia crown",
    category: ProcedureCategory.PROSTHETIC,
    fee: 550000n,
    requiresTooth: true,
    active: true,
  }),
  create(ProcedureSchema, { code: "PV-SCAL", nameKo: "스케일링", nameEn: "Scaling", category: ProcedureCategory.PREVENTIVE, fee: 15000n, active: true }),
];

/** A chart and notes server that keeps what it is told, with a clock that ticks a second per change. */
class FakeChart {
  entries: ChartEntry[] = [];
  times: Timestamp[] = [];
  notes: Note[] = [];
  adds: AddChartEntryRequest[] = [];
  statuses: SetChartEntryStatusRequest[] = [];
  amends: AmendNoteRequest[] = [];
  /** Who is signed in: notes are written and amended in their name. */
  author = "김원장";
  private clock = Date.UTC(2025, 2, 4, 1, 0, 0);

  tick(): Timestamp {
    this.clock += 1000;
    const ts = timestampFromMs(this.clock);
    this.times.push(ts);
    return ts;
  }

  transport(): Transport {
    return createRouterTransport(({ service }) => {
      service(CatalogService, { listProcedures: () => ({ procedures: catalog }) });
      service(ChartService, {
        getChart: () => ({ entries: this.entries, revision: BigInt(this.times.length), changeTimes: this.times }),
        addChartEntry: (req) => {
          this.adds.push(req);
          const proc = catalog.find((p) => p.code === req.procedureCode);
          const at = this.tick();
          const e = create(ChartEntrySchema, {
            id: `e-${this.entries.length + 1}`,
            tooth: req.tooth,
            surfaces: req.surfaces,
            kind: proc ? { case: "procedureCode", value: proc.code } : { case: "condition", value: req.condition },
            procedureName: proc?.nameKo ?? "",
            fee: proc?.fee ?? 0n,
            status: proc ? req.status : EntryStatus.UNSPECIFIED,
            createTime: at,
          });
          this.entries = [...this.entries, e];
          return { entry: e };
        },
        setChartEntryStatus: (req) => {
          this.statuses.push(req);
          this.tick();
          this.entries = this.entries.map((e) => (e.id === req.entryId ? { ...e, status: req.status } : e));
          return { entry: this.entries.find((e) => e.id === req.entryId) };
        },
        removeChartEntry: (req) => {
          this.tick();
          this.entries = this.entries.filter((e) => e.id !== req.entryId);
          return {};
        },
        listNotes: (req) => ({ notes: [...this.notes].reverse().filter((n) => !req.tag || n.tags.includes(req.tag)) }),
        addNote: (req) => {
          const at = this.tick();
          const n = create(NoteSchema, {
            id: `p-1.n${this.notes.length + 1}`,
            patientId: req.patientId,
            title: req.title,
            content: req.content,
            tags: req.tags,
            authorName: this.author,
            createTime: at,
            updatedBy: this.author,
            updateTime: at,
            version: 1n,
          });
          this.notes.push(n);
          return { note: n };
        },
        amendNote: (req) => {
          this.amends.push(req);
          const i = this.notes.findIndex((n) => n.id === req.noteId);
          const n = this.notes[i]!;
          if (n.version !== req.version) throw new ConnectError("the note was amended by someone else", Code.Aborted);
          const amended = create(NoteSchema, {
            ...n,
            title: req.title,
            content: req.content,
            tags: req.tags,
            version: n.version + 1n,
            updatedBy: this.author,
            updateTime: this.tick(),
            revisions: [
              ...n.revisions,
              create(NoteRevisionSchema, { title: n.title, content: n.content, tags: n.tags, authorName: n.updatedBy, time: n.updateTime }),
            ],
          });
          this.notes[i] = amended;
          return { note: amended };
        },
        removeNote: () => ({}),
      });
    });
  }
}

async function mountClinical(component: Component, transport: Transport, props: Record<string, unknown>) {
  const pinia = piniaWith(transport);
  useAuthStore().me = meFor([Role.DENTIST]);
  const i18n = createAppI18n("ko");
  i18n.global.mergeLocaleMessage("ko", { patients: patientsKo });
  i18n.global.mergeLocaleMessage("en", { patients: patientsEn });
  return mount(component, {
    attachTo: document.body,
    props,
    global: { plugins: [pinia, i18n, createAppVuetify("ko")], provide: { [transportKey as symbol]: transport } },
  });
}

function click(el: Element): void {
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
}

describe("ChartPanel", () => {
  it("charts a planned filling on a surface and marks it completed", async () => {
    const server = new FakeChart();
    const w = await mountClinical(ChartPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-tooth="36"]').exists(), "odontogram");
    expect(w.text()).toContain("차트에 기록이 없습니다");

    click(w.find('[data-tooth="36"] [data-surface="O"]').element);
    await w.vm.$nextTick();
    click(w.find('[data-tooth="36"] [data-surface="M"]').element);
    await until(() => w.find("[data-testid=tooth-title]").exists(), "tooth panel");
    expect(w.find("[data-testid=tooth-title]").text()).toBe("36번 치아");
    expect(w.find("[data-testid=selected-surfaces]").text()).toContain("O");
    expect(w.find("[data-testid=selected-surfaces]").text()).toContain("M");

    // The autocomplete finds the procedure by its Korean name.
    const procedure = inputByLabel("처치 항목");
    procedure.focus();
    await new Promise((r) => setTimeout(r, 0)); // as a person pauses between focusing and typing
    type(procedure, "레진");
    await until(() => [...document.querySelectorAll(".v-overlay .v-list-item")].some((x) => x.textContent?.includes("레진 충전")), "procedure list");
    const options = [...document.querySelectorAll(".v-overlay .v-list-item")];
    expect(options.map((x) => x.textContent)).toEqual([expect.stringContaining("RS-CR")]);
    click(options[0]!);
    await until(() => procedure.value.includes("RS-CR") || w.text().includes("RS-CR 레진 충전"), "procedure chosen");
    expect(inputByLabel("계획").checked).toBe(true);

    buttonByText("추가").click();
    await until(() => server.adds.length === 1 && w.find("[data-entry-id=e-1]").exists(), "entry charted");
    expect(server.adds[0]).toMatchObject({ patientId: "p-1", tooth: 36, procedureCode: "RS-CR", status: EntryStatus.PLANNED });
    expect([...server.adds[0]!.surfaces].sort()).toEqual([Surface.M, Surface.O]);
    await until(() => w.find('[data-tooth="36"] [data-surface="O"]').attributes("fill") === chartColors.planned, "planned colour");
    expect(w.find("[data-testid=chart-entries]").text()).toContain("₩100,000");
    expect(w.find("[data-testid=total-planned]").text()).toBe("₩100,000");

    const panel = w.find("[data-testid=tooth-panel]").element as HTMLElement;
    buttonByText("완료", panel).click();
    await until(() => server.statuses.length === 1 && w.find("[data-testid=total-completed]").text() === "₩100,000", "completed");
    expect(server.statuses[0]).toMatchObject({ patientId: "p-1", entryId: "e-1", status: EntryStatus.COMPLETED });
    expect(w.find('[data-tooth="36"] [data-surface="O"]').attributes("fill")).toBe(chartColors.completed);
    expect([...panel.querySelectorAll("button")].some((b) => b.textContent?.trim() === "완료")).toBe(false);
    // Two changes: the history slider appears.
    expect(w.find("[data-testid=chart-history]").exists()).toBe(true);
    w.unmount();
  });

  it("refuses a surface filling without surfaces before sending", async () => {
    const server = new FakeChart();
    const w = await mountClinical(ChartPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-tooth="21"]').exists(), "odontogram");
    await w.find('[data-tooth="21"] .tooth-number').trigger("click");
    await until(() => w.find("[data-testid=add-entry]").exists(), "add form");
    await useChartStore().loadCatalog();
    const procedure = inputByLabel("처치 항목");
    procedure.focus();
    await new Promise((r) => setTimeout(r, 0)); // as a person pauses between focusing and typing
    type(procedure, "Composite");
    await until(() => document.querySelectorAll(".v-overlay .v-list-item").length === 1, "procedure list");
    click(document.querySelector(".v-overlay .v-list-item")!);
    await until(() => w.text().includes("이 처치는 치면을 골라야 합니다"), "hint");
    expect(buttonByText("추가").disabled).toBe(true);
    expect(server.adds).toHaveLength(0);
    w.unmount();
  });

  it("shows the chart as it was and goes back to now", async () => {
    const server = new FakeChart();
    const w = await mountClinical(ChartPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find('[data-tooth="36"]').exists(), "odontogram");
    const store = useChartStore();
    await store.addEntry({ tooth: 36, surfaces: [Surface.O], procedureCode: "RS-CR", status: EntryStatus.PLANNED });
    await store.addEntry({ tooth: 11, surfaces: [], procedureCode: "PR-CR-Z", status: EntryStatus.PLANNED });
    await store.load("p-1", server.times[0]!);
    await until(() => w.find("[data-testid=chart-past]").exists(), "past banner");
    // Read-only in the past.
    await w.find('[data-tooth="36"] .tooth-number').trigger("click");
    await w.vm.$nextTick();
    expect(w.find("[data-testid=add-entry]").exists()).toBe(false);
    buttonByText("현재로").click();
    await until(() => !w.find("[data-testid=chart-past]").exists(), "back to now");
    expect(w.find("[data-testid=add-entry]").exists()).toBe(true);
    w.unmount();
  });
});

describe("chart store", () => {
  it("shows only the latest of several history loads, whatever order they answer in", async () => {
    const release: (() => void)[] = [];
    const times = [timestampFromMs(1_000), timestampFromMs(2_000), timestampFromMs(3_000)];
    const transport = createRouterTransport(({ service }) => {
      service(ChartService, {
        getChart: async (req) => {
          await new Promise<void>((r) => release.push(r));
          const n = req.asOf ? times.findIndex((t) => t.seconds === req.asOf!.seconds) + 1 : 3;
          return {
            entries: Array.from({ length: n }, (_, i) => create(ChartEntrySchema, { id: `e-${i + 1}`, tooth: 11 + i })),
            revision: BigInt(n),
            changeTimes: times,
          };
        },
      });
    });
    piniaWith(transport);
    useAuthStore().me = meFor([Role.DENTIST]);
    const store = useChartStore();
    const first = store.load("p-1", times[0]!);
    const second = store.load("p-1", times[1]!);
    await until(() => release.length === 2, "both loads sent");
    release[1]!();
    await second;
    release[0]!();
    await first;
    expect(store.entries.map((e) => e.id)).toEqual(["e-1", "e-2"]);
    expect(store.revision).toBe(2n);
    expect(store.past).toBe(true);
    expect(store.loading).toBe(false);
  });
});

describe("NotesPanel", () => {
  it("shows who wrote each version of an amended note, when, and what changed", async () => {
    const server = new FakeChart();
    const written = timestampFromMs(Date.UTC(2025, 2, 4, 1, 0, 0));
    server.notes.push(
      create(NoteSchema, {
        id: "p-1.n1",
        patientId: "p-1",
        title: "초진",
        content: "36 교합면 우식 의심",
        tags: ["진단"],
        authorName: "김원장",
        createTime: written,
        updatedBy: "김원장",
        updateTime: written,
        version: 1n,
      }),
    );
    const w = await mountClinical(NotesPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.find("[data-note-id='p-1.n1']").exists(), "note");
    expect(w.text()).toContain("36 교합면 우식 의심");
    expect(w.find("[data-testid=note-versions]").exists()).toBe(false);

    // Someone else amends it: the title, the text and the tags.
    server.author = "이지은";
    buttonByText("정정", w.find("[data-note-id='p-1.n1']").element as HTMLElement).click();
    await until(() => document.body.textContent!.includes("진료 기록 정정"), "editor");
    const content = inputByLabel("내용") as unknown as HTMLTextAreaElement;
    expect(content.value).toBe("36 교합면 우식 의심");
    type(inputByLabel("제목"), "초진 진단");
    type(content as unknown as HTMLInputElement, "36 교합면 우식 확진, 레진 충전 계획");
    buttonByText("저장").click();
    await until(() => server.amends.length === 1 && w.text().includes("레진 충전 계획"), "amended");
    expect(server.amends[0]).toMatchObject({ noteId: "p-1.n1", version: 1n, title: "초진 진단" });

    // The card names the first author and the one who amended it, each with their own time (Asia/Seoul).
    const note = w.find("[data-note-id='p-1.n1']");
    expect(note.text()).toContain("정정 1회");
    expect(note.find("[data-testid=note-written]").text()).toMatch(/^작성 김원장 · 2025\. 03\. 04\. 10:00:00$/);
    expect(note.find("[data-testid=note-amended]").text()).toMatch(/^최종 정정 이지은 · 2025\. 03\. 04\. 10:00:01$/);

    const versions = note.find("[data-testid=note-versions]");
    expect(versions.text()).toContain("버전 기록 (2개)");
    await versions.find("button").trigger("click");
    await until(() => note.findAll("[data-testid=version]").length === 2, "version list");
    const [v2, v1] = note.findAll("[data-testid=version]");
    const labels = note.findAll("[data-testid=version-label]").map((l) => l.text());
    expect(labels).toEqual(["v2 · 이지은 · 2025. 03. 04. 10:00:01", "v1 · 김원장 · 2025. 03. 04. 10:00:00"]);
    expect(v2!.text()).toContain("현재");
    expect(v1!.text()).toContain("36 교합면 우식 의심");

    // What v2 changed, word by word: marked up as insertions and deletions, and announced as such.
    const added = v2!.findAll("ins").map((e) => e.text());
    const removed = v2!.findAll("del").map((e) => e.text());
    expect(added).toEqual(["[추가 시작] 진단[추가 끝]", "[추가 시작]확진, 레진 충전 계획[추가 끝]"]);
    expect(removed).toEqual(["[삭제 시작]의심[삭제 끝]"]);
    expect(v2!.find("[data-testid=version-change]").text()).toContain("36 교합면 우식");
    expect(v2!.text()).not.toContain("태그");
    w.unmount();
  });

  it("shows tags put on and taken off, and a version that changed nothing", async () => {
    const server = new FakeChart();
    const w = await mountClinical(NotesPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.text().includes("진료 기록이 없습니다"), "empty state");
    const note = await useChartStore().addNote("상담", "임플란트 상담", ["상담"]);
    server.author = "박서준";
    const once = await useChartStore().amendNote(note!, "상담", "임플란트 상담", ["상담", "임플란트"]);
    const twice = await useChartStore().amendNote(once!, "상담", "임플란트 상담", ["임플란트"]);
    await useChartStore().amendNote(twice!, "상담", "임플란트 상담", ["임플란트"]);
    await until(() => w.findAll("[data-note-id]").length === 1, "note");
    await w.find("[data-testid=note-versions] button").trigger("click");
    await until(() => w.findAll("[data-testid=version]").length === 4, "version list");
    const [v4, v3, v2] = w.findAll("[data-testid=version]");
    expect(v4!.text()).toContain("바뀐 내용이 없습니다");
    expect(v3!.find("del").text()).toBe("[삭제 시작]\u2212상담[삭제 끝]");
    expect(v3!.find("ins").exists()).toBe(false);
    expect(v2!.find("ins").text()).toBe("[추가 시작]+임플란트[추가 끝]");
    expect(new Set(w.findAll("[data-testid=version-label]").map((l) => l.text())).size).toBe(4);
    w.unmount();
  });

  it("writes a note that goes on top and filters by tag", async () => {
    const server = new FakeChart();
    server.notes.push(
      create(NoteSchema, { id: "p-1.n1", patientId: "p-1", title: "초진", content: "파노라마 촬영", tags: ["진단"], authorName: "김원장", version: 1n }),
    );
    const w = await mountClinical(NotesPanel, server.transport(), { patientId: "p-1", canWrite: true });
    await until(() => w.findAll("[data-note-id]").length === 1, "first note");
    buttonByText("기록 작성").click();
    await until(() => document.body.textContent!.includes("진료 기록 작성"), "editor");
    buttonByText("저장").click();
    await until(() => inputByLabel("제목").closest(".v-input")!.textContent!.includes("제목을 입력해 주세요"), "title required");
    type(inputByLabel("제목"), "상담");
    type(inputByLabel("내용") as unknown as HTMLInputElement, "임플란트 상담");
    buttonByText("저장").click();
    await until(() => w.findAll("[data-note-id]").length === 2, "note added");
    expect(w.findAll("[data-note-id]")[0]!.text()).toContain("임플란트 상담");

    const chip = w.findAll(".v-chip-group .v-chip").find((c) => c.text() === "진단")!;
    await chip.trigger("click");
    await until(() => w.findAll("[data-note-id]").length === 1, "filtered");
    expect(w.find("[data-note-id]").attributes("data-note-id")).toBe("p-1.n1");
    expect(useChartStore().notesTag).toBe("진단");
    w.unmount();
  });

  it("hides writing from those who may only read", async () => {
    const server = new FakeChart();
    const w = await mountClinical(NotesPanel, server.transport(), { patientId: "p-1", canWrite: false });
    await until(() => w.text().includes("진료 기록이 없습니다"), "empty state");
    expect(() => buttonByText("기록 작성")).toThrow();
    w.unmount();
  });
});
