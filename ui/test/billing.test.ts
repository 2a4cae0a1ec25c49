import { afterEach, describe, expect, it, vi } from "vitest";
import type { Component } from "vue";
import { mount } from "@vue/test-utils";
import { createMemoryHistory, createRouter } from "vue-router";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type Transport } from "@connectrpc/connect";
import {
  BillingService,
  DebtorSchema,
  InvoiceLineSchema,
  InvoiceSchema,
  InvoiceStatus,
  LedgerEntrySchema,
  PaymentMethod,
  CashReceiptPurpose,
  PaymentSchema,
  ClosingEntrySchema,
  type ClosingEntry,
  type CreateInvoiceRequest,
  type GetDailyClosingRequest,
  type Invoice,
  type ListOutstandingRequest,
  type RecordPaymentRequest,
} from "../src/gen/molar/v1/billing_pb";
import { Role } from "../src/gen/molar/v1/access_pb";
import { ProblemReason, ProblemSchema } from "../src/gen/molar/v1/problem_pb";
import { transportKey } from "../src/api/transport";
import { createAppI18n } from "../src/i18n";
import { createAppVuetify } from "../src/plugins/vuetify";
import { billingEn, billingKo } from "../src/i18n/billing";
import { billingRoutes } from "../src/router/billing";
import { useAuthStore } from "../src/stores/auth";
import { useBillingStore } from "../src/stores/billing";
import { formatWon, parseWon, todayIn } from "../src/components/billing/money";
import { closingCsv, csvField } from "../src/components/billing/csv";
import { formDate, statutoryReceipt } from "../src/components/billing/statutory";
import { ClinicService } from "../src/gen/molar/v1/clinic_pb";
import { savedClinic } from "./fixtures";
import { CatalogService, ProcedureCategory, ProcedureSchema } from "../src/gen/molar/v1/chart_pb";
import InvoiceView from "../src/views/billing/InvoiceView.vue";
import NewInvoiceView from "../src/views/billing/NewInvoiceView.vue";
import BillingHomeView from "../src/views/billing/BillingHomeView.vue";
import PatientBilling from "../src/components/billing/PatientBilling.vue";
import { buttonByText, inputByLabel, piniaWith, type, until } from "./helpers";
import { meFor } from "./authServer";

/** An issued-or-draft invoice of 김민수 for two procedures: 50,000 won for the patient to pay. */
function draftInvoice(overrides: Partial<Omit<Invoice, "$typeName">> = {}): Invoice {
  return create(InvoiceSchema, {
    id: "inv-1",
    patientId: "p-1",
    patientName: "김민수",
    chartNumber: 101n,
    lines: [
      create(InvoiceLineSchema, {
        entryId: "e-1",
        procedureCode: "RS-CR",
        name: "레진 충전",
        tooth: 36,
        surfaces: "MO",
        fee: 40000n,
        insured: false,
        patientAmount: 40000n,
        insurerAmount: 0n,
        provider: "김원장",
      }),
      create(InvoiceLineSchema, {
        entryId: "e-2",
        procedureCode: "PV-SCAL",
        name: "스케일링",
        fee: 33334n,
        insured: true,
        patientAmount: 10000n,
        insurerAmount: 23334n,
        provider: "김원장",
      }),
    ],
    copayPercent: 30,
    feeTotal: 73334n,
    insurerTotal: 23334n,
    patientTotal: 50000n,
    balance: 50000n,
    status: InvoiceStatus.DRAFT,
    createTime: timestampFromDate(new Date("2025-03-04T01:00:00Z")),
    version: 1n,
    ...overrides,
  });
}

/** A billing server holding one invoice, keeping payments once per idempotency key. */
class FakeBilling {
  /** The balance the server holds when another desk took a payment the screen has not seen yet. */
  serverBalance: bigint | undefined = undefined;
  invoice = draftInvoice();
  payRequests: RecordPaymentRequest[] = [];
  createRequests: CreateInvoiceRequest[] = [];
  closingRequests: GetDailyClosingRequest[] = [];
  outstandingRequests: ListOutstandingRequest[] = [];
  /** Payment attempts that fail as if the network dropped them, before they reach the books. */
  dropPayments = 0;
  nothingToBill = false;
  private seenKeys = new Set<string>();

