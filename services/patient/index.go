package patient

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
)

// Index is the in-memory search index of every patient. The embedded engine
// scans a whole collection for any query (tens of milliseconds for _id, half
// a second for other fields at 15,000 patients), so search-as-you-type is
// served from memory and the index is kept current from local writes and
// the change log.
type Index struct {
	mu   sync.RWMutex
	byID map[string]*entry
}

type entry struct {
	id          string
	chart       int64
	name        []rune
	displayName string
	birth       string // YYYY-MM-DD
	birth6      string // YYMMDD
	phone       string // digits only
	sex         molarv1.Sex
	alerts      []string
	active      bool
	version     int64
}

// NewIndex returns an empty Index.
func NewIndex() *Index { return &Index{byID: map[string]*entry{}} }

// Put adds or replaces a patient, unless the index already has a newer version.
func (ix *Index) Put(r Record) {
	d := r.Details
	e := &entry{
		id: r.ID, chart: r.ChartNumber, name: []rune(normalizeName(d.GetName())), displayName: d.GetName(),
		birth: d.GetBirthDate(), phone: digits(d.GetMobilePhone()), sex: d.GetSex(), active: r.Active, version: r.Version,
	}
	if len(e.birth) == 10 {
		e.birth6 = e.birth[2:4] + e.birth[5:7] + e.birth[8:10]
	}
	a := d.GetAlerts()
	e.alerts = append(append(append(e.alerts, a.GetAllergies()...), a.GetConditions()...), a.GetMedications()...)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.byID[r.ID]; ok && old.version > r.Version {
		return
	}
	ix.byID[r.ID] = e
}

// Len is the number of patients indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// hit is a match with its rank: lower is better.
type hit struct {
	e    *entry
	rank int
	key  int64
}

// Ranks, best first.
const (
	rankChart = iota
	rankPhoneExact
	rankPhoneTail
	rankBirth
	rankNameExact
	rankNamePrefix
	rankNameInside
	rankPhoneInside
)

// Search returns up to limit matches of q, best first, after the cursor, and
// the cursor of the last one if more may follow. Within a rank, matches are
// in chart-number order, so patients added meanwhile never shift earlier
// pages. An empty query lists the newest registrations first.
func (ix *Index) Search(q string, includeInactive bool, after string, limit int) ([]*entry, string, error) {
	afterRank, afterKey, err := parseCursor(after)
	if err != nil {
		return nil, "", err
	}
	q = strings.TrimSpace(q)
	// "#299" is how chart numbers are shown: it asks for that chart only.
	chartOnly := false
	if rest, ok := strings.CutPrefix(q, "#"); ok && rest != "" && digits(rest) == rest {
		q, chartOnly = rest, true
	}
	qDigits := digits(q)
	allDigits := q != "" && len(qDigits) == len(strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, q))
	qName := []rune(normalizeName(q))

	ix.mu.RLock()
	var hits []hit
	for _, e := range ix.byID {
		if !e.active && !includeInactive {
			continue
		}
		rank := -1
		switch {
		case q == "":
			rank = 0
		case chartOnly:
			if strconv.FormatInt(e.chart, 10) == q {
				rank = rankChart
			}
		case allDigits:
			rank = digitRank(e, qDigits)
		default:
			switch pos := matchName(e.name, qName); {
			case pos < 0:
			case pos == 0 && len(qName) == len(e.name):
				rank = rankNameExact
			case pos == 0:
				rank = rankNamePrefix
			default:
				rank = rankNameInside
			}
		}
		if rank < 0 {
			continue
		}
		key := e.chart
		if q == "" {
			key = -e.chart
		}
		if after != "" && (rank < afterRank || (rank == afterRank && key <= afterKey)) {
			continue
		}
		hits = append(hits, hit{e: e, rank: rank, key: key})
	}
	ix.mu.RUnlock()

	slices.SortFunc(hits, func(a, b hit) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = fmt.Sprintf("%d:%d", last.rank, last.key)
	}
	out := make([]*entry, len(hits))
	for i, h := range hits {
		out[i] = h.e
	}
	return out, next, nil
}

func digitRank(e *entry, q string) int {
	switch {
	case strconv.FormatInt(e.chart, 10) == q:
		return rankChart
	case len(q) >= 10 && e.phone == q:
		return rankPhoneExact
	case len(q) == 4 && strings.HasSuffix(e.phone, q):
		return rankPhoneTail
	case len(q) == 6 && e.birth6 == q:
		return rankBirth
	case len(q) >= 3 && strings.Contains(e.phone, q):
		return rankPhoneInside
	}
	return -1
}

func parseCursor(s string) (int, int64, error) {
	if s == "" {
		return 0, 0, nil
	}
	r, k, ok := strings.Cut(s, ":")
	rank, err1 := strconv.Atoi(r)
	key, err2 := strconv.ParseInt(k, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("bad cursor")
	}
	return rank, key, nil
}

// duplicates returns patients with the same name and birth date, or the same
// mobile phone.
func (ix *Index) duplicates(name, birth, phone string) []*entry {
	n := []rune(normalizeName(name))
	p := digits(phone)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []*entry
	for _, e := range ix.byID {
		sameNameBirth := len(n) > 0 && birth != "" && e.birth == birth && slices.Equal(e.name, n)
		samePhone := len(p) >= 10 && e.phone == p
		if sameNameBirth || samePhone {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *entry) int { return int(a.chart - b.chart) })
	return out
}
