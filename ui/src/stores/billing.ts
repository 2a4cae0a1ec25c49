import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { defineStore } from "pinia";
import { inject, ref, shallowRef, watch } from "vue";
import {
  AddAdjustmentRequestSchema,
  BillingService,
  CreateInvoiceRequestSchema,
  GetDailyClosingRequestSchema,
  IssueInvoiceRequestSchema,
  RecordPaymentRequestSchema,
  RefundPaymentRequestSchema,
  VoidInvoiceRequestSchema,
  type Debtor,
  type GetDailyClosingResponse,
  type Invoice,
  type LedgerEntry,
  type CashReceiptPurpose,
  type PaymentMethod,
} from "../gen/molar/v1/billing_pb";
import { toProblem, type Problem } from "../api/errors";
import { schemaProblem } from "../api/validate";
import { transportKey } from "../api/transport";
import { useAuthStore } from "./auth";

/** One method's share of a payment, in whole won. */
export interface PaymentPartInput {
  method: PaymentMethod;
  amount: bigint;
  /** The card slip's details, for a card part. */
  card?: { issuer: string; approvalNumber: string; installmentMonths: number };
  /** The cash receipt issued, for a cash or transfer part. */
  cashReceipt?: { purpose: CashReceiptPurpose; approvalNumber: string };
}

/** How the outstanding list is ordered: largest debt first, or oldest unpaid invoice first. */
export type OutstandingOrder = "amount" | "age";

/**
 * Billing: the invoice open on screen and what can be done to it (issue,
 * discount, pay, refund, void), a patient's ledger, the daily closing and the
 * outstanding list. Amounts are bigint won throughout.
 */