  transport(): Transport {
    return createRouterTransport(({ service }) => {
      service(ClinicService, { getClinic: () => ({ clinic: savedClinic() }) });
      service(CatalogService, {
        listProcedures: () => ({
          procedures: [create(ProcedureSchema, { code: "RS-CR", nameKo: "레진 충전", nameEn: "Resin filling", category: ProcedureCategory.RESTORATIVE })],
        }),
      });
      service(BillingService, {
        getInvoice: () => ({ invoice: this.invoice }),
        createInvoice: (req) => {
          this.createRequests.push(req);
          if (this.nothingToBill)
            throw new ConnectError("there are no completed procedures left to bill", Code.FailedPrecondition, undefined, [
              { desc: ProblemSchema, value: { reason: ProblemReason.NOTHING_TO_BILL } },
            ]);
          return { invoice: this.invoice };
        },
        issueInvoice: (req) => {
          if (req.version !== this.invoice.version) throw new ConnectError("changed", Code.Aborted);
          this.invoice = create(InvoiceSchema, { ...this.invoice, status: InvoiceStatus.ISSUED, version: this.invoice.version + 1n });
          return { invoice: this.invoice };
        },
        recordPayment: (req) => {
          this.payRequests.push(req);
          if (this.dropPayments > 0) {
            this.dropPayments--;
            throw new ConnectError("connection reset", Code.Unavailable);
          }
          if (this.seenKeys.has(req.idempotencyKey)) return { invoice: this.invoice };
          const sum = req.parts.reduce((s, p) => s + p.amount, 0n);
          const held = this.serverBalance ?? this.invoice.balance;
          if (sum > held && !req.allowOverpayment) {
            throw new ConnectError(`the payment (${sum}) is more than the balance (${held})`, Code.FailedPrecondition, undefined, [
              { desc: ProblemSchema, value: { reason: ProblemReason.PAYMENT_EXCEEDS_BALANCE, amount: sum, limit: held } },
            ]);
          }
          this.seenKeys.add(req.idempotencyKey);
          const payments = [
            ...this.invoice.payments,
            ...req.parts.map((p, i) =>
              create(PaymentSchema, {
                id: `pay-${this.invoice.payments.length + i + 1}`,
                method: p.method,
                amount: p.amount,
                time: timestampFromDate(new Date("2025-03-04T02:00:00Z")),
                receivedBy: "이수납",
              }),
            ),
          ];
          const paidTotal = this.invoice.paidTotal + sum;
          const balance = this.invoice.patientTotal - this.invoice.discountTotal - paidTotal;
          this.invoice = create(InvoiceSchema, {
            ...this.invoice,
            payments,
            paidTotal,
            balance,
            status: balance <= 0n ? InvoiceStatus.PAID : InvoiceStatus.PARTIALLY_PAID,
            version: this.invoice.version + 1n,
          });
          return { invoice: this.invoice };
        },
        getLedger: () => ({
          entries: [
            create(LedgerEntrySchema, { invoiceId: "inv-1", kind: "invoice", procedureCount: 2, amount: 50000n, balance: 50000n }),
            create(LedgerEntrySchema, {
              invoiceId: "inv-1",
              kind: "payment",
              amount: -20000n,
              balance: 30000n,
              payment: { id: "pay-1", method: PaymentMethod.CARD, amount: 20000n, card: { issuer: "삼성", installmentMonths: 0 } },
            }),
          ],
          balance: 30000n,
          invoices: [this.invoice],
        }),
        getDailyClosing: (req) => {
          this.closingRequests.push(req);
          return {
            collections: [
              { method: PaymentMethod.CARD, amount: 30000n, count: 1 },
              { method: PaymentMethod.CASH, amount: 20000n, count: 1 },
            ],
            production: [{ provider: "김원장", amount: 73334n }],
            refunds: 5000n,
            discounts: 1000n,
            netCollections: 45000n,
            outstanding: 120000n,
            entries: [
              create(ClosingEntrySchema, {
                payment: create(PaymentSchema, {
                  id: "pay-1",
                  method: PaymentMethod.CARD,
                  amount: 30000n,
                  time: timestampFromDate(new Date("2025-03-04T02:00:00Z")),
                  receivedBy: "이수납",
                  card: { issuer: "신한", approvalNumber: "30012345", installmentMonths: 3 },
                }),
                invoiceId: "inv-1",
                patientName: "김하늘",
                chartNumber: 1001n,
              }),
              create(ClosingEntrySchema, {
                payment: create(PaymentSchema, {
                  id: "pay-2",
                  method: PaymentMethod.CASH,
                  amount: 20000n,
                  time: timestampFromDate(new Date("2025-03-04T02:00:00Z")),
                  receivedBy: "이수납, 주임",
                  cashReceipt: { purpose: CashReceiptPurpose.INCOME_DEDUCTION, approvalNumber: "119283746" },
                }),
                invoiceId: "inv-2",
                patientName: "=HYPERLINK(1)",
                chartNumber: 1002n,
              }),
            ],
          };
        },
        listOutstanding: (req) => {
          this.outstandingRequests.push(req);
          const debtors = [
            create(DebtorSchema, { patientId: "p-1", patientName: "김민수", chartNumber: 101n, amount: 30000n, since: timestampFromDate(new Date("2025-01-10T00:00:00Z")) }),
            create(DebtorSchema, { patientId: "p-2", patientName: "이영희", chartNumber: 102n, amount: 90000n, since: timestampFromDate(new Date("2025-02-20T00:00:00Z")) }),
            create(DebtorSchema, { patientId: "p-3", patientName: "박철수", chartNumber: 103n, amount: 5000n, since: timestampFromDate(new Date("2024-12-01T00:00:00Z")) }),
          ];
          if (req.orderBy === "age") debtors.sort((a, b) => Number(a.since!.seconds - b.since!.seconds));
          else debtors.sort((a, b) => (b.amount > a.amount ? 1 : -1));
          return { debtors };
        },
      });
    });
  }
}

