import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ClinicSchema, ClosedDaySchema, OpeningHoursSchema, Weekday, type Clinic } from "../../gen/molar/v1/clinic_pb";

/** One weekday row of the opening-hours editor. */
export interface DayRow {
  weekday: Weekday;
  open: boolean;
  openTime: string;
  closeTime: string;
  lunchStart: string;
  lunchEnd: string;
}

/** The editable form of a clinic profile. */
export interface ClinicDraft {
  name: string;
  address: string;
  phone: string;
  businessRegistrationNumber: string;
  timeZone: string;
  days: DayRow[];
  closedDays: { date: string; reason: string }[];
  version: bigint;
  updateTime?: Date;
  /** Kept as it is: billing settings are edited elsewhere. */
  copayPercent?: number;
}

/** Monday to Sunday. */
export const weekdays: Weekday[] = [
  Weekday.MONDAY,
  Weekday.TUESDAY,
  Weekday.WEDNESDAY,
  Weekday.THURSDAY,
  Weekday.FRIDAY,
  Weekday.SATURDAY,
  Weekday.SUNDAY,
];

/** A form for c: every weekday gets a row, closed days an off switch. */
export function draftOf(c: Clinic): ClinicDraft {
  return {
    name: c.name,
    address: c.address,
    phone: c.phone,
    businessRegistrationNumber: c.businessRegistrationNumber,
    timeZone: c.timeZone || "Asia/Seoul",
    days: weekdays.map((weekday) => {
      const h = c.openingHours.find((o) => o.weekday === weekday);
      return {
        weekday,
        open: h !== undefined,
        openTime: h?.openTime ?? "09:00",
        closeTime: h?.closeTime ?? "18:00",
        lunchStart: h?.lunchStart ?? "",
        lunchEnd: h?.lunchEnd ?? "",
      };
    }),
    closedDays: c.closedDays.map((d) => ({ date: d.date, reason: d.reason })),
    version: c.version,
    updateTime: c.updateTime ? timestampDate(c.updateTime) : undefined,
    copayPercent: c.copayPercent,
  };
}

/**
 * The clinic d describes, and for each open weekday the index its hours take
 * in the message, so that problems reported at "clinic.opening_hours[i]" can
 * be shown on the right row.
 */
export function clinicOf(d: ClinicDraft): { clinic: Clinic; hoursIndex: Map<Weekday, number> } {
  const hoursIndex = new Map<Weekday, number>();
  const openDays = d.days.filter((r) => r.open);
  openDays.forEach((r, i) => hoursIndex.set(r.weekday, i));
  const clinic = create(ClinicSchema, {
    name: d.name.trim(),
    address: d.address.trim(),
    phone: d.phone.trim(),
    businessRegistrationNumber: d.businessRegistrationNumber.trim(),
    timeZone: d.timeZone.trim(),
    openingHours: openDays.map((r) =>
      create(OpeningHoursSchema, {
        weekday: r.weekday,
        openTime: r.openTime,
        closeTime: r.closeTime,
        lunchStart: r.lunchStart,
        lunchEnd: r.lunchEnd,
      }),
    ),
    closedDays: d.closedDays.map((c) => create(ClosedDaySchema, { date: c.date, reason: c.reason.trim() })),
    version: d.version,
    copayPercent: d.copayPercent,
  });
  return { clinic, hoursIndex };
}

/** Formats digits as a Korean phone number while typing: 0212345678 → 02-1234-5678. */
export function formatPhone(input: string): string {
  const d = input.replace(/\D/g, "").slice(0, 11);
  if (/^1[5-9]/.test(d)) return d.length > 4 ? `${d.slice(0, 4)}-${d.slice(4, 8)}` : d;
  if (d.startsWith("02")) {
    if (d.length <= 2) return d;
    if (d.length <= 5) return `02-${d.slice(2)}`;
    const mid = d.length >= 10 ? 4 : 3;
    return `02-${d.slice(2, 2 + mid)}-${d.slice(2 + mid, 2 + mid + 4)}`;
  }
  if (d.length <= 3) return d;
  if (d.length <= 6) return `${d.slice(0, 3)}-${d.slice(3)}`;
  const mid = d.length >= 11 ? 4 : 3;
  return `${d.slice(0, 3)}-${d.slice(3, 3 + mid)}-${d.slice(3 + mid, 3 + mid + 4)}`;
}

/** Formats digits as a business registration number: 1234567890 → 123-45-67890. */
export function formatBusinessNumber(input: string): string {
  const d = input.replace(/\D/g, "").slice(0, 10);
  if (d.length <= 3) return d;
  if (d.length <= 5) return `${d.slice(0, 3)}-${d.slice(3)}`;
  return `${d.slice(0, 3)}-${d.slice(3, 5)}-${d.slice(5)}`;
}
