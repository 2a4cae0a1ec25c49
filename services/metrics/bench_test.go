package metrics

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// BenchmarkInstrumentation is what metrics add to one call, without the
// network: the work the interceptor does around a unary RPC (its series
// looked up, timed, counted), and one database call observed.
//
//	go test ./services/metrics -run '^$' -bench Instrumentation -count 6
func BenchmarkInstrumentation(b *testing.B) {
	patients := molarv1.File_molar_v1_patient_proto.Services().ByName("PatientService")
	m := New(Config{Services: []protoreflect.ServiceDescriptor{patients}})
	b.Run("rpc", func(b *testing.B) {
		for b.Loop() {
			s := m.seriesOf("/molar.v1.PatientService/GetPatient")
			start := time.Now()
			s.duration.Observe(time.Since(start).Seconds())
			m.done(s, nil)
		}
	})
	observe := m.DBCall("sqlite", []string{"select", "insert"})
	ctx := context.Background()
	b.Run("db", func(b *testing.B) {
		for b.Loop() {
			start := time.Now()
			observe(ctx, "select", time.Since(start), nil)
		}
	})
}
