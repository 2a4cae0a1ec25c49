import type { Duration } from "@bufbuild/protobuf/wkt";

/** A size in bytes as people read it: "512 B", "1.4 MB", "2.31 GB" (powers of 1,024). */
export function formatBytes(n: bigint | number, locale: string): string {
  let v = Number(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(v)} ${units[u]}`;
}

/** A duration split into whole days, hours and minutes. */
export function durationParts(d: Duration | undefined): { days: number; hours: number; minutes: number } {
  const s = Number(d?.seconds ?? 0n);
  return { days: Math.floor(s / 86400), hours: Math.floor((s % 86400) / 3600), minutes: Math.floor((s % 3600) / 60) };
}
