import { computed, watch } from "vue";
import { Permission } from "../../gen/molar/v1/access_pb";
import { Condition, EntryStatus, type ChartEntry } from "../../gen/molar/v1/chart_pb";
import { AppointmentStatus, type Appointment } from "../../gen/molar/v1/schedule_pb";
import { useAuthStore } from "../../stores/auth";
import { useChartStore } from "../../stores/chart";
import { startOf, usePatientVisitsStore, useScheduleStore } from "../../stores/schedule";
import { useDateTime } from "../../composables/useDateTime";
import { todayIn } from "../patients/format";
import { useScheduleFormat } from "../schedule/format";
import { hhmm, zoned } from "../schedule/time";
import { useImageWords } from "./useImageWords";

/** One choice of a visit or chart entry select. */
export interface LinkChoice {
  value: string;
  title: string;
}

/** Visits that did not happen: offered only when an image is already linked to one. */
function happened(a: Appointment): boolean {
  return a.status !== AppointmentStatus.CANCELLED && a.status !== AppointmentStatus.NO_SHOW;
}

/**
 * What an image can be linked to: the patient's visits (with PATIENTS_READ)
 * and chart entries (with CHART_READ), as choices for a select and as
 * readable words for an id, and the patient's visit of today, if any.
 */
export function useImageLinks(patientId: () => string) {
  const auth = useAuthStore();
  const visits = usePatientVisitsStore();
  const schedule = useScheduleStore();
  const chart = useChartStore();
  const fmt = useScheduleFormat();
  const { t, day } = useImageWords();
  const { timeZone } = useDateTime();

  /** Whether the visits can be listed (a select the user cannot fill is hidden). */
  const canVisits = computed(() => auth.can(Permission.PATIENTS_READ));
  /** Whether the chart can be read. */
  const canEntries = computed(() => auth.can(Permission.CHART_READ));

  function load(): void {
    const id = patientId();
    if (!id) return;
    if (canVisits.value && visits.patientId !== id) {
      void visits.load(id);
      void schedule.loadResources();
    }
    if (canEntries.value && chart.patientId !== id && !chart.loading) void chart.load(id);
  }
  watch(patientId, load, { immediate: true });

  const appointments = computed<Appointment[]>(() =>
    visits.patientId === patientId() ? [...visits.upcoming, ...visits.past].sort((a, b) => startOf(b).getTime() - startOf(a).getTime()) : [],
  );
  const entries = computed<ChartEntry[]>(() => (chart.patientId === patientId() ? chart.entries : []));

  /** "2025. 3. 4. (화) 10:30–11:00 · 김원장". */
  function visitText(a: Appointment): string {
    const z = zoned(startOf(a), timeZone.value);
    const provider = fmt.providerName(a.providerId);
    return [`${day(z.date)} ${hhmm(z.minutes)}–${hhmm(z.minutes + a.minutes)}`, provider].filter(Boolean).join(" · ");
  }

  /** "#36 레진 충전 · 계획", "#46 충치", "구강 전체 스케일링 · 완료". */
  function entryText(e: ChartEntry): string {
    const where = e.tooth ? `#${e.tooth}` : t("patients.chart.wholeMouth");
    if (e.kind.case === "procedureCode") {
      const status = t(`patients.entryStatus.ENTRY_STATUS_${EntryStatus[e.status] ?? "UNSPECIFIED"}`);
      return `${where} ${e.procedureName || e.kind.value} · ${status}`;
    }
    const c = e.kind.case === "condition" ? e.kind.value : Condition.UNSPECIFIED;
    return `${where} ${t(`patients.condition.CONDITION_${Condition[c] ?? "UNSPECIFIED"}`)}`;
  }

  /** The visits to choose from, latest first; `keep` stays even if it did not happen. */
  function visitChoices(keep = ""): LinkChoice[] {
    return appointments.value.filter((a) => happened(a) || a.id === keep).map((a) => ({ value: a.id, title: visitText(a) }));
  }

  /** The chart entries to choose from, by tooth. */
  const entryChoices = computed<LinkChoice[]>(() =>
    [...entries.value].sort((a, b) => a.tooth - b.tooth).map((e) => ({ value: e.id, title: entryText(e) })),
  );

  /** The patient's visit today (the X-ray is usually taken at it), or "". */
  const todayVisit = computed(() => {
    const today = todayIn(timeZone.value);
    const a = appointments.value.filter((x) => happened(x) && zoned(startOf(x), timeZone.value).date === today);
    // The visit under way, else the first of the day.
    const now = a.find((x) => x.status === AppointmentStatus.IN_CHAIR || x.status === AppointmentStatus.ARRIVED);
    return (now ?? a.at(-1))?.id ?? "";
  });

  /** Readable words for a linked visit; a note when it cannot be found. */
  function visitLabel(id: string): string {
    const a = appointments.value.find((x) => x.id === id);
    if (a) return visitText(a);
    if (!canVisits.value || visits.loading) return t("images.links.notShown");
    return t("images.links.visitGone");
  }

  /** Readable words for a linked chart entry; a note when it is no longer on the chart. */
  function entryLabel(id: string): string {
    const e = entries.value.find((x) => x.id === id);
    if (e) return entryText(e);
    if (!canEntries.value || chart.loading) return t("images.links.notShown");
    return t("images.links.entryGone");
  }

  /** Under a select whose list could not be loaded. */
  const visitsError = computed(() => (visits.patientId === patientId() && visits.problem ? [t("images.links.loadFailed")] : []));
  const entriesError = computed(() => (chart.patientId === patientId() && chart.loadProblem ? [t("images.links.loadFailed")] : []));

  return { canVisits, canEntries, visitsError, entriesError, visitChoices, entryChoices, todayVisit, visitLabel, entryLabel };
}
