import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ClosingEntry, Payment } from "../../gen/molar/v1/billing_pb";

/** The byte order mark that makes Excel read the file as UTF-8 (Korean text intact). */
export const bom = "\uFEFF";

/**
 * One CSV field. A text that a spreadsheet would take for a formula (it
 * starts with = + - @, a tab or a carriage return) is given a leading
 * apostrophe, so a name or memo typed as "=HYPERLINK(...)" stays text when
 * the file is opened; whole numbers stay numbers. Quoted when it holds a
 * comma, quote or line break.
 */
export function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) && !/^-?\d+$/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** "2025-03-04 10:02:03" in timeZone. */
export function localTime(d: Date, timeZone: string): string {
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

/** Column titles and the words for an entry, in the current language. */
export interface ClosingCsvLabels {
  time: string;
  kind: string;
  patient: string;
  chartNumber: string;
  invoice: string;
  method: string;
  details: string;
  amount: string;
  by: string;
  /** "결제" or "환불". */
  kindName: (e: ClosingEntry) => string;
  methodName: (p: Payment) => string;
  /** What the slip says: card company, instalments, approval or cash receipt. */
  detailsOf: (p: Payment) => string;
}

/** When an entry happened: the refund's time, else the payment's. */
export function entryTime(e: ClosingEntry): Date | null {
  const ts = e.refund?.time ?? e.payment?.time;
  return ts ? timestampDate(ts) : null;
}

/**
 * A closing's payments and refunds as CSV for Excel, one line each, to
 * reconcile with card slips and the bank: a BOM, a header row, then the
 * time (in the clinic's zone), payment or refund, the patient's name and
 * chart number, the invoice, the method and what its slip says, the amount
 * in whole won (a refund negative; no separators, so it stays a number) and
 * who took or gave it; lines end in CRLF.
 */
export function closingCsv(entries: ClosingEntry[], labels: ClosingCsvLabels, timeZone: string): string {
  const rows = [[labels.time, labels.kind, labels.patient, labels.chartNumber, labels.invoice, labels.method, labels.details, labels.amount, labels.by]];
  for (const e of entries) {
    const at = entryTime(e);
    const p = e.payment;
    const amount = e.refund ? -e.refund.amount : (p?.amount ?? 0n);
    rows.push([
      at ? localTime(at, timeZone) : "",
      labels.kindName(e),
      e.patientName,
      e.chartNumber.toString(),
      e.invoiceId,
      p ? labels.methodName(p) : "",
      p ? labels.detailsOf(p) : "",
      amount.toString(),
      e.refund ? e.refund.by : (p?.receivedBy ?? ""),
    ]);
  }
  return bom + rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
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
