package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// postJSON calls procedure as the web app does (Connect, JSON) with the
// given Accept-Encoding, and returns the answer's Content-Encoding and its
// body as it crossed the wire.
func postJSON(t *testing.T, url, procedure, token, body, acceptEncoding string) (string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+procedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	// Set by hand, so that the client does not decompress by itself.
	req.Header.Set("Accept-Encoding", acceptEncoding)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	wire, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", procedure, res.StatusCode, wire)
	}
	return res.Header.Get("Content-Encoding"), wire
}

// decode undoes a Content-Encoding.
func decode(t *testing.T, encoding string, wire []byte) []byte {
	t.Helper()
	switch encoding {
	case "":
		return wire
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "zstd":
		d, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		out, err := d.DecodeAll(wire, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("unknown encoding %q", encoding)
	return nil
}

// demoServer is a server started on the demo clinic, as `molar seed
// --demo` then `molar serve` make it.
func demoServer(t *testing.T) *testServer {
	t.Helper()
	seed := startServer(t)
	if _, err := seedDemo(context.Background(), seed.db, seed.app, time.Now); err != nil {
		t.Fatal(err)
	}
	return startServer(t, seed.same())
}

// TestResponseCompression measures what compression saves on the demo
// clinic's week view (ListSchedule over a week) and on a page of patients
// (SearchPatients, 20 a page as the app asks, with and without a query),
// called as the web app calls them (Connect with JSON). Answers over 1 KiB
// go out in zstd to a client that accepts it anywhere in its list (as
// browsers list it after gzip), in gzip to one that offers only gzip, and
// as they are to one that offers neither; each decodes to the same answer.
// The sizes are logged:
//
//	go test ./cmd/molar -run TestResponseCompression -v
func TestResponseCompression(t *testing.T) {
	t.Parallel()
	ts := demoServer(t)
	_, token := ts.login(t, "frontdesk@molar.test", "seoul-desk-2026")

	loc := ts.app.schedule.Location()
	now := time.Now().In(loc)
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -(int(now.Weekday())+6)%7)
	calls := []struct{ name, procedure, body string }{
		{"week view", molarv1connect.ScheduleServiceListScheduleProcedure,
			fmt.Sprintf(`{"startDate":%q,"endDate":%q}`, monday.Format(time.DateOnly), monday.AddDate(0, 0, 6).Format(time.DateOnly))},
		{"patients, first page", molarv1connect.PatientServiceSearchPatientsProcedure, `{"pageSize":20}`},
		{"patients named 김", molarv1connect.PatientServiceSearchPatientsProcedure, `{"query":"김","pageSize":20}`},
	}
	for _, c := range calls {
		_, raw := postJSON(t, ts.URL, c.procedure, token, c.body, "identity")
		if len(raw) <= 1024 {
			t.Fatalf("%s: answer of %d bytes, too small to show compression", c.name, len(raw))
		}
		sizes := map[string]int{}
		for _, tc := range []struct{ accept, want string }{
			{"gzip", "gzip"},
			{"zstd", "zstd"},
			{"gzip, deflate, br, zstd", "zstd"}, // what Chromium's fetch sends
			{"gzip, deflate, br", "gzip"},       // Safari's
		} {
			enc, wire := postJSON(t, ts.URL, c.procedure, token, c.body, tc.accept)
			if enc != tc.want {
				t.Errorf("%s, Accept-Encoding %q: Content-Encoding %q, want %q", c.name, tc.accept, enc, tc.want)
				continue
			}
			// The same answer: the same length, valid JSON (the book lists
			// appointments that start together in no fixed order).
			if got := decode(t, enc, wire); len(got) != len(raw) || !json.Valid(got) {
				t.Errorf("%s: the %s answer decodes to %d bytes, not the %d of the plain one", c.name, enc, len(got), len(raw))
			}
			sizes[enc] = len(wire)
		}
		t.Logf("%s: %d bytes as JSON; gzip %d (%.0f%% saved), zstd %d (%.0f%% saved)", c.name, len(raw),
			sizes["gzip"], 100-100*float64(sizes["gzip"])/float64(len(raw)),
			sizes["zstd"], 100-100*float64(sizes["zstd"])/float64(len(raw)))
	}
}

// TestZstdBothWays: a Connect client that sends and accepts zstd is
// understood and answered in it, call after call (the pooled encoders and
// decoders are reset between them), over Connect and gRPC.
func TestZstdBothWays(t *testing.T) {
	t.Parallel()
	ts := demoServer(t)
	_, token := ts.login(t, "frontdesk@molar.test", "seoul-desk-2026")
	for _, protocol := range []connect.ClientOption{nil, connect.WithGRPC()} {
		opts := []connect.ClientOption{
			bearer(token),
			connect.WithAcceptCompression("zstd",
				func() connect.Decompressor { return newZstdDecoder() },
				func() connect.Compressor { return newZstdEncoder() }),
			connect.WithSendCompression("zstd"),
		}
		if protocol != nil {
			opts = append(opts, protocol)
		}
		c := molarv1connect.NewPatientServiceClient(h2c(), ts.URL, opts...)
		for range 3 {
			res, err := c.SearchPatients(context.Background(), connect.NewRequest(&molarv1.SearchPatientsRequest{PageSize: 20}))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Msg.GetPatients()) != 20 {
				t.Fatalf("%d patients, want 20", len(res.Msg.GetPatients()))
			}
		}
	}
}

// BenchmarkCompressWeekView compresses the demo clinic's week view (as
// JSON) as the server does each answer: gzip at its default level (Connect's
// own) and zstd as zstdCompression sets it up. It reports the time per
// answer and the bytes that go out:
//
//	go test ./cmd/molar -run '^$' -bench BenchmarkCompressWeekView
func BenchmarkCompressWeekView(b *testing.B) {
	t := &testing.T{}
	ts := demoServer(t)
	_, token := ts.login(t, "frontdesk@molar.test", "seoul-desk-2026")
	loc := ts.app.schedule.Location()
	now := time.Now().In(loc)
	monday := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -(int(now.Weekday())+6)%7)
	_, raw := postJSON(t, ts.URL, molarv1connect.ScheduleServiceListScheduleProcedure, token,
		fmt.Sprintf(`{"startDate":%q,"endDate":%q}`, monday.Format(time.DateOnly), monday.AddDate(0, 0, 6).Format(time.DateOnly)), "identity")
	for _, c := range []struct {
		name string
		new  func() connect.Compressor
	}{
		{"gzip", func() connect.Compressor { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }},
		{"zstd", func() connect.Compressor { return newZstdEncoder() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			var out bytes.Buffer
			w := c.new()
			for b.Loop() {
				out.Reset()
				w.Reset(&out)
				if _, err := w.Write(raw); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(raw)), "json-bytes")
			b.ReportMetric(float64(out.Len()), "sent-bytes")
		})
	}
}
