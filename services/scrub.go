package services

import "regexp"

// The shapes of personal data that free text (an error's message, a
// driver's complaint about a duplicate key) might quote, with what each
// becomes: a resident registration number (with or without its hyphen), a
// Korean telephone number (mobile or landline, with or without
// separators), an e-mail address, and any Korean text (Molar's own
// messages are English: Korean in one came from a person).
var personalShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d{6}\s*-?\s*\d{7}\b`), "[rrn]"},
	{regexp.MustCompile(`\b0\d{1,2}[-. )]?\d{3,4}[-. ]?\d{4}\b|\+82[-. ]?\d{1,2}[-. ]?\d{3,4}[-. ]?\d{4}\b`), "[phone]"},
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+`), "[email]"},
	{regexp.MustCompile(`[\p{Hangul}]+(\s+[\p{Hangul}]+)*`), "[text]"},
}

// ScrubText returns text with everything shaped like personal data
// replaced: for free text that leaves the process (logs, error reports).
func ScrubText(text string) string {
	for _, sh := range personalShapes {
		text = sh.re.ReplaceAllString(text, sh.with)
	}
	return text
}
