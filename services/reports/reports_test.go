package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

func TestScrub(t *testing.T) {
	t.Parallel()
	s := NewScrubber([]string{"221B Baker Street", "x"})
	for _, tc := range []struct{ name, in, want string }{
		{"registration number", "rrn 770312-1849263 refused", "rrn [rrn] refused"},
		{"registration number without hyphen", "rrn=7703121849263", "rrn=[rrn]"},
		{"mobile number", "call 010-7391-4826.", "call [phone]."},
		{"mobile number, digits only", "phone 01073914826", "phone [phone]"},
		{"mobile number with spaces", "phone 010 7391 4826", "phone [phone]"},
		{"Seoul landline", "02-312-4567", "[phone]"},
		{"international form", "+82 10-7391-4826", "[phone]"},
		{"e-mail", "from chilseong.hwangbo@example.co.kr:", "from [email]:"},
		{"Korean text", "patient 황보칠성 (보호자 김영희)", "patient [text] ([text])"},
		{"a redacted field's value", "address 221B Baker Street, London", "address [redacted], London"},
		{"values shorter than two letters are not taken", "x marks", "x marks"},
		{"ids and amounts stay", "request cc06943e05d5f7ab31dcbe28 trace 6d6f6c61722d746573742d7472616365 paid 18000 of 100000",
			"request cc06943e05d5f7ab31dcbe28 trace 6d6f6c61722d746573742d7472616365 paid 18000 of 100000"},
		{"code stays", "services/patient.(*Service).Create at patient.go:120", "services/patient.(*Service).Create at patient.go:120"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Scrub(tc.in); got != tc.want {
				t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCheckDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn, profile string
		ok           bool
	}{
		{"", "prod", true},
		{"https://key@sentry.example.com/1", "prod", true},
		{"http://key@127.0.0.1:9000/1", "dev", true},
		{"http://key@sentry.example.com/1", "prod", false},
		{"http://key@sentry.example.com/1", "stage", false},
		{"sentry.example.com", "dev", false},
		{"https://sentry.example.com/1", "dev", false},
	} {
		if err := CheckDSN(tc.dsn, tc.profile); (err == nil) != tc.ok {
			t.Errorf("CheckDSN(%q, %s) = %v", tc.dsn, tc.profile, err)
		}
	}
}

// TestReportLeavesOutTheRequest sends a report of an error that quotes a
// request field marked debug_redact whose value has no shape the patterns
// know: the request's marked values are scrubbed all the same.
func TestReportLeavesOutTheRequest(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	r, err := New(Options{DSN: "http://public@" + strings.TrimPrefix(srv.URL, "http://") + "/1", Release: "molar@1.2.3", Environment: "stage"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	req := &molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{Name: "Jane Roe", Address: "221B Baker Street", Sex: molarv1.Sex_SEX_FEMALE}}
	r.Internal(context.Background(), "/molar.v1.PatientService/CreatePatient",
		fmt.Errorf("geocoding %s for %s: %w", "221B Baker Street", "Jane Roe", errors.New("timeout")), req)
	if !r.Flush(30 * time.Second) {
		t.Fatal("not sent")
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(bodies, "\n")
	if !strings.Contains(all, "geocoding [redacted] for [redacted]: timeout") || !strings.Contains(all, `"release":"molar@1.2.3"`) {
		t.Fatalf("report not as expected: %s", all)
	}
	for _, secret := range []string{"Baker", "Jane", "Roe"} {
		if strings.Contains(all, secret) {
			t.Errorf("the report contains %q", secret)
		}
	}
}

func TestOffWithoutDSN(t *testing.T) {
	t.Parallel()
	r, err := New(Options{})
	if err != nil || r != nil {
		t.Fatalf("New without a DSN = %v, %v", r, err)
	}
	// Every method works on the nil Reporter.
	r.Internal(context.Background(), "/p", errors.New("x"), nil)
	if !r.Flush(time.Second) {
		t.Error("Flush on nil")
	}
	r.Close()
}