/** Mounts a billing screen as the app will: billing messages and routes, a signed-in user with roles. */
async function mountBilling(
  component: Component,
  transport: Transport,
  path: string,
  props: Record<string, unknown> = {},
  roles: Role[] = [Role.ADMIN],
  locale: "ko" | "en" = "ko",
) {
  const pinia = piniaWith(transport);
  useAuthStore().me = meFor(roles);
  const router = createRouter({
    history: createMemoryHistory(),
    routes: [...billingRoutes, { path: "/:rest(.*)*", component: { render: () => null } }],
  });
  await router.push(path);
  await router.isReady();
  const i18n = createAppI18n(locale);
  i18n.global.mergeLocaleMessage("ko", { billing: billingKo });
  i18n.global.mergeLocaleMessage("en", { billing: billingEn });
  const wrapper = mount(component, {
    attachTo: document.body,
    props,
    global: {
      plugins: [pinia, i18n, router, createAppVuetify("ko")],
      provide: { [transportKey as symbol]: transport },
    },
  });
  return { wrapper, router };
}

function text(el: ParentNode, testid: string): string {
  return (el.querySelector(`[data-testid="${testid}"]`)?.textContent ?? "").trim();
}

function dialog(): HTMLElement {
  const d = document.querySelector<HTMLElement>('[data-testid="payment-dialog"]');
  if (!d) throw new Error("no payment dialog");
  return d;
}

afterEach(() => {
  document.body.innerHTML = "";
  vi.restoreAllMocks();
});

