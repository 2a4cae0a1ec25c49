// Package storetest is the contract every store adapter passes: the same
// tests, racing and fault-injecting, run against each engine (SQLite, and
// the MongoDB repositories on the MongoDB-protocol engine).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/billing"
)

// faults counts the calls a billing command makes to everything it writes
// through (the account store, the audit trail, the change log) and injects
// one fault at call number at: a failed call, or a crash, after which the
// process is gone and every later call of it fails too.
type faults struct {
	mu      sync.Mutex
	calls   int
	at      int
	crash   bool
	crashed bool
}

var errInjected = errors.New("injected fault")

func (f *faults) hit() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.crashed {
		return errInjected
	}
	f.calls++
	if f.calls == f.at {
		f.crashed = f.crash
		return errInjected
	}
	return nil
}

type faultyStore struct {
	billing.Store
	f *faults
}

func (s faultyStore) Account(ctx context.Context, p string) (billing.Account, error) {
	if err := s.f.hit(); err != nil {
		return billing.Account{}, err
	}
	return s.Store.Account(ctx, p)
}

func (s faultyStore) Commit(ctx context.Context, c billing.Change) error {
	if err := s.f.hit(); err != nil {
		return err
	}
	return s.Store.Commit(ctx, c)
}

func (s faultyStore) Apply(ctx context.Context, c billing.Change) error {
	if err := s.f.hit(); err != nil {
		return err
	}
	return s.Store.Apply(ctx, c)
}

func (s faultyStore) Settle(ctx context.Context, p string, seq int64) error {
	if err := s.f.hit(); err != nil {
		return err
	}
	return s.Store.Settle(ctx, p, seq)
}

func (s faultyStore) PatientOf(ctx context.Context, id string) (string, error) {
	if err := s.f.hit(); err != nil {
		return "", err
	}
	return s.Store.PatientOf(ctx, id)
}

type faultyAudit struct {
	audit.Store
	f *faults
}

func (s faultyAudit) Append(ctx context.Context, e audit.Event) error {
	if err := s.f.hit(); err != nil {
		return err
	}
	return s.Store.Append(ctx, e)
}

type faultyChanges struct {
	billing.Changes
	f *faults
}

func (s faultyChanges) Publish(ctx context.Context, kind, key string, rev int64) error {
	if err := s.f.hit(); err != nil {
		return err
	}
	return s.Changes.Publish(ctx, kind, key, rev)
}

// The other domains billing asks, as plain values: they are not storage.
type billingPatients struct{}

func (billingPatients) Label(context.Context, string) (string, int64, error) {
	return "김하늘", 1001, nil
}

type billingClinic struct{}

func (billingClinic) Get(context.Context) (*molarv1.Clinic, error) {
	return &molarv1.Clinic{TimeZone: "Asia/Seoul"}, nil
}

type billingChart map[string][]billing.CompletedEntry

func (c billingChart) Completed(_ context.Context, p string) ([]billing.CompletedEntry, error) {
	return c[p], nil
}

const faultPatient = "patient-1"

// Billing is what an engine gives the billing service: a fresh, empty
// database's account store, audit trail and change log, all on one
// database, dropped when the test ends.
type Billing struct {
	Store   billing.Store
	Audit   audit.Store
	Changes billing.Changes
	// Sparse asks for each call to be faulted one way only (failed at odd
	// calls, crashed at even ones) instead of both: for an engine too slow
	// to run the whole matrix in CI.
	Sparse bool
}

// BillingEngine opens a fresh Billing for a test.
type BillingEngine func(t *testing.T) Billing

// billingWorld is one database and what a server process builds on it.
type billingWorld struct {
	sparse bool
	repo   billing.Store
	trail  audit.Store
	log    billing.Changes
	chart  billingChart
	now    time.Time
	mu     sync.Mutex
	ids    int
}

func newBillingWorld(t *testing.T, open BillingEngine) *billingWorld {
	e := open(t)
	return &billingWorld{sparse: e.Sparse, repo: e.Store, trail: e.Audit, log: e.Changes,
		now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), chart: billingChart{faultPatient: {
			{ID: "e1", Code: "IMPL", Name: "임플란트", Tooth: 36, Fee: 100000},
			{ID: "e2", Code: "SCAL", Name: "스케일링", Fee: 20000, Insured: true},
		}}}
}

