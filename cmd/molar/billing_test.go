package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// billingTest has a patient with completed procedures: a resin filling
// (uninsured, 100,000) and a root canal (insured, 60,000: the patient pays
// 30% = 18,000).
type billingTest struct {
	ts      *testServer
	desk    molarv1connect.BillingServiceClient
	staff   map[molarv1.Role]string
	patient string
}

func newBillingTest(t *testing.T) *billingTest {
	t.Helper()
	ctx := context.Background()
	ts := startServer(t)
	staff := clinicStaff(t, ts)
	seedCatalog(t, ts)
	b := &billingTest{ts: ts, staff: staff, desk: molarv1connect.NewBillingServiceClient(http.DefaultClient, ts.URL, bearer(staff[molarv1.Role_ROLE_FRONT_DESK]))}
	b.patient = b.newPatient(t, "수납테스트")
	_ = ctx
	return b
}

func (b *billingTest) newPatient(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	p, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, b.ts.URL, bearer(b.staff[molarv1.Role_ROLE_FRONT_DESK])).CreatePatient(ctx,
		connect.NewRequest(&molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{Name: name, Sex: molarv1.Sex_SEX_FEMALE, BirthDate: "1980-01-01"}, AllowDuplicate: true}))
	if err != nil {
		t.Fatal(err)
	}
	id := p.Msg.GetPatient().GetId()
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, b.ts.URL, bearer(b.staff[molarv1.Role_ROLE_DENTIST]))
	for _, e := range []*molarv1.AddChartEntryRequest{
		{PatientId: id, Tooth: 36, Surfaces: []molarv1.Surface{molarv1.Surface_SURFACE_M, molarv1.Surface_SURFACE_O}, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED},
		{PatientId: id, Tooth: 46, ProcedureCode: "EN-RCT", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED},
		{PatientId: id, Tooth: 11, ProcedureCode: "PR-CR-Z", Status: molarv1.EntryStatus_ENTRY_STATUS_PLANNED},
	} {
		if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(e)); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func (b *billingTest) issued(t *testing.T, patient string) *molarv1.Invoice {
	t.Helper()
	ctx := context.Background()
	created, err := b.desk.CreateInvoice(ctx, connect.NewRequest(&molarv1.CreateInvoiceRequest{PatientId: patient}))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := b.desk.IssueInvoice(ctx, connect.NewRequest(&molarv1.IssueInvoiceRequest{Id: created.Msg.GetInvoice().GetId(), Version: created.Msg.GetInvoice().GetVersion()}))
	if err != nil {
		t.Fatal(err)
	}
	return inv.Msg.GetInvoice()
}

func (b *billingTest) pay(ctx context.Context, id, key string, overpay bool, parts ...*molarv1.PaymentPart) (*molarv1.Invoice, error) {
	res, err := b.desk.RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: id, IdempotencyKey: key, Parts: parts, AllowOverpayment: overpay}))
	if err != nil {
		return nil, err
	}
	return res.Msg.GetInvoice(), nil
}

func cash(n int64) *molarv1.PaymentPart {
	return &molarv1.PaymentPart{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CASH, Amount: n}
}

func card(n int64) *molarv1.PaymentPart {
	return &molarv1.PaymentPart{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CARD, Amount: n}
}

