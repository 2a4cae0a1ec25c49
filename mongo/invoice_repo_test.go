package mongo_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/billing"
)

// TestAccountCommitIsOneWinner races twenty writers for the same change
// number: exactly one commits, the others are told AlreadyExists and
// nothing of theirs is stored.
func TestAccountCommitIsOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newBillingWorld(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv := &molarv1.Invoice{Id: fmt.Sprintf("inv-%d", i), PatientId: faultPatient, Version: 1, Status: molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT,
				Lines: []*molarv1.InvoiceLine{{EntryId: "e1", Fee: 1000, PatientAmount: 1000}}}
			switch err := w.repo.Commit(ctx, billing.Change{PatientID: faultPatient, Seq: 1, Invoices: []*molarv1.Invoice{inv}}); services.ErrorCode(err) {
			case 0:
				wins.Add(1)
			case services.AlreadyExists:
			default:
				t.Errorf("commit: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d writers committed change 1", wins.Load())
	}
	a := w.account(t)
	if a.Seq != 1 || len(a.Invoices) != 1 {
		t.Fatalf("account after the race: seq %d, %d invoices", a.Seq, len(a.Invoices))
	}
	// Before Apply the invoice is found through its change; after, through
	// the head, and Apply is idempotent.
	id := a.Invoices[0].GetId()
	if p, err := w.repo.PatientOf(ctx, id); err != nil || p != faultPatient {
		t.Fatalf("PatientOf before apply: %q %v", p, err)
	}
	c := billing.Change{PatientID: faultPatient, Seq: 1}
	for range 2 {
		if err := w.repo.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := w.repo.PatientOf(ctx, id); err != nil || p != faultPatient {
		t.Fatalf("PatientOf after apply: %q %v", p, err)
	}
	all, err := w.repo.All(ctx)
	if err != nil || len(all) != 1 || !proto.Equal(all[0], a.Invoices[0]) {
		t.Fatalf("All = %v, %v", all, err)
	}
	if _, err := w.repo.PatientOf(ctx, "nope"); services.ErrorCode(err) != services.NotFound {
		t.Fatalf("PatientOf unknown: %v", err)
	}
}

// TestCreditIsSpentOnce races payments of two invoices that each want all
// of the patient's credit: one gets it, the other is refused, and the credit
// drawn is never more than there was.
func TestCreditIsSpentOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newBillingWorld(t)
	w.chart[faultPatient] = append(w.chart[faultPatient], billing.CompletedEntry{ID: "e3", Code: "CR", Name: "크라운", Fee: 30000})
	svc := w.process(t, nil)
	var ids []string
	for _, e := range []string{"e1", "e2", "e3"} {
		inv, err := svc.Create(ctx, faultPatient, "", []string{e})
		if err != nil {
			t.Fatal(err)
		}
		if inv, err = svc.Issue(ctx, inv.GetId(), inv.GetVersion()); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inv.GetId())
	}
	cash := molarv1.PaymentMethod_PAYMENT_METHOD_CASH
	if _, err := svc.Pay(ctx, ids[0], "over", []billing.Part{{Method: cash, Amount: 105000}}, "", true); err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := ids[1+i%2]
			_, err := svc.Pay(ctx, target, fmt.Sprintf("credit-%d", i), []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 5000}}, "", false)
			switch services.ErrorCode(err) {
			case 0:
				ok.Add(1)
			case services.Invalid, services.FailedPrecondition:
				refused.Add(1)
			default:
				t.Errorf("pay: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 9 {
		t.Fatalf("%d payments drew the 5,000 of credit, %d were refused", ok.Load(), refused.Load())
	}
	a := w.account(t)
	checkBooks(t, a)
	if a.Credit() != 0 {
		t.Fatalf("credit left %d, want 0", a.Credit())
	}
}

// TestRefusedPaymentMovesNoCredit is the payment a desk sends with more
// credit than the balance: refused, and the credit stays where it was.
func TestRefusedPaymentMovesNoCredit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newBillingWorld(t)
	svc := w.process(t, nil)
	first, _ := svc.Create(ctx, faultPatient, "", []string{"e1"})
	first, _ = svc.Issue(ctx, first.GetId(), first.GetVersion())
	if _, err := svc.Pay(ctx, first.GetId(), "over", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CASH, Amount: 150000}}, "", true); err != nil {
		t.Fatal(err)
	}
	second, _ := svc.Create(ctx, faultPatient, "", []string{"e2"})
	second, _ = svc.Issue(ctx, second.GetId(), second.GetVersion())
	before := w.account(t)
	_, err := svc.Pay(ctx, second.GetId(), "too-much", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 50000}}, "", false)
	p := services.ProblemOf(err)
	if p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_PAYMENT_EXCEEDS_BALANCE || p.GetAmount() != 50000 || p.GetLimit() != 6000 {
		t.Fatalf("refusal = %v (%v), want PAYMENT_EXCEEDS_BALANCE 50000 > 6000", p, err)
	}
	after := w.account(t)
	if after.Seq != before.Seq || after.Credit() != 50000 {
		t.Fatalf("after the refusal: seq %d→%d, credit %d (want 50,000 untouched)", before.Seq, after.Seq, after.Credit())
	}
	// Voided and draft invoices are refused the same way, by type.
	if _, err := svc.Void(ctx, second.GetId(), "잘못 발행", second.GetVersion()); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Pay(ctx, second.GetId(), "void", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 100}}, "", false)
	if services.ProblemOf(err).GetReason() != molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID {
		t.Fatalf("paying a void invoice: %v", err)
	}
	draft, err := svc.Create(ctx, faultPatient, "", []string{"e2"}) // freed by the void
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Pay(ctx, draft.GetId(), "draft", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 100}}, "", false)
	if services.ProblemOf(err).GetReason() != molarv1.ProblemReason_PROBLEM_REASON_INVOICE_NOT_ISSUED {
		t.Fatalf("paying a draft: %v", err)
	}
	if got := w.account(t).Credit(); got != 50000 {
		t.Fatalf("credit %d after the refusals, want 50,000", got)
	}
}