describe("money", () => {
  it("formats and parses whole won as bigint", () => {
    expect(formatWon(12300n)).toBe("₩12,300");
    expect(formatWon(0n)).toBe("₩0");
    expect(formatWon(-1000n)).toBe("-₩1,000");
    // Beyond what a float holds exactly.
    expect(formatWon(9007199254740993n)).toBe("₩9,007,199,254,740,993");
    expect(parseWon("12,300")).toBe(12300n);
    expect(parseWon("₩ 5000")).toBe(5000n);
    expect(parseWon("12.5")).toBeNull();
    expect(parseWon("-3")).toBeNull();
    expect(todayIn("Asia/Seoul", new Date("2025-03-04T15:30:00Z"))).toBe("2025-03-05");
  });
});

describe("invoice view", () => {
  it("issues the draft, takes a card + cash payment with one key across a retry, and shows ₩0", async () => {
    const fake = new FakeBilling();
    fake.dropPayments = 1;
    const { wrapper } = await mountBilling(InvoiceView, fake.transport(), "/billing/invoices/inv-1", { id: "inv-1" });
    const page = wrapper.element;
    await until(() => text(page, "invoice-patient") === "김민수", "invoice shown");
    expect(text(page, "invoice-status")).toBe("작성 중");
    expect(text(page, "invoice-balance")).toBe("₩50,000");
    expect(text(page, "total-fee")).toBe("₩73,334");
    expect(page.textContent).toContain("비급여");
    expect(() => buttonByText("결제", page)).toThrow();

    buttonByText("발행", page).click();
    await until(() => text(page, "invoice-status") === "발행됨", "issued");

    buttonByText("결제", page).click();
    await until(() => document.querySelector('[data-testid="payment-dialog"]') !== null, "payment dialog");
    const amount0 = inputByLabel("금액", dialog());
    // Prefilled with the balance on one card row.
    expect(amount0.value).toBe("50000");
    type(amount0, "30000");
    await until(() => text(dialog(), "payment-remaining") === "₩20,000", "remaining shown");
    buttonByText("나머지 현금으로", dialog()).click();
    await until(() => text(dialog(), "payment-remaining") === "₩0", "rest in cash");
    // The card slip's details go with the card part; the cash part gets none.
    type(inputByLabel("카드사", dialog()), "신한");
    type(inputByLabel("승인번호", dialog().querySelector('[data-testid="payment-card-0"]')!), "30012345");
    await until(() => dialog().querySelector('[data-testid="payment-receipt-1"]') !== null, "cash receipt choice");

    buttonByText("결제", dialog()).click();
    await until(() => fake.payRequests.length === 1 && document.querySelector('[data-testid="payment-retry-hint"]') !== null, "network failure");
    // Sent again by itself, with the same key, when the connection is back.
    expect(dialog().querySelector('[data-testid="retry-waiting"]')?.textContent).toContain("연결이 돌아오면 자동으로 다시 보냅니다");
    window.dispatchEvent(new Event("offline"));
    await new Promise((r) => setTimeout(r, 0)); // let the app see the network go before it returns
    window.dispatchEvent(new Event("online"));
    await until(() => text(page, "invoice-balance") === "₩0", "paid in full");

    expect(fake.payRequests).toHaveLength(2);
    const [first, retry] = fake.payRequests as [RecordPaymentRequest, RecordPaymentRequest];
    expect(first.idempotencyKey.length).toBeGreaterThanOrEqual(8);
    expect(first.idempotencyKey.length).toBeLessThanOrEqual(64);
    expect(retry.idempotencyKey).toBe(first.idempotencyKey);
    expect(first.parts.map((p) => [p.method, p.amount])).toEqual([
      [PaymentMethod.CARD, 30000n],
      [PaymentMethod.CASH, 20000n],
    ]);
    for (const p of retry.parts) expect(typeof p.amount).toBe("bigint");
    expect(first.parts[0]!.card).toMatchObject({ issuer: "신한", approvalNumber: "30012345", installmentMonths: 0 });
    expect(first.parts[1]!.card).toBeUndefined();
    expect(first.parts[1]!.cashReceipt).toBeUndefined();
    expect(first.allowOverpayment).toBe(false);
    // Amounts stay bigint in the store too.
    const store = useBillingStore();
    expect(store.invoice?.balance).toBe(0n);
    expect(typeof store.invoice?.paidTotal).toBe("bigint");
    expect(text(page, "invoice-status")).toBe("수납 완료");
    // The statutory receipt says how it was paid; the short one lists both payments.
    const form = page.querySelector('[data-testid="statutory-sums"]')!;
    expect(form.textContent).toContain("납부한 금액 - 카드₩30,000");
    expect(form.textContent).toContain("납부한 금액 - 현금₩20,000");
    expect(page.querySelector('[data-testid="statutory-brn"]')!.textContent).toBe(savedClinic().businessRegistrationNumber);
    buttonByText("간이 영수증", page).click();
    await until(() => page.querySelector('[data-testid="receipt"]') !== null, "short receipt");
    const receipt = page.querySelector('[data-testid="receipt"]')!;
    expect(receipt.textContent).toContain("₩30,000");
    expect(receipt.textContent).toContain("₩20,000");
    expect(receipt.textContent).toContain("카드");
    expect(receipt.textContent).toContain("현금");
  });

  it("makes a new key for the next attempt after success, and refuses overpayment unless allowed", async () => {
    const fake = new FakeBilling();
    fake.invoice = draftInvoice({ status: InvoiceStatus.ISSUED });
    const { wrapper } = await mountBilling(InvoiceView, fake.transport(), "/billing/invoices/inv-1", { id: "inv-1" });
    const page = wrapper.element;
    await until(() => text(page, "invoice-balance") === "₩50,000", "invoice shown");

    buttonByText("결제", page).click();
    await until(() => document.querySelector('[data-testid="payment-dialog"]') !== null, "payment dialog");
    type(inputByLabel("금액", dialog()), "60000");
    await until(() => document.querySelector('[data-testid="payment-over-hint"]') !== null, "over hint");
    expect(buttonByText("결제", dialog()).disabled).toBe(true);
    const box = [...dialog().querySelectorAll("label[for]")].find((l) => l.textContent?.trim() === "초과 금액은 적립금으로")!;
    (document.getElementById(box.getAttribute("for")!) as HTMLInputElement).click();
    await until(() => !buttonByText("결제", dialog()).disabled, "allowed");
    buttonByText("결제", dialog()).click();
    await until(() => text(page, "invoice-balance") === "-₩10,000", "credit left");
    expect(fake.payRequests[0]!.allowOverpayment).toBe(true);
    expect(fake.payRequests[0]!.parts[0]!.amount).toBe(60000n);
  });
});

