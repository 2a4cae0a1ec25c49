import { InvoiceStatus, PaymentMethod } from "../../gen/molar/v1/billing_pb";

const wonFormat = new Intl.NumberFormat("ko-KR");

/** "₩12,300" (and "-₩1,000") from whole won; bigint all the way, never a float. */
export function formatWon(amount: bigint): string {
  const sign = amount < 0n ? "-" : "";
  return `${sign}₩${wonFormat.format(amount < 0n ? -amount : amount)}`;
}

/**
 * Whole won from what was typed ("12,300", "₩12300", " 5000 "); null when it
 * is not a whole non-negative number.
 */
export function parseWon(text: string): bigint | null {
  const s = text.replace(/[\s,₩원]/g, "");
  if (!/^\d{1,15}$/.test(s)) return null;
  return BigInt(s);
}

/** The methods a payment may be split across, in the order the dialog offers them. */
export const paymentMethods = [
  PaymentMethod.CARD,
  PaymentMethod.CASH,
  PaymentMethod.BANK_TRANSFER,
  PaymentMethod.OTHER,
  PaymentMethod.CREDIT,
] as const;

/** The i18n key of a payment method's name. */
export function methodKey(m: PaymentMethod): string {
  return `billing.method.${PaymentMethod[m] ?? "UNSPECIFIED"}`;
}

/** Today's calendar day ("2025-03-04") in timeZone. */
export function todayIn(timeZone: string, now: Date = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

/** A fresh key for one payment or refund attempt (8-64 characters, as the schema asks). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** The i18n key of an invoice status's name. */
export function statusKey(s: InvoiceStatus): string {
  return `billing.status.${InvoiceStatus[s] ?? "UNSPECIFIED"}`;
}