func TestInvoiceFromChart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	inv := b.issued(t, b.patient)
	if len(inv.GetLines()) != 2 || inv.GetFeeTotal() != 160000 || inv.GetInsurerTotal() != 42000 || inv.GetPatientTotal() != 118000 || inv.GetBalance() != 118000 {
		t.Fatalf("invoice %v", inv)
	}
	// The same procedures cannot be billed again.
	if _, err := b.desk.CreateInvoice(ctx, connect.NewRequest(&molarv1.CreateInvoiceRequest{PatientId: b.patient})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("second invoice: %v", err)
	}
	// Issued invoices are final: a discount is the way to change the amount.
	adj, err := b.desk.AddAdjustment(ctx, connect.NewRequest(&molarv1.AddAdjustmentRequest{Id: inv.GetId(), Amount: 8000, Reason: "지인 할인", Version: inv.GetVersion()}))
	if err != nil || adj.Msg.GetInvoice().GetBalance() != 110000 || adj.Msg.GetInvoice().GetAdjustments()[0].GetGrantedBy() == "" {
		t.Fatalf("adjustment: %v %v", adj, err)
	}
	// Split payment: card then cash, to zero.
	paid, err := b.pay(ctx, inv.GetId(), "split-payment-1", false, card(60000), cash(50000))
	if err != nil || paid.GetBalance() != 0 || paid.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_PAID {
		t.Fatalf("split payment: %v %v", paid, err)
	}
	// A hygienist cannot take payments.
	hyg := molarv1connect.NewBillingServiceClient(http.DefaultClient, b.ts.URL, bearer(b.staff[molarv1.Role_ROLE_DENTIST]))
	if _, err := hyg.RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: inv.GetId(), IdempotencyKey: "not-allowed-1", Parts: []*molarv1.PaymentPart{cash(1)}})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("dentist paying: %v", err)
	}
	// Refund part of the card payment; the balance reopens.
	ref, err := b.desk.RefundPayment(ctx, connect.NewRequest(&molarv1.RefundPaymentRequest{InvoiceId: inv.GetId(), PaymentId: paid.GetPayments()[0].GetId(), Amount: 10000, Reason: "과오납", IdempotencyKey: "refund-key-1"}))
	if err != nil || ref.Msg.GetInvoice().GetBalance() != 10000 || ref.Msg.GetInvoice().GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_PAID {
		t.Fatalf("refund: %v %v", ref, err)
	}
	if _, err := b.desk.RefundPayment(ctx, connect.NewRequest(&molarv1.RefundPaymentRequest{InvoiceId: inv.GetId(), PaymentId: paid.GetPayments()[0].GetId(), Amount: 60000, Reason: "x", IdempotencyKey: "refund-key-2"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("refund beyond the payment: %v", err)
	}
	ledger, err := b.desk.GetLedger(ctx, connect.NewRequest(&molarv1.GetLedgerRequest{PatientId: b.patient}))
	if err != nil || ledger.Msg.GetBalance() != 10000 || len(ledger.Msg.GetEntries()) != 5 {
		t.Fatalf("ledger: %v %v", ledger, err)
	}
}

// TestConcurrentPayments races partial payments: none is lost, the invoice
// never collects more than it is owed, and a retried key counts once.
func TestConcurrentPayments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	inv := b.issued(t, b.patient) // owes 118,000
	const n = 20
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.pay(ctx, inv.GetId(), fmt.Sprintf("race-payment-%02d", i), false, cash(10000))
			switch {
			case err == nil:
				ok.Add(1)
			case connect.CodeOf(err) == connect.CodeFailedPrecondition:
				refused.Add(1)
			default:
				t.Errorf("payment %d: %v", i, err)
			}
		}()
	}
	// The same request sent five times at once is one payment.
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.pay(ctx, inv.GetId(), "retried-key-0001", false, card(5000)); err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: inv.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	final := got.Msg.GetInvoice()
	var sum int64
	retried := 0
	for _, p := range final.GetPayments() {
		sum += p.GetAmount()
		if p.GetMethod() == molarv1.PaymentMethod_PAYMENT_METHOD_CARD {
			retried++
		}
	}
	if retried > 1 {
		t.Fatalf("a retried payment was recorded %d times", retried)
	}
	if int64(len(final.GetPayments())-retried) != ok.Load() {
		t.Fatalf("%d cash payments accepted but %d recorded", ok.Load(), len(final.GetPayments())-retried)
	}
	if sum > final.GetPatientTotal() || final.GetBalance() != final.GetPatientTotal()-sum || final.GetPaidTotal() != sum {
		t.Fatalf("over-collected or lost: total %d, payments %d, balance %d", final.GetPatientTotal(), sum, final.GetBalance())
	}
	if ok.Load()+refused.Load() != n || refused.Load() == 0 {
		t.Fatalf("accepted %d, refused %d", ok.Load(), refused.Load())
	}
}

