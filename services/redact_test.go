package services

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

func TestRedactedValues(t *testing.T) {
	t.Parallel()
	req := &molarv1.CreatePatientRequest{Details: &molarv1.PatientInput{
		Name: "황보칠성", Sex: molarv1.Sex_SEX_MALE, BirthDate: "1977-03-12", Rrn: "7703121849263", MobilePhone: "01073914826",
	}}
	got := RedactedValues(req)
	slices.Sort(got)
	// Every marked value; the sex (an enum) is no text.
	want := []string{"01073914826", "1977-03-12", "7703121849263", "황보칠성"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("RedactedValues lacks %q: %v", w, got)
		}
	}
	if slices.Contains(got, "") {
		t.Errorf("empty value among %v", got)
	}
	if diff := cmp.Diff([]string(nil), RedactedValues(&molarv1.GetPatientRequest{Id: "p1"})); diff != "" {
		t.Errorf("a request with no marked field: %s", diff)
	}
}
