package reports

import (
	"cmp"
	"slices"
	"strings"

	"github.com/molar-dental/molar/services"
)

// Scrubber removes personal data from the text of a report.
type Scrubber struct {
	exact *strings.Replacer
}

// NewScrubber returns a Scrubber that also removes each of values, the
// request's debug_redact values, wherever it appears.
func NewScrubber(values []string) *Scrubber {
	s := &Scrubber{}
	values = slices.DeleteFunc(slices.Clone(values), func(v string) bool { return len(strings.TrimSpace(v)) < 2 })
	if len(values) > 0 {
		// Longest first, so that a value is not cut by one inside it.
		slices.SortFunc(values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
		pairs := make([]string, 0, 2*len(values))
		for _, v := range values {
			pairs = append(pairs, v, "[redacted]")
		}
		s.exact = strings.NewReplacer(pairs...)
	}
	return s
}

// Scrub returns text without personal data.
func (s *Scrubber) Scrub(text string) string {
	if text == "" {
		return text
	}
	if s.exact != nil {
		text = s.exact.Replace(text)
	}
	return services.ScrubText(text)
}
