import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { computed } from "vue";
import { useI18n } from "vue-i18n";
import { storeToRefs } from "pinia";
import { useClinicStore } from "../stores/clinic";

/** The zone times are shown in when the clinic has not said otherwise. */
export const defaultTimeZone = "Asia/Seoul";

/** Milliseconds timeZone is ahead of UTC at instant t. */
function zoneOffset(t: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - t;
}

/** The instant a calendar day ("2025-03-04") starts in timeZone. */
export function startOfDay(date: string, timeZone: string): Date {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d);
  let t = wall - zoneOffset(wall, timeZone);
  // Across a daylight-saving change the offset at the guess may differ.
  const again = wall - zoneOffset(t, timeZone);
  if (again !== t) t = again;
  return new Date(t);
}

/** The instant the day after date starts in timeZone: the exclusive end of an inclusive range. */
export function endOfDay(date: string, timeZone: string): Date {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  return startOfDay(next, timeZone);
}

/** Formats instants in the clinic's time zone (Asia/Seoul unless set), in the current language. */
export function useDateTime() {
  const { locale } = useI18n();
  const { clinic } = storeToRefs(useClinicStore());
  const timeZone = computed(() => clinic.value?.timeZone || defaultTimeZone);

  const full = computed(
    () =>
      new Intl.DateTimeFormat(locale.value, {
        timeZone: timeZone.value,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        hourCycle: "h23",
      }),
  );

  /** "2025. 03. 04. 10:02:03" in Korean; empty without a time. */
  function dateTime(ts: Timestamp | undefined): string {
    return ts ? full.value.format(timestampDate(ts)) : "";
  }

  return { timeZone, dateTime };
}