describe("payment refused by the server", () => {
  it("names the procedures in English from the catalog when the screen is in English", async () => {
    const fake = new FakeBilling();
    const { wrapper } = await mountBilling(InvoiceView, fake.transport(), "/billing/invoices/inv-1", { id: "inv-1" }, [Role.ADMIN], "en");
    await until(() => wrapper.element.textContent!.includes("Resin filling"), "English name");
    expect(wrapper.element.querySelector("table")!.textContent).not.toContain("레진 충전");
  });

  it("offers a discount up to what is left to pay, not the patient's whole share", async () => {
    const fake = new FakeBilling();
    fake.invoice = draftInvoice({ status: InvoiceStatus.PARTIALLY_PAID, paidTotal: 37500n, balance: 12500n });
    const { wrapper } = await mountBilling(InvoiceView, fake.transport(), "/billing/invoices/inv-1", { id: "inv-1" });
    const page = wrapper.element;
    await until(() => text(page, "invoice-balance") === "₩12,500", "invoice shown");
    buttonByText("할인", page).click();
    await until(() => document.body.textContent!.includes("최대 ₩12,500"), "the limit");
    type(inputByLabel("금액"), "22500");
    type(inputByLabel("사유"), "가족 할인");
    await wrapper.vm.$nextTick();
    buttonByText("할인", document.querySelector<HTMLElement>(".v-overlay--active .v-card")!).click();
    await until(() => document.body.textContent!.includes("최대 ₩12,500까지 입력할 수 있습니다"), "refused before sending");
  });

  it("says in words, with the amounts, that the balance changed meanwhile", async () => {
    const fake = new FakeBilling();
    fake.invoice = draftInvoice({ status: InvoiceStatus.ISSUED });
    fake.serverBalance = 30000n; // someone else took ₩20,000 a moment ago
    const { wrapper } = await mountBilling(InvoiceView, fake.transport(), "/billing/invoices/inv-1", { id: "inv-1" });
    const page = wrapper.element;
    await until(() => text(page, "invoice-balance") === "₩50,000", "invoice shown");
    buttonByText("결제", page).click();
    await until(() => document.querySelector('[data-testid="payment-dialog"]') !== null, "payment dialog");
    buttonByText("결제", dialog()).click();
    await until(() => dialog().querySelector('[data-testid="payment-refused-over"]') !== null, "refusal shown");
    const said = dialog().querySelector('[data-testid="problem"]')?.textContent ?? "";
    expect(said).toContain("₩50,000");
    expect(said).toContain("₩30,000");
    expect(said).not.toContain("balance");
    expect(fake.payRequests).toHaveLength(1);
  });
});

