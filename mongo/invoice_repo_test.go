package mongo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo"
	"github.com/molar-dental/molar/mongo/mongotest"
	"github.com/molar-dental/molar/mongo/storetest"
)

// TestBillingContract runs the billing contract on the MongoDB repositories.
func TestBillingContract(t *testing.T) {
	t.Parallel()
	storetest.TestBilling(t, func(t *testing.T) storetest.Billing {
		db := mongotest.DB(t)
		return storetest.Billing{Store: mongo.NewInvoiceRepo(db), Audit: mongo.NewAuditRepo(db),
			Changes: mongo.NewChangeLog(db, time.Now, slog.New(slog.DiscardHandler)), Sparse: true}
	})
}

// TestMigrateInvoices moves invoices of the layout before accounts (protobuf
// bytes per version, heads, billed entries) into accounts, field for field,
// and a second run changes nothing. Times are kept to the millisecond, as
// BSON dates hold them.
func TestMigrateInvoices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := mongotest.DB(t)
	repo := mongo.NewInvoiceRepo(db)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := timestamppb.New(now)
	old := []*molarv1.Invoice{
		{Id: "old-1", PatientId: "p1", PatientName: "김하늘", ChartNumber: 7, CopayPercent: 30, Status: molarv1.InvoiceStatus_INVOICE_STATUS_PARTIALLY_PAID,
			Lines:       []*molarv1.InvoiceLine{{EntryId: "e1", ProcedureCode: "RESIN", Name: "레진", Tooth: 36, Surfaces: "MO", Fee: 80000, PatientAmount: 80000, Provider: "김치과"}},
			Payments:    []*molarv1.Payment{{Id: "k/0", Method: molarv1.PaymentMethod_PAYMENT_METHOD_CARD, Amount: 50000, Time: at, ReceivedBy: "데스크", Refunded: 10000}},
			Refunds:     []*molarv1.Refund{{Id: "r", PaymentId: "k/0", Amount: 10000, Reason: "부분 취소", Time: at, By: "데스크"}},
			Adjustments: []*molarv1.Adjustment{{Id: "a", Amount: 5000, Reason: "할인", GrantedBy: "원장", Time: at}},
			FeeTotal:    80000, PatientTotal: 80000, DiscountTotal: 5000, PaidTotal: 40000, Balance: 35000, CreateTime: at, IssueTime: at, Version: 5},
		{Id: "old-2", PatientId: "p1", Status: molarv1.InvoiceStatus_INVOICE_STATUS_DRAFT, CreateTime: timestamppb.New(now.Add(time.Millisecond)), Version: 1,
			Lines: []*molarv1.InvoiceLine{{EntryId: "e2", Fee: 1000, PatientAmount: 1000}}, PatientTotal: 1000, FeeTotal: 1000, Balance: 1000},
		{Id: "old-3", PatientId: "p2", Status: molarv1.InvoiceStatus_INVOICE_STATUS_VOID, VoidReason: "잘못", CreateTime: at, Version: 2,
			Lines: []*molarv1.InvoiceLine{{EntryId: "e9", Fee: 1000, PatientAmount: 1000}}},
	}
	for _, inv := range old {
		data, err := proto.Marshal(inv)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Database.Collection("invoice_heads").InsertOne(ctx, bson.D{{Key: "_id", Value: inv.GetId()}, {Key: "revision", Value: inv.GetVersion()}, {Key: "data", Value: data}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Database.Collection("billed_entries").InsertOne(ctx, bson.D{{Key: "_id", Value: "e1"}, {Key: "invoice_id", Value: "old-1"}}); err != nil {
		t.Fatal(err)
	}
	n, err := repo.MigrateInvoices(ctx, db)
	if err != nil || n != 2 {
		t.Fatalf("migrated %d patients, %v; want 2", n, err)
	}
	if n, err := repo.MigrateInvoices(ctx, db); err != nil || n != 0 {
		t.Fatalf("second run migrated %d, %v", n, err)
	}
	all, err := repo.All(ctx)
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
	p1, err := repo.Account(ctx, "p1")
	if err != nil || p1.Seq != 1 || len(p1.Invoices) != 2 || p1.Invoices[0].GetId() != "old-1" {
		t.Fatalf("account p1: %+v %v", p1, err)
	}
	// The old collections are out of the way.
	if c, _ := db.Database.Collection("invoice_heads").CountDocuments(ctx, bson.D{}); c != 0 {
		t.Errorf("invoice_heads still has %d documents", c)
	}
}
