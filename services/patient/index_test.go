package patient

import (
	"fmt"
	"testing"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

func TestInitials(t *testing.T) {
	for name, want := range map[string]string{"김민수": "ㄱㅁㅅ", "쌍둥이": "ㅆㄷㅇ", "Kim Minsu": "KimMinsu", "이 하늘": "ㅇㅎㄴ"} {
		if got := Initials(name); got != want {
			t.Errorf("Initials(%q) = %q, want %q", name, got, want)
		}
	}
}

func indexOf(ps ...Record) *Index {
	ix := NewIndex()
	for _, p := range ps {
		ix.Put(p)
	}
	return ix
}

func rec(chart int64, name, birth, phone string) Record {
	return Record{ID: fmt.Sprint("p", chart), ChartNumber: chart, Active: true, Version: 1,
		Details: &molarv1.PatientInput{Name: name, BirthDate: birth, MobilePhone: phone}}
}

func TestSearchKeys(t *testing.T) {
	ix := indexOf(
		rec(1, "김민수", "1985-03-02", "010-1234-5678"),
		rec(2, "김민지", "1990-12-24", "010-2222-5678"),
		rec(3, "박민수", "1985-03-02", "010-9876-0000"),
		rec(4, "이수민", "2001-07-15", "010-5555-1234"),
		rec(1234, "최영호", "1970-01-01", "010-4444-3333"),
	)
	cases := []struct {
		q    string
		want []int64
	}{
		{"김민수", []int64{1}},
		{"김민", []int64{1, 2}},
		{"민수", []int64{1, 3}},
		{"ㄱㅁㅅ", []int64{1}},
		{"ㄱㅁ", []int64{1, 2}},
		{"김ㅁ", []int64{1, 2}},
		{"ㅁㅅ", []int64{1, 3}},
		{"5678", []int64{1, 2}},
		{"010-1234-5678", []int64{1}},
		{"01012345678", []int64{1}},
		{"850302", []int64{1, 3}},
		{"1234", []int64{1234, 4, 1}}, // chart number, then phone tail, then anywhere in the phone
		{"#1234", []int64{1234}},      // as chart numbers are shown: that chart only
		{"#3", []int64{3}},
		{"#99", nil},
		{"없는사람", nil},
	}
	for _, c := range cases {
		got, _, err := ix.Search(c.q, false, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var charts []int64
		for _, e := range got {
			charts = append(charts, e.chart)
		}
		if fmt.Sprint(charts) != fmt.Sprint(c.want) {
			t.Errorf("Search(%q) = %v, want %v", c.q, charts, c.want)
		}
	}
}

// TestSearchPagesStayStable adds patients between pages: nothing is skipped
// and nothing repeats.
func TestSearchPagesStayStable(t *testing.T) {
	ix := NewIndex()
	for i := int64(1); i <= 25; i++ {
		ix.Put(rec(i, "김민수", "1985-03-02", fmt.Sprintf("010-1000-%04d", i)))
	}
	seen := map[int64]bool{}
	page, next, _ := ix.Search("김민", false, "", 10)
	for _, e := range page {
		seen[e.chart] = true
	}
	ix.Put(rec(26, "김민수", "1985-03-02", "010-1000-0026"))
	ix.Put(rec(27, "김민아", "1985-03-02", "010-1000-0027"))
	for next != "" {
		page, next, _ = ix.Search("김민", false, next, 10)
		for _, e := range page {
			if seen[e.chart] {
				t.Fatalf("chart %d on two pages", e.chart)
			}
			seen[e.chart] = true
		}
	}
	for i := int64(1); i <= 25; i++ {
		if !seen[i] {
			t.Fatalf("chart %d skipped", i)
		}
	}
}

func TestInactiveHiddenByDefault(t *testing.T) {
	r := rec(1, "김민수", "1985-03-02", "")
	r.Active = false
	ix := indexOf(r)
	if got, _, _ := ix.Search("김민수", false, "", 10); len(got) != 0 {
		t.Fatal("inactive patient found")
	}
	if got, _, _ := ix.Search("김민수", true, "", 10); len(got) != 1 {
		t.Fatal("inactive patient not found with include_inactive")
	}
}

func TestSealer(t *testing.T) {
	s, err := ParseSealer(NewSealerSpec("k2") + "," + NewSealerSpec("k1"))
	if err != nil {
		t.Fatal(err)
	}
	kid, sealed, err := s.Seal("p1", "900101-1234567")
	if err != nil || kid != "k2" {
		t.Fatal(kid, err)
	}
	if got, err := s.Open("p1", kid, sealed); err != nil || got != "900101-1234567" {
		t.Fatal(got, err)
	}
	if _, err := s.Open("p2", kid, sealed); err == nil {
		t.Fatal("a sealed number opened for another patient")
	}
	if MaskRRN("9001011234567") != "900101-1******" {
		t.Fatal(MaskRRN("9001011234567"))
	}
}
