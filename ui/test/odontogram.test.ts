import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import { create } from "@bufbuild/protobuf";
import {
  ChartEntrySchema,
  Condition,
  EntryStatus,
  ProcedureCategory,
  ProcedureSchema,
  Surface,
  type ChartEntry,
  type Procedure,
} from "../src/gen/molar/v1/chart_pb";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { patientsEn, patientsKo } from "../src/i18n/patients";
import { chartColors, sideOf } from "../src/components/chart/teeth";
import Odontogram from "../src/components/chart/Odontogram.vue";

function mountOdontogram(props: { entries?: ChartEntry[]; catalog?: Map<string, Procedure>; selectedTooth?: number | null; selectedSurfaces?: Surface[] } = {}) {
  const i18n = createAppI18n("ko");
  i18n.global.mergeLocaleMessage("ko", { patients: patientsKo });
  i18n.global.mergeLocaleMessage("en", { patients: patientsEn });
  return mount(Odontogram, {
    attachTo: document.body,
    props: { entries: [], ...props },
    global: { plugins: [i18n, createAppVuetify("ko")] },
  });
}

/** The mean x of a polygon's corners. */
function centreX(el: Element): number {
  const xs = el
    .getAttribute("points")!
    .split(" ")
    .map((p) => Number(p.split(",")[0]));
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function entry(overrides: Partial<Omit<ChartEntry, "$typeName">>): ChartEntry {
  return create(ChartEntrySchema, { id: "e", ...overrides });
}

describe("Odontogram", () => {
  it("draws the 32 permanent teeth in FDI order, facing the patient", () => {
    const w = mountOdontogram();
    const teeth = w.findAll("[data-tooth]").map((g) => Number(g.attributes("data-tooth")));
    expect(teeth).toHaveLength(32);
    expect(teeth.slice(0, 16)).toEqual([18, 17, 16, 15, 14, 13, 12, 11, 21, 22, 23, 24, 25, 26, 27, 28]);
    expect(teeth.slice(16)).toEqual([48, 47, 46, 45, 44, 43, 42, 41, 31, 32, 33, 34, 35, 36, 37, 38]);
    for (const g of w.findAll("[data-tooth]")) {
      expect(g.findAll("[data-surface]").map((s) => s.attributes("data-surface"))).toEqual(["M", "O", "D", "B", "L"]);
    }
    expect(w.find('[data-tooth="36"]').attributes("aria-label")).toBe("36번 치아");
    expect(w.find('[data-tooth="36"] [data-surface="O"]').attributes("aria-label")).toBe("36번 치아 교합면");
    expect(w.find('[data-tooth="11"] [data-surface="O"]').attributes("aria-label")).toBe("11번 치아 절단면");
    expect(w.find('[data-tooth="16"] [data-surface="L"]').attributes("aria-label")).toBe("16번 치아 구개측면");
    w.unmount();
  });

  it("emits the tooth and surface clicked, adding to the selection on the same tooth", async () => {
    const w = mountOdontogram();
    await w.find('[data-tooth="36"] [data-surface="M"]').trigger("click");
    expect(w.emitted("select")).toEqual([[36, [Surface.M]]]);

    await w.setProps({ selectedTooth: 36, selectedSurfaces: [Surface.M] });
    await w.find('[data-tooth="36"] [data-surface="O"]').trigger("click");
    expect(w.emitted("select")![1]).toEqual([36, [Surface.M, Surface.O]]);
    await w.find('[data-tooth="36"] [data-surface="M"]').trigger("click");
    expect(w.emitted("select")![2]).toEqual([36, []]);

    await w.find('[data-tooth="21"] [data-surface="B"]').trigger("click");
    expect(w.emitted("select")![3]).toEqual([21, [Surface.B]]);

    await w.find('[data-tooth="46"] .tooth-number').trigger("click");
    expect(w.emitted("select")![4]).toEqual([46, []]);
    w.unmount();
  });

  it("puts the mesial surface towards the midline in every quadrant", () => {
    const w = mountOdontogram();
    const midline = (centreX(w.find('[data-tooth="11"] [data-surface="O"]').element) + centreX(w.find('[data-tooth="21"] [data-surface="O"]').element)) / 2;
    for (const tooth of [16, 26, 36, 46, 11, 21, 31, 41, 18, 28, 38, 48]) {
      const m = centreX(w.find(`[data-tooth="${tooth}"] [data-surface="M"]`).element);
      const d = centreX(w.find(`[data-tooth="${tooth}"] [data-surface="D"]`).element);
      // Mesial is nearer the midline than distal.
      expect(Math.abs(m - midline), `tooth ${tooth}`).toBeLessThan(Math.abs(d - midline));
    }
    // The patient's right is on the viewer's left.
    expect(w.find('[data-tooth="16"] [data-surface="M"]').attributes("data-side")).toBe("right");
    expect(w.find('[data-tooth="46"] [data-surface="M"]').attributes("data-side")).toBe("right");
    expect(w.find('[data-tooth="26"] [data-surface="M"]').attributes("data-side")).toBe("left");
    expect(w.find('[data-tooth="36"] [data-surface="M"]').attributes("data-side")).toBe("left");
    // Lingual faces the space between the arches.
    expect(sideOf(16, "L")).toBe("bottom");
    expect(sideOf(36, "L")).toBe("top");
    expect(sideOf(36, "B")).toBe("bottom");
    w.unmount();
  });

  it("shows the primary teeth when asked", async () => {
    const w = mountOdontogram();
    await w.setProps({ primary: true });
    const teeth = w.findAll("[data-tooth]").map((g) => Number(g.attributes("data-tooth")));
    expect(teeth).toEqual([55, 54, 53, 52, 51, 61, 62, 63, 64, 65, 85, 84, 83, 82, 81, 71, 72, 73, 74, 75]);
    expect(w.find('[data-tooth="85"] [data-surface="M"]').attributes("data-side")).toBe("right");
    expect(w.find('[data-tooth="75"] [data-surface="M"]').attributes("data-side")).toBe("left");
    w.unmount();
  });

  it("colours surfaces by status, crosses out missing teeth and extractions, and rings crowns", () => {
    const catalog = new Map([
      ["SG-EXT", create(ProcedureSchema, { code: "SG-EXT", category: ProcedureCategory.SURGICAL, requiresTooth: true })],
      ["PR-CR-Z", create(ProcedureSchema, { code: "PR-CR-Z", category: ProcedureCategory.PROSTHETIC, requiresTooth: true })],
    ]);
    const w = mountOdontogram({
      catalog,
      entries: [
        entry({ id: "1", tooth: 36, surfaces: [Surface.O], kind: { case: "procedureCode", value: "RS-CR" }, status: EntryStatus.PLANNED }),
        entry({ id: "2", tooth: 26, surfaces: [Surface.M, Surface.O], kind: { case: "procedureCode", value: "RS-CR" }, status: EntryStatus.COMPLETED }),
        entry({ id: "3", tooth: 17, surfaces: [Surface.B], kind: { case: "condition", value: Condition.CARIES } }),
        entry({ id: "4", tooth: 46, surfaces: [], kind: { case: "condition", value: Condition.MISSING } }),
        entry({ id: "5", tooth: 38, surfaces: [], kind: { case: "procedureCode", value: "SG-EXT" }, status: EntryStatus.PLANNED }),
        entry({ id: "6", tooth: 16, surfaces: [], kind: { case: "procedureCode", value: "PR-CR-Z" }, status: EntryStatus.EXISTING }),
      ],
    });
    expect(w.find('[data-tooth="36"] [data-surface="O"]').attributes("fill")).toBe(chartColors.planned);
    expect(w.find('[data-tooth="36"] [data-surface="M"]').attributes("fill")).toBe("#ffffff");
    expect(w.find('[data-tooth="26"] [data-surface="M"]').attributes("fill")).toBe(chartColors.completed);
    expect(w.find('[data-tooth="17"] [data-surface="B"]').attributes("fill")).toBe(chartColors.condition);
    expect(w.find('[data-tooth="46"] [data-mark="cross"]').attributes("stroke")).toBe(chartColors.condition);
    expect(w.find('[data-tooth="38"] [data-mark="cross"]').attributes("stroke")).toBe(chartColors.planned);
    expect(w.find('[data-tooth="16"] [data-mark="outline"]').attributes("stroke")).toBe(chartColors.existing);
    expect(w.find('[data-tooth="16"] [data-mark="cross"]').exists()).toBe(false);
    w.unmount();
  });
});
