import type { Clinic } from "../../gen/molar/v1/clinic_pb";
import type { Chair, Provider } from "../../gen/molar/v1/schedule_pb";
import { gridMinutes, parseHhmm, weekdayOf } from "./time";

/** What the columns of the book stand for. */
export type ColumnsBy = "provider" | "chair";

/** One column of the grid: a provider or a chair on one day. */
export interface BookColumn {
  /** "YYYY-MM-DD|resource id", unique in the grid. */
  key: string;
  date: string;
  /** The provider's or chair's id. */
  resourceId: string;
  name: string;
  /** The provider's colour, or "" for chairs. */
  color: string;
  /** Whether this is the first column of its day (draws the day's left edge). */
  firstOfDay: boolean;
}

/** Builds the columns: each day in order, and in it each provider or chair. */
export function buildColumns(days: string[], by: ColumnsBy, providers: Provider[], chairs: Chair[]): BookColumn[] {
  const resources =
    by === "provider"
      ? providers.map((p) => ({ id: p.id, name: p.name, color: p.color }))
      : chairs.map((c) => ({ id: c.id, name: c.name, color: "" }));
  const out: BookColumn[] = [];
  for (const date of days) {
    resources.forEach((r, i) => out.push({ key: `${date}|${r.id}`, date, resourceId: r.id, name: r.name, color: r.color, firstOfDay: i === 0 }));
  }
  return out;
}

/**
 * Builds the week's columns: one per day holding every provider's (or
 * chair's) appointments side by side, or, with only set, that one
 * provider's or chair's day.
 */
export function weekColumns(days: string[], by: ColumnsBy, providers: Provider[], chairs: Chair[], only: string): BookColumn[] {
  const one = only ? buildColumns(days, by, providers.filter((p) => p.id === only), chairs.filter((c) => c.id === only)) : [];
  if (one.length > 0) return one;
  return days.map((date) => ({ key: `${date}|`, date, resourceId: "", name: "", color: "", firstOfDay: true }));
}

/** A day's hours in minutes since midnight. */
export interface DayHours {
  /** Closed all day (no hours that weekday, or a closed day). */
  closed: boolean;
  /** Why, for a closed day with a reason ("추석 연휴"). */
  reason: string;
  open: number;
  close: number;
  /** Lunch, or null for none. */
  lunch: { start: number; end: number } | null;
}

/** The hours shown when the clinic has not set any: 09:00–18:00. */
export const defaultHours = { open: 9 * 60, close: 18 * 60 } as const;

/** The clinic's hours on a date: closed days, the weekday's hours and lunch. */
export function hoursOn(clinic: Clinic | null, date: string): DayHours {
  const base: DayHours = { closed: false, reason: "", open: defaultHours.open, close: defaultHours.close, lunch: null };
  if (!clinic) return base;
  const closedDay = clinic.closedDays.find((d) => d.date === date);
  if (closedDay) return { ...base, closed: true, reason: closedDay.reason };
  if (clinic.openingHours.length === 0) return base;
  const wd = weekdayOf(date);
  const h = clinic.openingHours.find((x) => Number(x.weekday) === wd);
  if (!h) return { ...base, closed: true };
  const open = parseHhmm(h.openTime) ?? defaultHours.open;
  const close = parseHhmm(h.closeTime) ?? defaultHours.close;
  const ls = parseHhmm(h.lunchStart);
  const le = parseHhmm(h.lunchEnd);
  return { closed: false, reason: "", open, close, lunch: ls !== null && le !== null && ls < le ? { start: ls, end: le } : null };
}

/**
 * The hours the grid covers: from the earliest opening to the latest
 * closing of the days shown, stretched to take in any appointment booked
 * outside them, on whole half hours.
 */
export function gridBounds(hours: DayHours[], extra: { start: number; end: number }[] = []): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const h of hours) {
    if (h.closed) continue;
    start = Math.min(start, h.open);
    end = Math.max(end, h.close);
  }
  if (start === Infinity) {
    start = defaultHours.open;
    end = defaultHours.close;
  }
  for (const x of extra) {
    start = Math.min(start, x.start);
    end = Math.max(end, x.end);
  }
  start = Math.max(0, Math.floor(start / 30) * 30);
  end = Math.min(24 * 60, Math.ceil(end / 30) * 30);
  if (end <= start) end = Math.min(24 * 60, start + 60);
  return { start, end };
}