// TestCreditAndVoid: an overpayment becomes credit that the next invoice
// uses; voiding frees the procedures for a new invoice.
func TestCreditAndVoid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	first := b.issued(t, b.patient)
	if _, err := b.pay(ctx, first.GetId(), "overpay-key-1", false, cash(130000)); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("overpayment without consent: %v", err)
	}
	over, err := b.pay(ctx, first.GetId(), "overpay-key-2", true, cash(130000))
	if err != nil || over.GetBalance() != -12000 {
		t.Fatalf("overpayment: %v %v", over, err)
	}
	// New work, new invoice, paid partly from the credit.
	chartc := molarv1connect.NewChartServiceClient(http.DefaultClient, b.ts.URL, bearer(b.staff[molarv1.Role_ROLE_DENTIST]))
	if _, err := chartc.AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{PatientId: b.patient, ProcedureCode: "PV-SCAL", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED})); err != nil {
		t.Fatal(err)
	}
	second := b.issued(t, b.patient) // scaling: insured 15,000 → 4,500
	if second.GetPatientTotal() != 4500 {
		t.Fatalf("second invoice %v", second)
	}
	paid, err := b.pay(ctx, second.GetId(), "credit-key-1", false, &molarv1.PaymentPart{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 4500})
	if err != nil || paid.GetBalance() != 0 {
		t.Fatalf("credit payment: %v %v", paid, err)
	}
	src, _ := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: first.GetId()}))
	if src.Msg.GetInvoice().GetBalance() != -7500 {
		t.Fatalf("credit left on the first invoice %d, want -7500", src.Msg.GetInvoice().GetBalance())
	}
	if _, err := b.pay(ctx, second.GetId(), "credit-key-2", true, &molarv1.PaymentPart{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 9000}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("more credit than there is: %v", err)
	}

	// A fresh patient's invoice is voided and rebuilt.
	other := b.newPatient(t, "무효테스트")
	inv := b.issued(t, other)
	if _, err := b.desk.VoidInvoice(ctx, connect.NewRequest(&molarv1.VoidInvoiceRequest{Id: inv.GetId(), Reason: "잘못 발행", Version: inv.GetVersion()})); err != nil {
		t.Fatal(err)
	}
	again := b.issued(t, other)
	if len(again.GetLines()) != 2 {
		t.Fatalf("rebuilt invoice has %d lines", len(again.GetLines()))
	}
	if _, err := b.pay(ctx, inv.GetId(), "void-pay-key-1", false, cash(1000)); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("paying a void invoice: %v", err)
	}
}

// TestDailyClosingAddsUp generates payments, refunds and discounts and checks
// the closing against the records themselves.
func TestDailyClosingAddsUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	rng := rand.New(rand.NewPCG(4, 2))
	var invoices []string
	for i := range 4 {
		pid := b.patient
		if i > 0 {
			pid = b.newPatient(t, fmt.Sprintf("정산%d", i))
		}
		inv := b.issued(t, pid)
		invoices = append(invoices, inv.GetId())
		if rng.IntN(2) == 0 {
			res, err := b.desk.AddAdjustment(ctx, connect.NewRequest(&molarv1.AddAdjustmentRequest{Id: inv.GetId(), Amount: 1000 * int64(1+rng.IntN(5)), Reason: "할인", Version: inv.GetVersion()}))
			if err != nil {
				t.Fatal(err)
			}
			inv = res.Msg.GetInvoice()
		}
		p, err := b.pay(ctx, inv.GetId(), fmt.Sprintf("closing-pay-%d", i), false, card(int64(10000*(1+rng.IntN(5)))), cash(int64(1000*(1+rng.IntN(9)))))
		if err != nil {
			t.Fatal(err)
		}
		if rng.IntN(2) == 0 {
			if _, err := b.desk.RefundPayment(ctx, connect.NewRequest(&molarv1.RefundPaymentRequest{InvoiceId: inv.GetId(), PaymentId: p.GetPayments()[0].GetId(), Amount: 500, Reason: "환불", IdempotencyKey: fmt.Sprintf("closing-refund-%d", i)})); err != nil {
				t.Fatal(err)
			}
		}
	}
	var want struct{ card, cash, refunds, discounts, outstanding, production int64 }
	for _, id := range invoices {
		res, _ := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: id}))
		inv := res.Msg.GetInvoice()
		for _, p := range inv.GetPayments() {
			if p.GetMethod() == molarv1.PaymentMethod_PAYMENT_METHOD_CARD {
				want.card += p.GetAmount()
			} else {
				want.cash += p.GetAmount()
			}
		}
		for _, r := range inv.GetRefunds() {
			want.refunds += r.GetAmount()
		}
		want.discounts += inv.GetDiscountTotal()
		want.outstanding += max(inv.GetBalance(), 0)
		want.production += inv.GetFeeTotal()
	}
	loc, _ := time.LoadLocation("Asia/Seoul")
	today := time.Now().In(loc).Format(time.DateOnly)
	res, err := b.desk.GetDailyClosing(ctx, connect.NewRequest(&molarv1.GetDailyClosingRequest{StartDate: today, EndDate: today}))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Msg
	got := map[molarv1.PaymentMethod]int64{}
	for _, m := range c.GetCollections() {
		got[m.GetMethod()] = m.GetAmount()
	}
	var production int64
	for _, p := range c.GetProduction() {
		production += p.GetAmount()
	}
	if got[molarv1.PaymentMethod_PAYMENT_METHOD_CARD] != want.card || got[molarv1.PaymentMethod_PAYMENT_METHOD_CASH] != want.cash ||
		c.GetRefunds() != want.refunds || c.GetDiscounts() != want.discounts || c.GetOutstanding() != want.outstanding ||
		production != want.production || c.GetNetCollections() != want.card+want.cash-want.refunds {
		t.Fatalf("closing %+v, want %+v", c, want)
	}
	debtors, err := b.desk.ListOutstanding(ctx, connect.NewRequest(&molarv1.ListOutstandingRequest{OrderBy: "amount"}))
	if err != nil {
		t.Fatal(err)
	}
	var owed int64
	for i, d := range debtors.Msg.GetDebtors() {
		owed += d.GetAmount()
		if i > 0 && d.GetAmount() > debtors.Msg.GetDebtors()[i-1].GetAmount() {
			t.Fatal("not by amount")
		}
	}
	if owed != want.outstanding {
		t.Fatalf("debtors owe %d, closing says %d", owed, want.outstanding)
	}
	// The entries reconcile with the slips: every payment and refund once,
	// in time order, each with its patient and invoice.
	var paid, refunded int64
	for i, e := range c.GetEntries() {
		if e.GetInvoiceId() == "" || e.GetPatientName() == "" || e.GetChartNumber() == 0 || e.GetPayment() == nil {
			t.Fatalf("entry %d without its patient, invoice or payment: %v", i, e)
		}
		if e.GetRefund() != nil {
			refunded += e.GetRefund().GetAmount()
		} else {
			paid += e.GetPayment().GetAmount()
		}
	}
	if paid != want.card+want.cash || refunded != want.refunds {
		t.Fatalf("entries pay %d and refund %d, want %d and %d", paid, refunded, want.card+want.cash, want.refunds)
	}
}

