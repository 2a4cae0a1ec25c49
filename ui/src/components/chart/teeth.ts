import { Condition, EntryStatus, ProcedureCategory, Surface, type ChartEntry, type Procedure } from "../../gen/molar/v1/chart_pb";

/** The five surfaces by their letters, in the order the chart lists them. */
export const surfaceLetters = ["M", "O", "D", "B", "L"] as const;
/** A surface's letter. */
export type SurfaceLetter = (typeof surfaceLetters)[number];

/** Where a region sits in a tooth's square as the chart is viewed. */
export type Side = "top" | "bottom" | "left" | "right" | "center";

/** The enum value of a letter. */
export function surfaceOf(letter: SurfaceLetter): Surface {
  return Surface[letter];
}

/** The letter of a surface ("" for unspecified). */
export function letterOf(s: Surface): SurfaceLetter | "" {
  const name = Surface[s];
  return (surfaceLetters as readonly string[]).includes(name) ? (name as SurfaceLetter) : "";
}

/** Surfaces in chart order, as letters ("MOD"). */
export function surfaceText(surfaces: Surface[]): string {
  return surfaceLetters.filter((l) => surfaces.includes(Surface[l])).join("");
}

/** Permanent teeth, upper row as the chart is viewed: patient's right (18) to left (28). */
export const permanentUpper = [18, 17, 16, 15, 14, 13, 12, 11, 21, 22, 23, 24, 25, 26, 27, 28];
/** Permanent teeth, lower row: 48 to 38. */
export const permanentLower = [48, 47, 46, 45, 44, 43, 42, 41, 31, 32, 33, 34, 35, 36, 37, 38];
/** Primary teeth, upper row: 55 to 65. */
export const primaryUpper = [55, 54, 53, 52, 51, 61, 62, 63, 64, 65];
/** Primary teeth, lower row: 85 to 75. */
export const primaryLower = [85, 84, 83, 82, 81, 71, 72, 73, 74, 75];

/** FDI quadrant: 1-4 permanent, 5-8 primary. */
export function quadrant(tooth: number): number {
  return Math.floor(tooth / 10);
}

/** Whether the tooth is in the upper jaw (maxilla). */
export function isUpper(tooth: number): boolean {
  return [1, 2, 5, 6].includes(quadrant(tooth));
}

/** Whether the tooth is a primary (deciduous) one. */
export function isPrimary(tooth: number): boolean {
  return quadrant(tooth) >= 5;
}

/** Whether the tooth is an incisor or canine, whose O is incisal and B facial. */
export function isAnterior(tooth: number): boolean {
  return tooth % 10 <= 3;
}

/**
 * Whether the tooth is on the patient's right, which the chart shows on the
 * viewer's left (the chart faces the patient).
 */
export function onPatientsRight(tooth: number): boolean {
  return [1, 4, 5, 8].includes(quadrant(tooth));
}

/**
 * Where each surface is drawn. Mesial faces the midline: on the right of
 * teeth in the patient's right quadrants (shown on the left) and on the left
 * of the others. Lingual and palatal faces the space between the arches:
 * bottom for upper teeth, top for lower ones; buccal is the outer side.
 */
export function sideOf(tooth: number, s: SurfaceLetter): Side {
  switch (s) {
    case "O":
      return "center";
    case "M":
      return onPatientsRight(tooth) ? "right" : "left";
    case "D":
      return onPatientsRight(tooth) ? "left" : "right";
    case "B":
      return isUpper(tooth) ? "top" : "bottom";
    case "L":
      return isUpper(tooth) ? "bottom" : "top";
  }
}

/** Whether n is a tooth number of the FDI scheme. */
export function isTooth(n: number): boolean {
  const q = quadrant(n);
  const i = n % 10;
  return (q >= 1 && q <= 4 && i >= 1 && i <= 8) || (q >= 5 && q <= 8 && i >= 1 && i <= 5);
}

/** Colours of the chart, by what an entry is. */
export const chartColors = {
  planned: "#d32f2f",
  completed: "#1565c0",
  existing: "#2e7d32",
  condition: "#6d4c41",
} as const;

/** The colour an entry is drawn in: findings brown, procedures by status. */
export function colorOf(e: ChartEntry): string {
  if (e.kind.case === "condition") return chartColors.condition;
  switch (e.status) {
    case EntryStatus.COMPLETED:
      return chartColors.completed;
    case EntryStatus.EXISTING:
      return chartColors.existing;
    default:
      return chartColors.planned;
  }
}

/** How an entry charted on a whole tooth (no surfaces) is drawn. */
export type WholeToothMark = "cross" | "outline";

/**
 * Missing teeth and extractions are crossed out; every other whole-tooth
 * entry (crowns, root canals, implants, findings like a fracture) rings
 * the tooth's outline.
 */
export function wholeToothMark(e: ChartEntry, catalog: Map<string, Procedure>): WholeToothMark {
  if (e.kind.case === "condition") return e.kind.value === Condition.MISSING ? "cross" : "outline";
  if (e.kind.case === "procedureCode") {
    const p = catalog.get(e.kind.value);
    if (p?.category === ProcedureCategory.SURGICAL && !p.requiresSurfaces) return "cross";
  }
  return "outline";
}
