package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// TestMolarChild is the molar binary inside the test binary: with
// MOLAR_CHILD_ARGS set, it runs those arguments as the command line and
// nothing else, so tests can run, kill and restart whole processes.
func TestMolarChild(t *testing.T) {
	args := os.Getenv("MOLAR_CHILD_ARGS")
	if args == "" {
		t.Skip("runs only as a child process of another test")
	}
	ctx, stop := context.WithCancel(context.Background())
	go func() {
		sig := make(chan os.Signal, 1)
		signalNotify(sig)
		<-sig
		stop()
	}()
	if code := run(ctx, strings.Fields(args), os.Getenv, os.Stdin, os.Stdout, os.Stderr); code != 0 {
		t.Fatalf("molar %s exited %d", args, code)
	}
}

// child is a molar process on its own data directory, on the embedded
// engine, as `molar serve` runs in a clinic.
type child struct {
	dir, addr string
	cmd       *exec.Cmd
	// extraEnv is added to the process's environment.
	extraEnv []string
}

func (c *child) env(args string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MONGODB_URI=") && !strings.HasPrefix(kv, "MOLAR_") {
			env = append(env, kv)
		}
	}
	// Each child's metrics on a port of its own, as several test processes
	// run at once.
	env = append(env, "MOLAR_CHILD_ARGS="+args, "MOLAR_DATA_DIR="+c.dir, "MOLAR_ADDR="+c.addr, "MOLAR_ADMIN_ADDR=127.0.0.1:0",
		"MOLAR_JWT_KEYS="+testKeySpec, "MOLAR_LOG_LEVEL=warn")
	return append(env, c.extraEnv...)
}

func (c *child) command(args string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMolarChild$", "-test.count=1")
	cmd.Env = c.env(args)
	return cmd
}