describe("new invoice", () => {
  it("creates the invoice and opens it", async () => {
    const fake = new FakeBilling();
    const { router } = await mountBilling(NewInvoiceView, fake.transport(), "/billing/new?patient=p-1&appointment=a-9", {
      patientId: "p-1",
      appointmentId: "a-9",
    });
    await until(() => router.currentRoute.value.path === "/billing/invoices/inv-1", "routed to the invoice");
    expect(fake.createRequests[0]!.patientId).toBe("p-1");
    expect(fake.createRequests[0]!.appointmentId).toBe("a-9");
    expect(fake.createRequests[0]!.entryIds).toEqual([]);
  });

  it("says so when nothing is left to bill", async () => {
    const fake = new FakeBilling();
    fake.nothingToBill = true;
    const { wrapper } = await mountBilling(NewInvoiceView, fake.transport(), "/billing/new?patient=p-1", { patientId: "p-1" });
    await until(() => wrapper.find('[data-testid="nothing-to-bill"]').exists(), "nothing to bill");
    expect(wrapper.text()).toContain("청구할 진료가 없습니다");
  });
});

describe("patient billing", () => {
  it("shows what the patient owes, the ledger with running balance and the invoices", async () => {
    const fake = new FakeBilling();
    const { wrapper } = await mountBilling(PatientBilling, fake.transport(), "/", { patientId: "p-1" });
    await until(() => text(wrapper.element, "patient-balance") === "₩30,000", "balance");
    expect(wrapper.text()).toContain("미수금");
    const ledger = wrapper.find('[data-testid="patient-ledger"]').text();
    expect(ledger).toContain("처치 2건");
    expect(ledger).toContain("카드 (삼성 · 일시불)");
    expect(ledger).not.toContain("PAYMENT_METHOD");
    expect(ledger).toContain("-₩20,000");
    expect(ledger).toContain("₩30,000");
    expect(wrapper.find('[data-testid="patient-invoices"] a[href="/billing/invoices/inv-1"]').exists()).toBe(true);
    const create = [...wrapper.element.querySelectorAll("a")].find((a) => a.textContent?.trim() === "청구서 만들기");
    expect(create?.getAttribute("href")).toBe("/billing/new?patient=p-1");
  });

  it("hides 청구서 만들기 without billing permission", async () => {
    const fake = new FakeBilling();
    const { wrapper } = await mountBilling(PatientBilling, fake.transport(), "/", { patientId: "p-1" }, [Role.HYGIENIST]);
    await until(() => text(wrapper.element, "patient-balance") === "₩30,000", "balance");
    expect(wrapper.text()).not.toContain("청구서 만들기");
  });
});

