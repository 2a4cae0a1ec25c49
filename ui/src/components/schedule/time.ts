/**
 * Calendar arithmetic for the appointment book. The clinic works in its own
 * time zone (Asia/Seoul unless set), whatever zone the browser is in, so
 * every instant is turned into a clinic date and minute of the day here, and
 * back; nothing uses the browser's local time.
 */

/** Minutes in one row of the book; appointments start and end on this grid. */
export const gridMinutes = 5;

/** Where an instant falls in the clinic's zone. */
export interface ZonedTime {
  /** "YYYY-MM-DD". */
  date: string;
  /** Minutes since midnight. */
  minutes: number;
  /** 1 = Monday .. 7 = Sunday. */
  weekday: number;
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

function partsFormat(timeZone: string): Intl.DateTimeFormat {
  let f = partsFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormats.set(timeZone, f);
  }
  return f;
}

interface WallClock {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

function wallClock(t: number, timeZone: string): WallClock {
  const w: WallClock = { y: 1970, mo: 1, d: 1, h: 0, mi: 0, s: 0 };
  for (const p of partsFormat(timeZone).formatToParts(new Date(t))) {
    const v = Number(p.value);
    if (p.type === "year") w.y = v;
    else if (p.type === "month") w.mo = v;
    else if (p.type === "day") w.d = v;
    else if (p.type === "hour") w.h = v % 24;
    else if (p.type === "minute") w.mi = v;
    else if (p.type === "second") w.s = v;
  }
  return w;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** The clinic date, minute of the day and weekday of an instant. */
export function zoned(at: Date, timeZone: string): ZonedTime {
  const w = wallClock(at.getTime(), timeZone);
  const date = `${w.y}-${pad(w.mo)}-${pad(w.d)}`;
  return { date, minutes: w.h * 60 + w.mi, weekday: weekdayOf(date) };
}

/** The instant a wall-clock time on a clinic date happens. */
export function instantAt(date: string, minutes: number, timeZone: string): Date {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d, 0, minutes);
  const offsetAt = (t: number) => {
    const w = wallClock(t, timeZone);
    return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - t;
  };
  let t = wall - offsetAt(wall);
  // Near a daylight-saving change the offset at the first guess may differ.
  const again = wall - offsetAt(t);
  if (again !== t) t = again;
  return new Date(t);
}

/** Today's date in the clinic. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  return zoned(now, timeZone).date;
}

/** date plus n days (n may be negative). */
export function addDays(date: string, n: number): string {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** 1 = Monday .. 7 = Sunday for a calendar date. */
export function weekdayOf(date: string): number {
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const js = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return js === 0 ? 7 : js;
}

/** The Monday of date's week. */
export function mondayOf(date: string): string {
  return addDays(date, 1 - weekdayOf(date));
}

/** Whether s is a real "YYYY-MM-DD" date. */
export function isDate(s: unknown): s is string {
  if (typeof s !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  return addDays(s, 0) === s;
}

/** "09:05" for 545. */
export function hhmm(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
}

/** 545 for "09:05"; null when s is not a time. */
export function parseHhmm(s: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  if (h > 23 || mi > 59) return null;
  return h * 60 + mi;
}

/** minutes rounded down onto the 5-minute grid. */
export function floorToGrid(minutes: number): number {
  return Math.floor(minutes / gridMinutes) * gridMinutes;
}

/** minutes rounded to the nearest point of the 5-minute grid. */
export function roundToGrid(minutes: number): number {
  return Math.round(minutes / gridMinutes) * gridMinutes;
}

/** Whole minutes between two instants. */
export function minutesBetween(from: Date, to: Date): number {
  return Math.floor((to.getTime() - from.getTime()) / 60_000);
}

/** Whether the half-open intervals [aStart, aStart+aMin) and [bStart, bStart+bMin) overlap. */
export function overlaps(aStart: number, aMinutes: number, bStart: number, bMinutes: number): boolean {
  return aStart < bStart + bMinutes * 60_000 && bStart < aStart + aMinutes * 60_000;
}

/**
 * The first start from `from` (minutes of the day, on the 5-minute grid)
 * that leaves `length` minutes before `end` and at which isFree holds; null
 * if there is none.
 */
export function firstFree(from: number, end: number, length: number, isFree: (minutes: number) => boolean): number | null {
  for (let m = Math.ceil(from / 5) * 5; m + length <= end; m += 5) {
    if (isFree(m)) return m;
  }
  return null;
}
