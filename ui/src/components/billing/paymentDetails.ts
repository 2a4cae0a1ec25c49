import { CashReceiptPurpose, PaymentMethod, type Payment } from "../../gen/molar/v1/billing_pb";
import type { PaymentPartInput } from "../../stores/billing";

/** The card companies a Korean terminal prints, offered first; any other may be typed. */
export const cardIssuers = ["신한", "삼성", "KB국민", "현대", "롯데", "하나", "우리", "BC", "NH농협", "IBK기업"];

/** What the desk types from a slip for one part of a payment. */
export interface PartDetails {
  issuer: string;
  approvalNumber: string;
  installmentMonths: number;
  receiptPurpose: CashReceiptPurpose;
}

/** Nothing typed yet. */
export function emptyDetails(): PartDetails {
  return { issuer: "", approvalNumber: "", installmentMonths: 0, receiptPurpose: CashReceiptPurpose.UNSPECIFIED };
}

/** The part's details as the request carries them: only those its method has. */
export function partDetails(method: PaymentMethod, d: PartDetails): Pick<PaymentPartInput, "card" | "cashReceipt"> {
  const approvalNumber = d.approvalNumber.trim();
  if (method === PaymentMethod.CARD) {
    return { card: { issuer: (d.issuer ?? "").trim(), approvalNumber, installmentMonths: d.installmentMonths } };
  }
  if ((method === PaymentMethod.CASH || method === PaymentMethod.BANK_TRANSFER) && d.receiptPurpose !== CashReceiptPurpose.UNSPECIFIED) {
    return { cashReceipt: { purpose: d.receiptPurpose, approvalNumber } };
  }
  return {};
}

/** Names for what a payment's slip says, for the ledger, receipt and closing. */
export interface DetailWords {
  lumpSum: string;
  months: (n: number) => string;
  receipt: (p: CashReceiptPurpose) => string;
  approval: string;
}

/** "신한 · 3개월 · 승인 30012345", "현금영수증(소득공제) · 승인 1192": "" when the slip says nothing. */
export function describeDetails(p: Payment, w: DetailWords): string {
  const parts: string[] = [];
  if (p.card) {
    if (p.card.issuer) parts.push(p.card.issuer);
    parts.push(p.card.installmentMonths > 0 ? w.months(p.card.installmentMonths) : w.lumpSum);
    if (p.card.approvalNumber) parts.push(`${w.approval} ${p.card.approvalNumber}`);
  }
  if (p.cashReceipt && p.cashReceipt.purpose !== CashReceiptPurpose.UNSPECIFIED) {
    parts.push(w.receipt(p.cashReceipt.purpose));
    if (p.cashReceipt.approvalNumber) parts.push(`${w.approval} ${p.cashReceipt.approvalNumber}`);
  }
  return parts.join(" · ");
}