describe("billing home", () => {
  it("shows today's closing in Seoul and exports the payments as CSV for Excel", async () => {
    const fake = new FakeBilling();
    let blob: Blob | null = null;
    URL.createObjectURL = vi.fn((b: Blob) => {
      blob = b;
      return "blob:csv";
    }) as typeof URL.createObjectURL;
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});

    const { wrapper } = await mountBilling(BillingHomeView, fake.transport(), "/billing");
    const page = wrapper.element;
    await until(() => text(page, "closing-net").includes("₩45,000"), "closing shown");
    const today = todayIn("Asia/Seoul");
    expect(fake.closingRequests[0]).toMatchObject({ startDate: today, endDate: today });
    expect(text(page, "collection-CARD")).toContain("₩30,000");
    expect(text(page, "collection-CASH")).toContain("₩20,000");
    expect(text(page, "collection-BANK_TRANSFER")).toContain("₩0");
    expect(text(page, "closing-refunds")).toContain("₩5,000");
    expect(text(page, "closing-discounts")).toContain("₩1,000");
    expect(text(page, "closing-outstanding")).toContain("₩120,000");
    expect(text(page, "closing-production")).toContain("김원장");
    expect(page.querySelectorAll('[data-testid="closing-payments"] tbody tr')).toHaveLength(2);
    const first = page.querySelector('[data-testid="closing-payments"] tbody tr')!.textContent!;
    expect(first).toContain("김하늘");
    expect(first).toContain("#1001");
    expect(first).toContain("신한 · 3개월 · 승인 30012345");

    buttonByText("CSV 내보내기", page).click();
    await until(() => blob !== null, "csv made");
    const bytes = await new Promise<ArrayBuffer>((resolve) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result as ArrayBuffer);
      r.readAsArrayBuffer(blob as unknown as Blob);
    });
    // Excel needs the BOM's bytes at the very start.
    expect([...new Uint8Array(bytes).slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
    expect(csv.startsWith("\uFEFF")).toBe(true);
    const lines = csv.slice(1).trim().split("\r\n");
    expect(lines[0]).toBe("일시,구분,환자,차트번호,청구서,결제 수단,카드·현금영수증,금액,수납자");
    expect(lines[1]).toBe("2025-03-04 11:00:00,결제,김하늘,1001,inv-1,카드,신한 · 3개월 · 승인 30012345,30000,이수납");
    expect(lines[2]).toBe(
      `2025-03-04 11:00:00,결제,'=HYPERLINK(1),1002,inv-2,현금,현금영수증(소득공제) · 승인 119283746,20000,"이수납, 주임"`,
    );
  });

  it("sorts the outstanding list by amount and by age", async () => {
    const fake = new FakeBilling();
    const { wrapper } = await mountBilling(BillingHomeView, fake.transport(), "/billing?tab=outstanding");
    const page = wrapper.element;
    const names = () => [...page.querySelectorAll('[data-testid="debtor"] a')].map((a) => a.textContent?.trim());
    await until(() => names().length === 3, "debtors shown");
    expect(names()).toEqual(["이영희", "김민수", "박철수"]);
    expect(text(page, "outstanding-total")).toContain("₩125,000");

    buttonByText("경과일", page).click();
    await until(() => names()[0] === "박철수", "sorted by age");
    expect(names()).toEqual(["박철수", "김민수", "이영희"]);
    expect(fake.outstandingRequests.map((r) => r.orderBy)).toEqual(["amount", "age"]);
    expect(page.querySelector('[data-testid="debtor"] a')?.getAttribute("href")).toBe("/patients/p-3?tab=billing");
  });
});