export const useBillingStore = defineStore("billing", () => {
  const transport = inject(transportKey);
  if (!transport) throw new Error("no transport provided");
  const client = createClient(BillingService, transport);
  const auth = useAuthStore();

  // The invoice open on screen.
  const invoice = shallowRef<Invoice | null>(null);
  const loading = ref(false);
  const loadProblem = ref<Problem | null>(null);
  let loadGeneration = 0;

  /** Loads the invoice with id; a later call wins over an earlier one still on its way. */
  async function loadInvoice(id: string): Promise<void> {
    const mine = ++loadGeneration;
    loading.value = true;
    loadProblem.value = null;
    if (invoice.value?.id !== id) invoice.value = null;
    try {
      const res = await client.getInvoice({ id });
      if (mine !== loadGeneration) return;
      invoice.value = res.invoice ?? null;
    } catch (err) {
      if (mine !== loadGeneration) return;
      loadProblem.value = toProblem(err);
    } finally {
      if (mine === loadGeneration) loading.value = false;
    }
  }

  // Changes to the invoice: each reports through saving and saveProblem.
  const saving = ref(false);
  const saveProblem = ref<Problem | null>(null);

  function clearSaveProblem(): void {
    saveProblem.value = null;
  }

  /**
   * Runs one change whose answer is the new invoice; returns whether it was
   * made (saveProblem says why not).
   */
  async function change<D extends DescMessage>(
    schema: D,
    req: MessageShape<D>,
    call: (req: MessageShape<D>) => Promise<{ invoice?: Invoice }>,
  ): Promise<boolean> {
    saveProblem.value = await schemaProblem(schema, req);
    if (saveProblem.value) return false;
    saving.value = true;
    try {
      const res = await call(req);
      if (res.invoice) {
        // Bump the generation so a load still on its way does not overwrite this newer answer.
        loadGeneration++;
        loading.value = false;
        invoice.value = res.invoice;
      }
      return true;
    } catch (err) {
      saveProblem.value = toProblem(err);
      return false;
    } finally {
      saving.value = false;
    }
  }

  /**
   * Builds a draft from the patient's completed, unbilled procedures (or the
   * given entries). Returns the draft, or null: FailedPrecondition in
   * saveProblem means nothing is left to bill.
   */
  async function createInvoice(patientId: string, appointmentId = "", entryIds: string[] = []): Promise<Invoice | null> {
    const req = create(CreateInvoiceRequestSchema, { patientId, appointmentId, entryIds });
    const ok = await change(CreateInvoiceRequestSchema, req, (r) => client.createInvoice(r));
    return ok ? invoice.value : null;
  }

  /** Issues the open draft. */
  async function issue(): Promise<boolean> {
    const inv = invoice.value;
    if (!inv) return false;
    const req = create(IssueInvoiceRequestSchema, { id: inv.id, version: inv.version });
    return change(IssueInvoiceRequestSchema, req, (r) => client.issueInvoice(r));
  }

  /** Grants a discount of amount won on the open invoice. */
  async function adjust(amount: bigint, reason: string): Promise<boolean> {
    const inv = invoice.value;
    if (!inv) return false;
    const req = create(AddAdjustmentRequestSchema, { id: inv.id, amount, reason: reason.trim(), version: inv.version });
    return change(AddAdjustmentRequestSchema, req, (r) => client.addAdjustment(r));
  }

  /** Voids the open invoice. */
  async function voidInvoice(reason: string): Promise<boolean> {
    const inv = invoice.value;
    if (!inv) return false;
    const req = create(VoidInvoiceRequestSchema, { id: inv.id, reason: reason.trim(), version: inv.version });
    return change(VoidInvoiceRequestSchema, req, (r) => client.voidInvoice(r));
  }

  /**
   * Takes a payment on the open invoice. idempotencyKey names this attempt:
   * the caller sends the same key again when retrying, so the server records
   * the payment once.
   */
  async function pay(parts: PaymentPartInput[], idempotencyKey: string, allowOverpayment = false, memo = ""): Promise<boolean> {
    const inv = invoice.value;
    if (!inv) return false;
    const req = create(RecordPaymentRequestSchema, {
      invoiceId: inv.id,
      idempotencyKey,
      parts: parts.map((p) => ({ method: p.method, amount: p.amount, card: p.card, cashReceipt: p.cashReceipt })),
      memo: memo.trim(),
      allowOverpayment,
    });
    return change(RecordPaymentRequestSchema, req, (r) => client.recordPayment(r));
  }

  /** Refunds amount won of one payment of the open invoice; the key works as for pay. */
  async function refund(paymentId: string, amount: bigint, reason: string, idempotencyKey: string): Promise<boolean> {
    const inv = invoice.value;
    if (!inv) return false;
    const req = create(RefundPaymentRequestSchema, { invoiceId: inv.id, paymentId, amount, reason: reason.trim(), idempotencyKey });
    return change(RefundPaymentRequestSchema, req, (r) => client.refundPayment(r));
  }

  // A patient's ledger.
  const ledgerPatientId = ref<string | null>(null);
  const ledgerEntries = shallowRef<LedgerEntry[]>([]);
  const ledgerInvoices = shallowRef<Invoice[]>([]);
  /** What the patient owes (미수금); negative is credit (적립금). */
  const ledgerBalance = ref(0n);
  const ledgerLoading = ref(false);
  const ledgerProblem = ref<Problem | null>(null);
  let ledgerGeneration = 0;

  /** Loads the ledger of patientId. */
  async function loadLedger(patientId: string): Promise<void> {
    const mine = ++ledgerGeneration;
    ledgerLoading.value = true;
    ledgerProblem.value = null;
    if (ledgerPatientId.value !== patientId) {
      ledgerPatientId.value = patientId;
      ledgerEntries.value = [];
      ledgerInvoices.value = [];
      ledgerBalance.value = 0n;
    }
    try {
      const res = await client.getLedger({ patientId });
      if (mine !== ledgerGeneration) return;
      ledgerEntries.value = res.entries;
      ledgerInvoices.value = res.invoices;
      ledgerBalance.value = res.balance;
    } catch (err) {
      if (mine === ledgerGeneration) ledgerProblem.value = toProblem(err);
    } finally {
      if (mine === ledgerGeneration) ledgerLoading.value = false;
    }
  }

  // The daily closing.
  const closing = shallowRef<GetDailyClosingResponse | null>(null);
  const closingRange = ref<{ start: string; end: string } | null>(null);
  const closingLoading = ref(false);
  const closingProblem = ref<Problem | null>(null);
  let closingGeneration = 0;

  /** Loads the closing of the days from start to end (YYYY-MM-DD, inclusive). */
  async function loadClosing(start: string, end: string): Promise<void> {
    const mine = ++closingGeneration;
    const req = create(GetDailyClosingRequestSchema, { startDate: start, endDate: end });
    closingProblem.value = await schemaProblem(GetDailyClosingRequestSchema, req);
    if (closingProblem.value) return;
    closingLoading.value = true;
    try {
      const res = await client.getDailyClosing(req);
      if (mine !== closingGeneration) return;
      closing.value = res;
      closingRange.value = { start, end };
    } catch (err) {
      if (mine === closingGeneration) closingProblem.value = toProblem(err);
    } finally {
      if (mine === closingGeneration) closingLoading.value = false;
    }
  }

  // Who owes money.
  const debtors = shallowRef<Debtor[]>([]);
  const outstandingOrder = ref<OutstandingOrder>("amount");
  const outstandingLoaded = ref(false);
  const outstandingLoading = ref(false);
  const outstandingProblem = ref<Problem | null>(null);
  let outstandingGeneration = 0;

  /** Loads the debtors in the given order (the server sorts). */
  async function loadOutstanding(order: OutstandingOrder = outstandingOrder.value): Promise<void> {
    const mine = ++outstandingGeneration;
    outstandingOrder.value = order;
    outstandingLoading.value = true;
    outstandingProblem.value = null;
    try {
      const res = await client.listOutstanding({ orderBy: order });
      if (mine !== outstandingGeneration) return;
      debtors.value = res.debtors;
      outstandingLoaded.value = true;
    } catch (err) {
      if (mine === outstandingGeneration) outstandingProblem.value = toProblem(err);
    } finally {
      if (mine === outstandingGeneration) outstandingLoading.value = false;
    }
  }

  // Money and patient data never outlive the session they were loaded in.
  watch(
    () => auth.staff?.id,
    (now, before) => {
      if (now === before) return;
      loadGeneration++;
      ledgerGeneration++;
      closingGeneration++;
      outstandingGeneration++;
      invoice.value = null;
      loading.value = false;
      loadProblem.value = null;
      saveProblem.value = null;
      ledgerPatientId.value = null;
      ledgerEntries.value = [];
      ledgerInvoices.value = [];
      ledgerBalance.value = 0n;
      ledgerLoading.value = false;
      ledgerProblem.value = null;
      closing.value = null;
      closingRange.value = null;
      closingLoading.value = false;
      closingProblem.value = null;
      debtors.value = [];
      outstandingLoaded.value = false;
      outstandingLoading.value = false;
      outstandingProblem.value = null;
    },
  );

  return {
    invoice,
    loading,
    loadProblem,
    loadInvoice,
    saving,
    saveProblem,
    clearSaveProblem,
    createInvoice,
    issue,
    adjust,
    voidInvoice,
    pay,
    refund,
    ledgerPatientId,
    ledgerEntries,
    ledgerInvoices,
    ledgerBalance,
    ledgerLoading,
    ledgerProblem,
    loadLedger,
    closing,
    closingRange,
    closingLoading,
    closingProblem,
    loadClosing,
    debtors,
    outstandingOrder,
    outstandingLoaded,
    outstandingLoading,
    outstandingProblem,
    loadOutstanding,
  };
});
