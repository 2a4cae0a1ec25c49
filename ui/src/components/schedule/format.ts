import { storeToRefs } from "pinia";
import { useI18n } from "vue-i18n";
import type { Appointment, AppointmentType } from "../../gen/molar/v1/schedule_pb";
import { startOf, useScheduleStore } from "../../stores/schedule";
import { statusKey } from "./status";
import { hhmm, weekdayOf, zoned } from "./time";

/** Words for dates, times and names of the appointment book, in the clinic's zone and the user's language. */
export function useScheduleFormat() {
  const { t, locale } = useI18n();
  const store = useScheduleStore();
  const { timeZone, typeById, providerById, chairById } = storeToRefs(store);

  /** "3월 4일 (화)" for "2025-03-04". */
  function dayLabel(date: string): string {
    const [, m = "1", d = "1"] = date.split("-");
    return t("schedule.dayLabel", { month: Number(m), day: Number(d), weekday: t(`schedule.weekdayShort.w${weekdayOf(date)}`) });
  }

  /** "3월 4일 (화) 10:30" for an instant. */
  function when(at: Date): string {
    const z = zoned(at, timeZone.value);
    return `${dayLabel(z.date)} ${hhmm(z.minutes)}`;
  }

  /** "10:30–11:00" for an appointment. */
  function timeRange(a: Appointment): string {
    const z = zoned(startOf(a), timeZone.value);
    return t("schedule.timeRange", { from: hhmm(z.minutes), to: hhmm(z.minutes + a.minutes) });
  }

  function typeName(ty: AppointmentType | undefined): string {
    if (!ty) return "";
    return locale.value === "ko" ? ty.nameKo : ty.nameEn || ty.nameKo;
  }

  function typeOf(a: Appointment): string {
    return typeName(typeById.value.get(a.typeId));
  }

  function providerName(id: string): string {
    return providerById.value.get(id)?.name ?? id;
  }

  function chairName(id: string): string {
    return chairById.value.get(id)?.name ?? id;
  }

  function statusText(a: Appointment): string {
    return t(`schedule.status.${statusKey(a.status)}`);
  }

  function chartNo(a: { chartNumber: bigint }): string {
    return t("schedule.chartNo", { n: a.chartNumber.toString() });
  }

  return { dayLabel, when, timeRange, typeName, typeOf, providerName, chairName, statusText, chartNo };
}