describe("closing csv", () => {
  const labels = {
    time: "t",
    kind: "k",
    patient: "p",
    chartNumber: "c",
    invoice: "i",
    method: "m",
    details: "d",
    amount: "a",
    by: "b",
    kindName: (e: ClosingEntry) => (e.refund ? "환불" : "결제"),
    methodName: () => "카드",
    detailsOf: () => "신한 · 일시불",
  };

  it("keeps amounts as plain whole numbers, a refund negative, with whose it was", () => {
    const payment = create(PaymentSchema, { id: "k/0", method: PaymentMethod.CARD, amount: 9007199254740993n, receivedBy: 'a "b"' });
    const csv = closingCsv(
      [
        create(ClosingEntrySchema, { payment, invoiceId: "inv-1", patientName: "김하늘", chartNumber: 7n }),
        create(ClosingEntrySchema, { payment, refund: { id: "r", amount: 5000n, by: "데스크" }, invoiceId: "inv-1", patientName: "김하늘", chartNumber: 7n }),
      ],
      labels,
      "Asia/Seoul",
    );
    expect(csv).toBe(
      '\uFEFFt,k,p,c,i,m,d,a,b\r\n,결제,김하늘,7,inv-1,카드,신한 · 일시불,9007199254740993,"a ""b"""\r\n,환불,김하늘,7,inv-1,카드,신한 · 일시불,-5000,데스크\r\n',
    );
  });

  it("keeps a spreadsheet from running what was typed as a formula", () => {
    expect(csvField("=HYPERLINK(\"http://x\")")).toBe("\"'=HYPERLINK(\"\"http://x\"\")\"");
    expect(csvField("+82 10")).toBe("'+82 10");
    expect(csvField("-fee")).toBe("'-fee");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("\tx")).toBe("'\tx");
    expect(csvField("-5000")).toBe("-5000");
    expect(csvField("김하늘")).toBe("김하늘");
  });
});

describe("statutory receipt", () => {
  it("puts each line in the form's row and column, and says how it was paid", () => {
    const inv = create(InvoiceSchema, {
      lines: [
        create(InvoiceLineSchema, { procedureCode: "EXAM", fee: 20000n, insured: true, patientAmount: 6000n, insurerAmount: 14000n }),
        create(InvoiceLineSchema, { procedureCode: "RS-CR", fee: 40000n, insured: false, patientAmount: 40000n }),
        create(InvoiceLineSchema, { procedureCode: "IMPL", fee: 1000000n, insured: false, patientAmount: 1000000n }),
      ],
      feeTotal: 1060000n,
      patientTotal: 1046000n,
      discountTotal: 46000n,
      balance: 300000n,
      payments: [
        create(PaymentSchema, { method: PaymentMethod.CREDIT, amount: 100000n }),
        create(PaymentSchema, { method: PaymentMethod.CARD, amount: 500000n, refunded: 50000n }),
        create(PaymentSchema, {
          method: PaymentMethod.CASH,
          amount: 100000n,
          cashReceipt: { purpose: CashReceiptPurpose.INCOME_DEDUCTION, approvalNumber: "119283746" },
        }),
        create(PaymentSchema, { method: PaymentMethod.BANK_TRANSFER, amount: 50000n }),
      ],
    });
    const categories: Record<string, ProcedureCategory> = {
      EXAM: ProcedureCategory.DIAGNOSTIC,
      "RS-CR": ProcedureCategory.RESTORATIVE,
      IMPL: ProcedureCategory.IMPLANT,
    };
    const f = statutoryReceipt(inv, (code) => categories[code]);
    expect(f.rows.tests).toEqual({ patient: 6000n, insurer: 14000n, fullyPatient: 0n, uninsured: 0n });
    expect(f.rows.treatment.uninsured).toBe(40000n);
    expect(f.rows.prosthetics.uninsured).toBe(1000000n);
    expect(f.total).toEqual({ patient: 6000n, insurer: 14000n, fullyPatient: 0n, uninsured: 1040000n });
    expect(f.patientTotal).toBe(1000000n);
    expect(f.alreadyPaid).toBe(100000n);
    expect(f.toPay).toBe(900000n);
    expect([f.paidCard, f.paidCashReceipt, f.paidCash, f.paid]).toEqual([450000n, 100000n, 50000n, 600000n]);
    expect(f.unpaid).toBe(300000n);
    expect(f.cashApprovals).toEqual(["119283746"]);
    expect(formDate(new Date("2026-12-05T16:30:00Z"), "ko", "Asia/Seoul")).toBe("2026년 12월 6일");
  });
});