// TestMigrateInvoices moves invoices of the layout before accounts (protobuf
// bytes per version, heads, billed entries) into accounts, field for field,
// and a second run changes nothing. Times are kept to the millisecond, as
// BSON dates hold them.
func TestMigrateInvoices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newBillingWorld(t)
	at := timestamppb.New(w.now)
	old := []*molarv1.Invoice{
		{Id: "old-1", PatientId: "p1", PatientName: "김하늘", ChartNumber: 7, CopayPercent: 30, Status: molarv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_PAID,
			Lines:       []*molarv1.InvoiceLine{{EntryId: "e1", ProcedureCode: "RESIN", Name: "레진", Tooth: 36, Surfaces: "MO", Fee: 80000, PatientAmount: 80000, Provider: "김치과"}},
			Payments:    []*molarv1.Payment{{Id: "k/0", Method: molarv1.PaymentMethod_PAYMENT_METHOD_CARD, Amount: 50000, Time: at, ReceivedBy: "데스크", Refunded: 10000}},
			Refunds:     []*molarv1.Refund{{Id: "r", PaymentId: "k/0", Amount: 10000, Reason: "부분 취소", Time: at, By: "데스크"}},
			Adjustments: []*molarv1.Adjustment{{Id: "a", Amount: 5000, Reason: "할인", GrantedBy: "원장", Time: at}},
			FeeTotal:    80000, PatientTotal: 80000, DiscountTotal: 5000, PaidTotal: 40000, Balance: 35000, CreateTime: at, IssueTime: at, Version: 5},
		{Id: "old-2", PatientId: "p1", Status: molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT, CreateTime: timestamppb.New(w.now.Add(time.Millisecond)), Version: 1,
			Lines: []*molarv1.InvoiceLine{{EntryId: "e2", Fee: 1000, PatientAmount: 1000}}, PatientTotal: 1000, FeeTotal: 1000, Balance: 1000},
		{Id: "old-3", PatientId: "p2", Status: molarv1.InvoiceStatus_INVOICE_STATUS_VOID, VoidReason: "잘못", CreateTime: at, Version: 2,
			Lines: []*molarv1.InvoiceLine{{EntryId: "e9", Fee: 1000, PatientAmount: 1000}}},
	}
	for _, inv := range old {
		data, err := proto.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.Database.Collection("invoice_heads").InsertOne(ctx, bson.D{{Key: "_id", Value: inv.GetId()}, {Key: "revision", Value: inv.GetVersion()}, {Key: "data", Value: data}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.db.Database.Collection("billed_entries").InsertOne(ctx, bson.D{{Key: "_id", Value: "e1"}, {Key: "invoice_id", Value: "old-1"}}); err != nil {
		t.Fatal(err)
	}
	n, err := w.repo.MigrateInvoices(ctx, w.db)
	if err != nil || n != 2 {
		t.Fatalf("migrated %d patients, %v; want 2", n, err)
	}
	if n, err := w.repo.MigrateInvoices(ctx, w.db); err != nil || n != 0 {
		t.Fatalf("second run migrated %d, %v", n, err)
	}
	all, err := w.repo.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*molarv1.Invoice{}
	for _, inv := range all {
		byID[inv.GetId()] = inv
	}
	for _, inv := range old {
		if diff := cmp.Diff(inv, byID[inv.GetId()], protocmp.Transform()); diff != "" {
			t.Errorf("invoice %s changed in migration (-old +new):\n%s", inv.GetId(), diff)
		}
	}
	p1, err := w.repo.Account(ctx, "p1")
	if err != nil || p1.Seq != 1 || len(p1.Invoices) != 2 || p1.Invoices[0].GetId() != "old-1" {
		t.Fatalf("account p1: %+v %v", p1, err)
	}
	// The old collections are out of the way.
	if c, _ := w.db.Database.Collection("invoice_heads").CountDocuments(ctx, bson.D{}); c != 0 {
		t.Errorf("invoice_heads still has %d documents", c)
	}
}