/** Where an item sits among those it overlaps in its column. */
export interface Lane {
  lane: number;
  lanes: number;
}

/**
 * Side-by-side lanes for overlapping items of one column (a no-show keeps
 * its place while another visit takes its time). Items that overlap nothing
 * get the whole width.
 */
export function assignLanes<T extends { start: number; end: number }>(items: T[]): Map<T, Lane> {
  const sorted = [...items].sort((a, b) => a.start - b.start || b.end - a.end);
  const out = new Map<T, Lane>();
  let cluster: { item: T; lane: number }[] = [];
  let laneEnds: number[] = [];
  let clusterEnd = -Infinity;
  const flush = () => {
    for (const c of cluster) out.set(c.item, { lane: c.lane, lanes: laneEnds.length });
    cluster = [];
    laneEnds = [];
    clusterEnd = -Infinity;
  };
  for (const item of sorted) {
    if (cluster.length > 0 && item.start >= clusterEnd) flush();
    let lane = laneEnds.findIndex((end) => end <= item.start);
    if (lane < 0) {
      lane = laneEnds.length;
      laneEnds.push(item.end);
    } else laneEnds[lane] = item.end;
    cluster.push({ item, lane });
    clusterEnd = Math.max(clusterEnd, item.end);
  }
  flush();
  return out;
}

/** The 5-minute row under a pointer at clientY, in a column whose body starts at top. */
export function rowAt(clientY: number, top: number, rowPx: number, rows: number): number {
  const r = Math.floor((clientY - top) / rowPx);
  return Math.max(0, Math.min(rows - 1, r));
}

/**
 * The new start of an appointment dragged so that the row it was grabbed by
 * lies under the pointer's row: on the 5-minute grid, inside the grid.
 */
export function movedStart(pointerRow: number, grabRow: number, gridStart: number, gridEnd: number, minutes: number): number {
  const start = gridStart + (pointerRow - grabRow) * gridMinutes;
  return Math.max(gridStart, Math.min(start, gridEnd - minutes));
}

/** The new length of an appointment whose bottom edge is dragged onto pointerRow: it ends with that row. */
export function resizedMinutes(pointerRow: number, start: number, gridStart: number): number {
  const end = gridStart + (pointerRow + 1) * gridMinutes;
  return Math.max(gridMinutes, Math.min(480, end - start));
}

/** Black or white, whichever reads better on a #RRGGBB background. */
export function textOn(hex: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return "#000000de";
  const [r, g, b] = [m[1], m[2], m[3]].map((x) => parseInt(x ?? "0", 16) / 255) as [number, number, number];
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return lum > 0.55 ? "#000000de" : "#ffffff";
}

/** Where a lifted appointment would land: its column, start and length in minutes. */
export interface Landing {
  key: string;
  start: number;
  minutes: number;
}

/**
 * The landing after one key press while an appointment is moved from the
 * keyboard: ↑/↓ move it five minutes, ←/→ to the neighbouring column, and
 * with Shift ↑/↓ shorten or lengthen it. The appointment stays inside the
 * grid; null for any other key.
 */
export function nudged(
  at: Landing,
  key: string,
  shift: boolean,
  columnKeys: readonly string[],
  gridStart: number,
  gridEnd: number,
): Landing | null {
  const step = gridMinutes;
  switch (key) {
    case "ArrowUp":
      if (shift) return { ...at, minutes: Math.max(step, at.minutes - step) };
      return { ...at, start: Math.max(gridStart, at.start - step) };
    case "ArrowDown":
      if (shift) return { ...at, minutes: Math.min(480, gridEnd - at.start, at.minutes + step) };
      return { ...at, start: Math.min(gridEnd - at.minutes, at.start + step) };
    case "ArrowLeft":
    case "ArrowRight": {
      if (shift) return null;
      const i = columnKeys.indexOf(at.key);
      const j = i + (key === "ArrowLeft" ? -1 : 1);
      if (i < 0 || j < 0 || j >= columnKeys.length) return at;
      return { ...at, key: columnKeys[j] ?? at.key };
    }
    default:
      return null;
  }
}
