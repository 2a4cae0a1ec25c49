import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Payment } from "../../gen/molar/v1/billing_pb";

/** The byte order mark that makes Excel read the file as UTF-8 (Korean text intact). */
export const bom = "\uFEFF";

/** One CSV field, quoted when it holds a comma, quote or line break. */
function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** "2025-03-04 10:02:03" in timeZone. */
function localTime(d: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).format(d);
}

/** Column titles and how to name a payment's method, in the current language. */
export interface PaymentsCsvLabels {
  time: string;
  method: string;
  amount: string;
  receivedBy: string;
  methodName: (p: Payment) => string;
}

/**
 * The payments as CSV for Excel: a BOM, a header row, then time (in the
 * clinic's zone), method, amount in whole won (no separators, so it stays a
 * number) and who received it, lines ending in CRLF.
 */
export function paymentsCsv(payments: Payment[], labels: PaymentsCsvLabels, timeZone: string): string {
  const rows = [[labels.time, labels.method, labels.amount, labels.receivedBy]];
  for (const p of payments) {
    rows.push([p.time ? localTime(timestampDate(p.time), timeZone) : "", labels.methodName(p), p.amount.toString(), p.receivedBy]);
  }
  return bom + rows.map((r) => r.map(field).join(",")).join("\r\n") + "\r\n";
}

/** Offers text as a file download named filename. */
export function download(filename: string, content: string, type = "text/csv;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