// start runs `molar serve` and waits until it is ready.
func (c *child) start(t *testing.T) {
	t.Helper()
	c.cmd = c.command("serve")
	logs := &syncBuffer{}
	c.cmd.Stdout, c.cmd.Stderr = logs, logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if res, err := http.Get("http://" + c.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			_ = c.cmd.Process.Kill()
			t.Fatalf("molar serve not ready after 2 minutes:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the process as a power cut or the OOM killer would: SIGKILL,
// no shutdown of any kind.
func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

func (c *child) stop() {
	if c.cmd != nil && c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
		_ = c.cmd.Wait()
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// ack is a write the server answered with success.
type ack struct {
	kind    string // "payment" or "booking"
	invoice string // the invoice paid
	key     string // the payment's idempotency key, or the appointment id
}

// TestKillNineLosesNothingAcknowledged runs the real server on the embedded
// engine, sends a burst of payments and bookings over HTTP, and kills the
// process with SIGKILL at a random moment, three times over. After each
// restart every write that was answered with success is there, payments
// sent again with their keys are recorded once, the books balance and no
// two live appointments share a provider's or a chair's time.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real server processes")
	}
	t.Parallel()
	ctx := context.Background()
	c := &child{dir: t.TempDir(), addr: freeAddr(t)}
	t.Cleanup(c.stop)
	if out, err := c.command("seed --demo").CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	c.start(t)
	url := "http://" + c.addr
	login := func(email, password string) string {
		res, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, url).Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: email, Password: password}))
		if err != nil {
			t.Fatalf("login %s: %v", email, err)
		}
		return res.Msg.GetAccessToken()
	}
	desk, dentist := login("frontdesk@molar.test", "seoul-desk-2026"), login("dentist@molar.test", "seoul-dr-2026")
	billingc := func() molarv1connect.BillingServiceClient {
		return molarv1connect.NewBillingServiceClient(http.DefaultClient, url, bearer(desk))
	}
	schedulec := func() molarv1connect.ScheduleServiceClient {
		return molarv1connect.NewScheduleServiceClient(http.DefaultClient, url, bearer(desk))
	}

	// Four patients with an issued invoice each, and the book's columns.
	found, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, url, bearer(desk)).SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김", PageSize: 4}))
	if err != nil || len(found.Msg.GetPatients()) < 4 {
		t.Fatalf("demo patients: %v %v", found, err)
	}
	var patients, invoices []string
	for _, p := range found.Msg.GetPatients() {
		patients = append(patients, p.GetId())
		if _, err := molarv1connect.NewChartServiceClient(http.DefaultClient, url, bearer(dentist)).AddChartEntry(ctx, connect.NewRequest(&molarv1.AddChartEntryRequest{
			PatientId: p.GetId(), Tooth: 36, Surfaces: []molarv1.Surface{molarv1.Surface_SURFACE_O}, ProcedureCode: "RS-CR", Status: molarv1.EntryStatus_ENTRY_STATUS_COMPLETED,
		})); err != nil {
			t.Fatal(err)
		}
		inv, err := billingc().CreateInvoice(ctx, connect.NewRequest(&molarv1.CreateInvoiceRequest{PatientId: p.GetId()}))
		if err != nil {
			t.Fatal(err)
		}
		issued, err := billingc().IssueInvoice(ctx, connect.NewRequest(&molarv1.IssueInvoiceRequest{Id: inv.Msg.GetInvoice().GetId(), Version: inv.Msg.GetInvoice().GetVersion()}))
		if err != nil {
			t.Fatal(err)
		}
		invoices = append(invoices, issued.Msg.GetInvoice().GetId())
	}
	res, err := schedulec().ListResources(ctx, connect.NewRequest(&molarv1.ListResourcesRequest{}))
	if err != nil || len(res.Msg.GetProviders()) == 0 || len(res.Msg.GetChairs()) == 0 {
		t.Fatalf("resources: %v %v", res, err)
	}
	providers, chairs := res.Msg.GetProviders(), res.Msg.GetChairs()

	var mu sync.Mutex
	var acked []ack
	var unsure []ack // sent, no answer: the process died under them
	slot := 0
	nextSlot := func() (time.Time, string, string) {
		mu.Lock()
		defer mu.Unlock()
		slot++
		loc, _ := time.LoadLocation("Asia/Seoul")
		day := time.Now().In(loc).AddDate(0, 0, 14+slot/12)
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		at := time.Date(day.Year(), day.Month(), day.Day(), 9, 30, 0, 0, loc).Add(time.Duration(slot%12) * 10 * time.Minute)
		return at, providers[slot%len(providers)].GetId(), chairs[slot%len(chairs)].GetId()
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for round := range 3 {
		killAfter := 4 + rng.IntN(20)
		burst, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var count int
		done := make(chan struct{})
		note := func(a ack, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if a.kind == "payment" {
					unsure = append(unsure, a)
				}
				return
			}
			acked = append(acked, a)
			count++
			if count == killAfter {
				close(done)
			}
		}
		for w := range 4 {
			wg.Add(2)
			go func() { // a desk taking payments
				defer wg.Done()
				for n := 0; burst.Err() == nil; n++ {
					a := ack{kind: "payment", invoice: invoices[w], key: fmt.Sprintf("crash-%d-%d-%d", round, w, n)}
					_, err := billingc().RecordPayment(burst, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: a.invoice, IdempotencyKey: a.key,
						Parts: []*molarv1.PaymentPart{cash(1000)}}))
					note(a, err)
				}
			}()
			go func() { // a desk booking
				defer wg.Done()
				for burst.Err() == nil {
					at, provider, chair := nextSlot()
					got, err := schedulec().BookAppointment(burst, connect.NewRequest(&molarv1.BookAppointmentRequest{PatientId: patients[w], ProviderId: provider,
						ChairId: chair, StartTime: timestamppb.New(at), Minutes: 10}))
					if err == nil {
						note(ack{kind: "booking", key: got.Msg.GetAppointment().GetId()}, nil)
					}
				}
			}()
		}
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Fatalf("round %d: only %d writes acknowledged in 3 minutes", round, count)
		}
		c.kill(t)
		cancel()
		wg.Wait()
		c.start(t)
		desk = login("frontdesk@molar.test", "seoul-desk-2026")
		checkAfterCrash(t, ctx, billingc(), schedulec(), invoices, acked)
		// Payments that got no answer are sent again, as the web app does
		// with the same key: each is then recorded exactly once.
		for _, a := range unsure {
			if _, err := billingc().RecordPayment(ctx, connect.NewRequest(&molarv1.RecordPaymentRequest{InvoiceId: a.invoice, IdempotencyKey: a.key,
				Parts: []*molarv1.PaymentPart{cash(1000)}})); err != nil && connect.CodeOf(err) != connect.CodeFailedPrecondition {
				t.Fatalf("payment %s sent again: %v", a.key, err)
			}
		}
		for _, inv := range invoices {
			got, err := billingc().GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: inv}))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, p := range got.Msg.GetInvoice().GetPayments() {
				seen[p.GetId()]++
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("payment %s recorded %d times", id, n)
				}
			}
		}
		unsure = nil
		kinds := map[string]int{}
		for _, a := range acked {
			kinds[a.kind]++
		}
		t.Logf("round %d: killed after %d acknowledged writes; acknowledged in all %v, all there", round, killAfter, kinds)
	}
}