// process starts a server process's billing service; with f, everything it
// writes through goes through f.
func (w *billingWorld) process(t *testing.T, f *faults) *billing.Service {
	var store billing.Store = w.repo
	var trail audit.Store = w.trail
	var changes billing.Changes = w.log
	if f != nil {
		store, trail, changes = faultyStore{store, f}, faultyAudit{trail, f}, faultyChanges{changes, f}
	}
	logger := slog.New(slog.DiscardHandler)
	now := func() time.Time { return w.now }
	newID := func() string {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.ids++
		return fmt.Sprintf("id-%04d", w.ids)
	}
	svc := billing.NewService(billing.Deps{Store: store, Chart: w.chart, Patients: billingPatients{}, Clinic: billingClinic{}, Changes: changes,
		Audit: audit.NewRecorder(trail, now, newID, logger), Now: now, NewID: newID, Logger: logger})
	return svc
}

// restart is a fresh process after a crash: recover, then load.
func (w *billingWorld) restart(t *testing.T) *billing.Service {
	t.Helper()
	svc := w.process(t, nil)
	ctx := context.Background()
	if err := svc.Recover(ctx); err != nil {
		t.Fatalf("recover: %v", err)
	}
	return svc
}

func (w *billingWorld) account(t *testing.T) billing.Account {
	t.Helper()
	a, err := w.repo.Account(context.Background(), faultPatient)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// billingStep is one command of the front desk and how to tell, from the
// account, that it took effect.
type billingStep struct {
	name string
	run  func(ctx context.Context, svc *billing.Service, a billing.Account) error
	done func(a billing.Account) bool
}

func invoiceWith(a billing.Account, entry string) *molarv1.Invoice {
	for _, inv := range a.Invoices {
		if slices.ContainsFunc(inv.GetLines(), func(l *molarv1.InvoiceLine) bool { return l.GetEntryId() == entry }) {
			return inv
		}
	}
	return nil
}

func hasPayment(a billing.Account, key string) int {
	n := 0
	for _, inv := range a.Invoices {
		for _, p := range inv.GetPayments() {
			if p.GetId() == key+"/0" {
				n++
			}
		}
	}
	return n
}

func hasRefund(a billing.Account, key string) bool {
	for _, inv := range a.Invoices {
		for _, r := range inv.GetRefunds() {
			if r.GetId() == key {
				return true
			}
		}
	}
	return false
}

// billingDay is a day at the desk: bill, pay too much with consent, bill
// again and pay partly from the credit, refund part of a card payment,
// discount, void an invoice.
func billingDay(w *billingWorld) []billingStep {
	cash, card, credit := molarv1.PaymentMethod_PAYMENT_METHOD_CASH, molarv1.PaymentMethod_PAYMENT_METHOD_CARD, molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT
	pay := func(entry, key string, allow bool, parts ...billing.Part) billingStep {
		return billingStep{name: "pay " + key,
			run: func(ctx context.Context, svc *billing.Service, a billing.Account) error {
				_, err := svc.Pay(ctx, invoiceWith(a, entry).GetId(), key, parts, "", allow)
				return err
			},
			done: func(a billing.Account) bool { return hasPayment(a, key) > 0 }}
	}
	create := func(entry string) billingStep {
		return billingStep{name: "create " + entry,
			run: func(ctx context.Context, svc *billing.Service, a billing.Account) error {
				_, err := svc.Create(ctx, faultPatient, "", []string{entry})
				return err
			},
			done: func(a billing.Account) bool { return invoiceWith(a, entry) != nil }}
	}
	issue := func(entry string) billingStep {
		return billingStep{name: "issue " + entry,
			run: func(ctx context.Context, svc *billing.Service, a billing.Account) error {
				inv := invoiceWith(a, entry)
				_, err := svc.Issue(ctx, inv.GetId(), inv.GetVersion())
				return err
			},
			done: func(a billing.Account) bool { return invoiceWith(a, entry).GetIssueTime() != nil }}
	}
	return []billingStep{
		create("e1"), issue("e1"),
		pay("e1", "k1", false, billing.Part{Method: card, Amount: 50000,
			Card: &molarv1.CardDetails{Issuer: "신한", ApprovalNumber: "30012345", InstallmentMonths: 3}}),
		pay("e1", "k2", true, billing.Part{Method: cash, Amount: 60000, // 10,000 over: credit
			CashReceipt: &molarv1.CashReceipt{Purpose: molarv1.CashReceiptPurpose_CASH_RECEIPT_PURPOSE_INCOME_DEDUCTION, ApprovalNumber: "119283746"}}),
		create("e2"), issue("e2"), // insured 20,000 at 30%: 6,000
		pay("e2", "k3", false, billing.Part{Method: credit, Amount: 4000}, billing.Part{Method: cash, Amount: 1000}),
		{name: "refund r1",
			run: func(ctx context.Context, svc *billing.Service, a billing.Account) error {
				_, err := svc.Refund(ctx, invoiceWith(a, "e1").GetId(), "k1/0", 20000, "카드 일부 취소", "r1")
				return err
			},
			done: func(a billing.Account) bool { return hasRefund(a, "r1") }},
		{name: "discount",
			run: func(ctx context.Context, svc *billing.Service, a billing.Account) error {
				inv := invoiceWith(a, "e2")
				_, err := svc.Adjust(ctx, inv.GetId(), 1000, "가족 할인", inv.GetVersion())
				return err
			},
			done: func(a billing.Account) bool { return len(invoiceWith(a, "e2").GetAdjustments()) > 0 }},
	}
}

// summary is what must come out of the day whatever happened on the way:
// per invoice its lines, status, sums and the money on it.
func summary(a billing.Account) []string {
	var out []string
	for _, inv := range a.Invoices {
		s := fmt.Sprintf("%s %v fee=%d patient=%d discount=%d paid=%d balance=%d", inv.GetLines()[0].GetEntryId(), inv.GetStatus(),
			inv.GetFeeTotal(), inv.GetPatientTotal(), inv.GetDiscountTotal(), inv.GetPaidTotal(), inv.GetBalance())
		for _, p := range inv.GetPayments() {
			s += fmt.Sprintf(" pay:%s:%v:%d-%d", p.GetId(), p.GetMethod(), p.GetAmount(), p.GetRefunded())
			if c := p.GetCard(); c != nil {
				s += fmt.Sprintf(":card %s %s %d", c.GetIssuer(), c.GetApprovalNumber(), c.GetInstallmentMonths())
			}
			if r := p.GetCashReceipt(); r != nil {
				s += fmt.Sprintf(":receipt %v %s", r.GetPurpose(), r.GetApprovalNumber())
			}
		}
		for _, r := range inv.GetRefunds() {
			s += fmt.Sprintf(" refund:%s:%s:%d", r.GetId(), r.GetPaymentId(), r.GetAmount())
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// checkBooks checks the invariants of an account that hold after any fault:
// each invoice's paid total is its payments less its refunds, and credit is
// neither created nor destroyed (what was paid in equals what is owed less
// what is still owed, plus what was refunded as money).
func checkBooks(t *testing.T, a billing.Account) {
	t.Helper()
	var in, refunded, owed, balance int64
	for _, inv := range a.Invoices {
		var paid int64
		for _, p := range inv.GetPayments() {
			paid += p.GetAmount()
			if p.GetMethod() != molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT {
				in += p.GetAmount()
			}
		}
		for _, r := range inv.GetRefunds() {
			paid -= r.GetAmount()
			if r.GetPaymentId() != "credit" {
				refunded += r.GetAmount()
			}
		}
		if paid != inv.GetPaidTotal() {
			t.Errorf("invoice %s: paid total %d, payments less refunds %d", inv.GetId(), inv.GetPaidTotal(), paid)
		}
		if inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT && inv.GetStatus() != molarv1.InvoiceStatus_INVOICE_STATUS_VOID {
			owed += inv.GetPatientTotal() - inv.GetDiscountTotal()
			balance += inv.GetBalance()
		}
	}
	// Money in, less money out, is what was owed less what is still owed.
	if in-refunded != owed-balance {
		t.Errorf("money in %d - refunded %d != owed %d - balance %d: credit was created or destroyed", in, refunded, owed, balance)
	}
}

// auditedChanges returns the billing audit events of the trail by id.
func auditedChanges(t *testing.T, w *billingWorld) map[string]int {
	t.Helper()
	events, _, err := w.trail.List(context.Background(), audit.Filter{TargetID: faultPatient}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, e := range events {
		ids[e.ID]++
	}
	return ids
}

// billingSurvivesEveryFault runs a day at the desk once cleanly, counts
// the store, audit and change-log calls it makes, then again with each call
// failing in turn, and again with the process crashing at each call. After a
// fault the process restarts and recovers, and the desk retries what it
// was not told had succeeded (payments with the same idempotency key). The
// books must balance after every fault, every acknowledged change must be
// there, nothing may be recorded twice, and the day must end as the clean
// run did, with one audit record per change.
func billingSurvivesEveryFault(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	clean := newBillingWorld(t, open)
	counter := &faults{}
	svc := clean.process(t, counter)
	for _, st := range billingDay(clean) {
		if err := st.run(ctx, svc, clean.account(t)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	want := summary(clean.account(t))
	calls := counter.calls
	if n := len(auditedChanges(t, clean)); n != len(billingDay(clean)) {
		t.Fatalf("clean run: %d audit records for %d changes", n, len(billingDay(clean)))
	}
	t.Logf("a clean day makes %d calls; balances: %v", calls, want)

	for _, crash := range []bool{false, true} {
		for at := 1; at <= calls; at++ {
			if clean.sparse && (at%2 == 0) != crash {
				continue
			}
			name := fmt.Sprintf("fail call %d", at)
			if crash {
				name = fmt.Sprintf("crash at call %d", at)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				w := newBillingWorld(t, open)
				f := &faults{at: at, crash: crash}
				svc := w.process(t, f)
				for _, st := range billingDay(w) {
					err := st.run(ctx, svc, w.account(t))
					if err == nil {
						if !st.done(w.account(t)) {
							t.Fatalf("%s was acknowledged but is not in the account", st.name)
						}
						continue
					}
					if !errors.Is(err, errInjected) && services.ErrorCode(err) == 0 {
						t.Logf("%s: %v", st.name, err)
					}
					// The process may be gone: start a new one, which
					// recovers, and retry what did not happen.
					svc = w.restart(t)
					checkBooks(t, w.account(t))
					if !st.done(w.account(t)) {
						if err := st.run(ctx, svc, w.account(t)); err != nil {
							t.Fatalf("%s retried after %v: %v", st.name, err, err)
						}
					}
					if st.name[:3] == "pay" {
						// A retry with the same key, as a client that lost
						// the answer would send: recorded once.
						if err := st.run(ctx, svc, w.account(t)); err != nil {
							t.Fatalf("%s sent again: %v", st.name, err)
						}
						if n := hasPayment(w.account(t), st.name[4:]); n != 1 {
							t.Fatalf("%s recorded %d times", st.name, n)
						}
					}
				}
				svc = w.restart(t)
				got := w.account(t)
				checkBooks(t, got)
				if diff := cmp.Diff(want, summary(got)); diff != "" {
					t.Errorf("the day ended differently (-clean +faulty):\n%s", diff)
				}
				audited := auditedChanges(t, w)
				if len(audited) != int(got.Seq) {
					t.Errorf("%d audit records for %d committed changes", len(audited), got.Seq)
				}
				for id, n := range audited {
					if n != 1 {
						t.Errorf("audit record %s appears %d times", id, n)
					}
				}
				if p, err := w.repo.Pending(ctx); err != nil || len(p) != 0 {
					t.Errorf("after recovery %d changes are still pending (%v)", len(p), err)
				}
				_ = svc
			})
		}
	}
}

// TestBilling runs the billing contract against an engine.
func TestBilling(t *testing.T, open BillingEngine) {
	for name, test := range map[string]func(*testing.T, BillingEngine){
		"commit is one winner":              accountCommitIsOneWinner,
		"credit is spent once":              creditIsSpentOnce,
		"refused payment moves nothing":     refusedPaymentMovesNoCredit,
		"refund never returns spent credit": refundNeverReturnsSpentCredit,
		"keys are matched exactly":          keysAreMatchedExactly,
		"survives every fault":              billingSurvivesEveryFault,
		"reports read the store":            billingReportsReadTheStore,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open)
		})
	}
}

// accountCommitIsOneWinner races twenty writers for the same change
// number: exactly one commits, the others are told AlreadyExists and
// nothing of theirs is stored.
func accountCommitIsOneWinner(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
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

// creditIsSpentOnce races payments of two invoices that each want all
// of the patient's credit: one gets it, the other is refused, and the credit
// drawn is never more than there was.
func creditIsSpentOnce(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
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

// refusedPaymentMovesNoCredit is the payment a desk sends with more
// credit than the balance: refused, and the credit stays where it was.
func refusedPaymentMovesNoCredit(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
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

// refundNeverReturnsSpentCredit overpays an invoice, spends the credit on
// another, and then refunds the card payment: only what the first invoice
// still holds can go back, and nothing can be refunded from a void invoice.
// Keys that extend one another are separate payments.
func refundNeverReturnsSpentCredit(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
	svc := w.process(t, nil)
	first, _ := svc.Create(ctx, faultPatient, "", []string{"e1"}) // 100,000
	first, _ = svc.Issue(ctx, first.GetId(), first.GetVersion())
	card := molarv1.PaymentMethod_PAYMENT_METHOD_CARD
	if _, err := svc.Pay(ctx, first.GetId(), "K", []billing.Part{{Method: card, Amount: 150000}}, "", true); err != nil {
		t.Fatal(err)
	}
	second, _ := svc.Create(ctx, faultPatient, "", []string{"e2"}) // 6,000
	second, _ = svc.Issue(ctx, second.GetId(), second.GetVersion())
	if _, err := svc.Pay(ctx, second.GetId(), "K/1", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 6000}}, "", false); err != nil {
		t.Fatal(err)
	}
	if got := hasPayment(w.account(t), "K/1"); got != 1 {
		t.Fatalf("payment under key K/1 recorded %d times (taken for key K's?)", got)
	}
	_, err := svc.Refund(ctx, first.GetId(), "K/0", 150000, "카드 취소", "r-all")
	if p := services.ProblemOf(err); p.GetReason() != molarv1.ProblemReason_PROBLEM_REASON_REFUND_EXCEEDS_PAYMENT || p.GetLimit() != 144000 {
		t.Fatalf("refunding the whole card payment: %v (%v), want at most 144,000 (6,000 went on as credit)", p, err)
	}
	if _, err := svc.Refund(ctx, first.GetId(), "K/0", 144000, "카드 취소", "r-held"); err != nil {
		t.Fatal(err)
	}
	cur := invoiceWith(w.account(t), "e1")
	if _, err := svc.Void(ctx, cur.GetId(), "잘못 발행", cur.GetVersion()); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Refund(ctx, first.GetId(), "K/0", 6000, "나머지", "r-rest")
	if services.ProblemOf(err).GetReason() != molarv1.ProblemReason_PROBLEM_REASON_INVOICE_VOID {
		t.Fatalf("refunding from a void invoice: %v", err)
	}
	checkBooks(t, w.account(t))
}

// billingReportsReadTheStore: the ledger, the receivables and the daily
// closing come from the store, not from a process's memory: a process that
// has just started, and one that made none of the changes, report every
// change any process made, on the day (in the clinic's zone) it was made.
func billingReportsReadTheStore(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
	w.chart["patient-2"] = []billing.CompletedEntry{{ID: "f1", Code: "CR", Name: "크라운", Fee: 50000}}
	desk := w.process(t, nil)
	cash, card := molarv1.PaymentMethod_PAYMENT_METHOD_CASH, molarv1.PaymentMethod_PAYMENT_METHOD_CARD
	issue := func(patient string, entries ...string) *molarv1.Invoice {
		inv, err := desk.Create(ctx, patient, "", entries)
		if err != nil {
			t.Fatal(err)
		}
		if inv, err = desk.Issue(ctx, inv.GetId(), inv.GetVersion()); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	// 2 December, 19:00 in Seoul: patient 1's implant (patient share
	// 100,000) with 30,000 paid in cash.
	first := issue(faultPatient, "e1")
	if _, err := desk.Pay(ctx, first.GetId(), "d1", []billing.Part{{Method: cash, Amount: 30000}}, "", false); err != nil {
		t.Fatal(err)
	}
	// 3 December: 20,000 by card on it, and patient 2's crown paid in full.
	w.now = w.now.Add(24 * time.Hour)
	if _, err := desk.Pay(ctx, first.GetId(), "d2", []billing.Part{{Method: card, Amount: 20000}}, "", false); err != nil {
		t.Fatal(err)
	}
	crown := issue("patient-2", "f1")
	if _, err := desk.Pay(ctx, crown.GetId(), "d3", []billing.Part{{Method: card, Amount: crown.GetBalance()}}, "", false); err != nil {
		t.Fatal(err)
	}

	report := w.process(t, nil) // never saw any of it
	day := func(d string) *molarv1.GetDailyClosingResponse {
		t.Helper()
		c, err := report.Closing(ctx, d, d)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := day("2026-12-02"); c.GetNetCollections() != 30000 || len(c.GetPayments()) != 1 || c.GetOutstanding() != 50000 {
		t.Fatalf("closing of 2 December: collected %d in %d payments, outstanding %d; want 30000 in 1, 50000",
			c.GetNetCollections(), len(c.GetPayments()), c.GetOutstanding())
	}
	if c := day("2026-12-03"); c.GetNetCollections() != 20000+crown.GetBalance() || len(c.GetPayments()) != 2 {
		t.Fatalf("closing of 3 December: collected %d in %d payments", c.GetNetCollections(), len(c.GetPayments()))
	}
	if c := day("2026-12-04"); c.GetNetCollections() != 0 || len(c.GetPayments()) != 0 || c.GetOutstanding() != 50000 {
		t.Fatalf("closing of a day with nothing: %v", c)
	}
	debtors, err := report.Outstanding(ctx, "amount")
	if err != nil || len(debtors) != 1 || debtors[0].GetPatientId() != faultPatient || debtors[0].GetAmount() != 50000 {
		t.Fatalf("receivables: %v (%v)", debtors, err)
	}
	// The desk takes the rest; the other process sees it at once.
	if _, err := desk.Pay(ctx, first.GetId(), "d4", []billing.Part{{Method: cash, Amount: 50000}}, "", false); err != nil {
		t.Fatal(err)
	}
	if debtors, err := report.Outstanding(ctx, "amount"); err != nil || len(debtors) != 0 {
		t.Fatalf("receivables after the last payment: %v (%v)", debtors, err)
	}
	entries, balance, invoices, err := report.Ledger(ctx, faultPatient)
	if err != nil || balance != 0 || len(invoices) != 1 || len(entries) != 4 {
		t.Fatalf("ledger: %d entries, balance %d, %d invoices (%v)", len(entries), balance, len(invoices), err)
	}
}

// keysAreMatchedExactly records payments and refunds whose keys look like
// the ids derived from other keys: a payment part "<key>/<n>" and a credit
// transfer "<key>/credit". Each is its own payment or refund; retrying the
// same key records it once.
func keysAreMatchedExactly(t *testing.T, open BillingEngine) {
	ctx := context.Background()
	w := newBillingWorld(t, open)
	svc := w.process(t, nil)
	card := molarv1.PaymentMethod_PAYMENT_METHOD_CARD
	first, _ := svc.Create(ctx, faultPatient, "", []string{"e1"}) // 100,000
	first, _ = svc.Issue(ctx, first.GetId(), first.GetVersion())
	for _, key := range []string{"K/0", "K", "K"} { // the second "K" is a retry
		if _, err := svc.Pay(ctx, first.GetId(), key, []billing.Part{{Method: card, Amount: 60000}}, "", true); err != nil {
			t.Fatalf("payment %q: %v", key, err)
		}
	}
	for _, key := range []string{"K/0", "K"} {
		if got := hasPayment(w.account(t), key); got != 1 {
			t.Fatalf("payment under key %q recorded %d times, want once", key, got)
		}
	}
	if got := invoiceWith(w.account(t), "e1").GetPaidTotal(); got != 120000 {
		t.Fatalf("paid %d on the first invoice, want 120,000", got)
	}

	// Credit drawn under key C is the first invoice's refund "C/credit";
	// a refund someone asks for under that key is another refund.
	second, _ := svc.Create(ctx, faultPatient, "", []string{"e2"})
	second, _ = svc.Issue(ctx, second.GetId(), second.GetVersion())
	if _, err := svc.Pay(ctx, second.GetId(), "C", []billing.Part{{Method: molarv1.PaymentMethod_PAYMENT_METHOD_CREDIT, Amount: 1000}}, "", false); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second is a retry
		if _, err := svc.Refund(ctx, first.GetId(), "K/0", 5000, "카드 일부 취소", "C/credit"); err != nil {
			t.Fatal(err)
		}
	}
	var asked, moved int
	for _, r := range invoiceWith(w.account(t), "e1").GetRefunds() {
		switch {
		case r.GetId() != "C/credit":
		case r.GetPaymentId() == "K/0" && r.GetAmount() == 5000:
			asked++
		case r.GetPaymentId() == "credit" && r.GetAmount() == 1000:
			moved++
		}
	}
	if asked != 1 || moved != 1 {
		t.Fatalf("refunds keyed C/credit: %d asked for, %d credit moved; want one of each", asked, moved)
	}
	if got := invoiceWith(w.account(t), "e1").GetPaidTotal(); got != 120000-1000-5000 {
		t.Fatalf("paid %d on the first invoice, want 114,000", got)
	}
	checkBooks(t, w.account(t))
}
