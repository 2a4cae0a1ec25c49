package reports

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

// Scrubber removes personal data from the text of a report.
type Scrubber struct {
	exact *strings.Replacer
}

// The shapes of personal data an error's text might quote, with what each
// becomes: a resident registration number (with or without its hyphen),
// a Korean telephone number (mobile or landline, with or without
// separators), an e-mail address, and any Korean text (Molar's own
// messages are English: Korean in one came from a person).
var shapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d{6}\s*-?\s*\d{7}\b`), "[rrn]"},
	{regexp.MustCompile(`\b0\d{1,2}[-. )]?\d{3,4}[-. ]?\d{4}\b|\+82[-. ]?\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}\b`), "[phone]"},
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+`), "[email]"},
	{regexp.MustCompile(`[\p{Hangul}]+(\s+[\p{Hangul}]+)*`), "[text]"},
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
	for _, sh := range shapes {
		text = sh.re.ReplaceAllString(text, sh.with)
	}
	return text
}