// checkAfterCrash checks what a restarted server shows against what was
// acknowledged before the kill.
func checkAfterCrash(t *testing.T, ctx context.Context, billingc molarv1connect.BillingServiceClient, schedulec molarv1connect.ScheduleServiceClient,
	invoices []string, acked []ack) {
	t.Helper()
	payments := map[string]bool{}
	for _, inv := range invoices {
		got, err := billingc.GetInvoice(ctx, connect.NewRequest(&molarv1.GetInvoiceRequest{Id: inv}))
		if err != nil {
			t.Fatal(err)
		}
		i := got.Msg.GetInvoice()
		var paid int64
		for _, p := range i.GetPayments() {
			payments[strings.TrimSuffix(p.GetId(), "/0")] = true
			paid += p.GetAmount()
		}
		for _, r := range i.GetRefunds() {
			paid -= r.GetAmount()
		}
		if paid != i.GetPaidTotal() || i.GetBalance() != i.GetPatientTotal()-i.GetDiscountTotal()-paid {
			t.Fatalf("invoice %s does not add up after the crash: paid %d of %d, balance %d", inv, i.GetPaidTotal(), paid, i.GetBalance())
		}
	}
	booked := map[string]*molarv1.Appointment{}
	loc, _ := time.LoadLocation("Asia/Seoul")
	from := time.Now().In(loc).AddDate(0, 0, 13)
	for week := range 6 {
		start := from.AddDate(0, 0, 7*week)
		got, err := schedulec.ListSchedule(ctx, connect.NewRequest(&molarv1.ListScheduleRequest{StartDate: start.Format(time.DateOnly), EndDate: start.AddDate(0, 0, 6).Format(time.DateOnly)}))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got.Msg.GetAppointments() {
			booked[a.GetId()] = a
		}
	}
	for _, a := range acked {
		switch {
		case a.kind == "payment" && !payments[a.key]:
			t.Fatalf("acknowledged payment %s is gone after the crash", a.key)
		case a.kind == "booking" && booked[a.key] == nil:
			t.Fatalf("acknowledged booking %s is gone after the crash", a.key)
		}
	}
	live := func(a *molarv1.Appointment) bool {
		s := a.GetStatus()
		return s != molarv1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED && s != molarv1.AppointmentStatus_APPOINTMENT_STATUS_NO_SHOW
	}
	var all []*molarv1.Appointment
	for _, a := range booked {
		if live(a) {
			all = append(all, a)
		}
	}
	for i, a := range all {
		for _, b := range all[i+1:] {
			as, bs := a.GetStartTime().AsTime(), b.GetStartTime().AsTime()
			overlap := as.Before(bs.Add(time.Duration(b.GetMinutes())*time.Minute)) && bs.Before(as.Add(time.Duration(a.GetMinutes())*time.Minute))
			if overlap && (a.GetProviderId() == b.GetProviderId() || a.GetChairId() == b.GetChairId()) {
				t.Fatalf("appointments %s and %s overlap in one column after the crash", a.GetId(), b.GetId())
			}
		}
	}
}