// TestPaymentDetails: a card payment keeps its slip's card company,
// approval number and instalments, a cash payment its cash receipt; card
// details on a cash part are refused by the schema's rule, naming it.
func TestPaymentDetails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	inv := b.issued(t, b.patient)
	withCard := card(30000)
	withCard.Card = &molarv1.CardDetails{Issuer: "KB국민", ApprovalNumber: "48213377", InstallmentMonths: 2}
	withReceipt := cash(5000)
	withReceipt.CashReceipt = &molarv1.CashReceipt{Purpose: molarv1.CashReceiptPurpose_CASH_RECEIPT_PURPOSE_EXPENSE_PROOF, ApprovalNumber: "220011"}
	paid, err := b.pay(ctx, inv.GetId(), "details-pay-1", false, withCard, withReceipt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: paid.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	ps := res.Msg.GetInvoice().GetPayments()
	if len(ps) != 2 || !proto.Equal(ps[0].GetCard(), withCard.Card) || !proto.Equal(ps[1].GetCashReceipt(), withReceipt.CashReceipt) {
		t.Fatalf("payments %v", ps)
	}
	wrong := cash(1000)
	wrong.Card = &molarv1.CardDetails{Issuer: "신한"}
	_, err = b.pay(ctx, inv.GetId(), "details-pay-2", false, wrong)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "card details go with a card payment") {
		t.Fatalf("card details on cash: %v", err)
	}
}

// TestIdempotencyKeysAreOpaque: a key is 8 to 64 letters, digits, '-' or
// '_', so it cannot take the form of the ids derived from another key (a
// payment's parts "<key>/<n>", the credit it draws "<key>/credit"); such a
// key is refused and nothing is recorded. A retry with the same key is
// recorded once.
func TestIdempotencyKeysAreOpaque(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBillingTest(t)
	inv := b.issued(t, b.patient)
	const key = "6f1c2b9e-3d4a-4f5b-8c7d-0e1f2a3b4c5d" // what the UI sends: a UUID
	for range 2 {
		if _, err := b.pay(ctx, inv.GetId(), key, false, card(10000)); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{key + "/0", key + "/credit", "pay key 0001", "short"} {
		if _, err := b.pay(ctx, inv.GetId(), bad, false, cash(1000)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("payment keyed %q: %v, want InvalidArgument", bad, err)
		}
	}
	paid, err := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: inv.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if ps := paid.Msg.GetInvoice().GetPayments(); len(ps) != 1 || paid.Msg.GetInvoice().GetPaidTotal() != 10000 {
		t.Fatalf("payments %v, want the one keyed %s", ps, key)
	}
	payment := paid.Msg.GetInvoice().GetPayments()[0].GetId()
	for _, bad := range []string{key + "/credit", key + "/0"} {
		_, err := b.desk.RefundPayment(ctx, connect.NewRequest(&molarv1.RefundPaymentRequest{InvoiceId: inv.GetId(), PaymentId: payment, Amount: 1000, Reason: "환불", IdempotencyKey: bad}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("refund keyed %q: %v, want InvalidArgument", bad, err)
		}
	}
	after, err := b.desk.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: inv.GetId()}))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(after.Msg.GetInvoice(), paid.Msg.GetInvoice()) {
		t.Fatalf("the refused refunds changed the invoice: %v, want %v", after.Msg.GetInvoice(), paid.Msg.GetInvoice())
	}
}
