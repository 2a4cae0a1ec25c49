package patient

import (
	"strings"
	"unicode"
)

// initialConsonants are the 19 leading consonants of Hangul syllables, in
// Unicode order, as compatibility jamo (what a keyboard types).
var initialConsonants = []rune("ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")

// initialOf returns the initial consonant of a Hangul syllable, or the rune
// itself for anything else.
func initialOf(r rune) rune {
	if r >= 0xAC00 && r <= 0xD7A3 {
		return initialConsonants[(r-0xAC00)/588]
	}
	return r
}

// isJamoConsonant reports whether r is a compatibility consonant (ㄱ..ㅎ).
func isJamoConsonant(r rune) bool { return r >= 0x3131 && r <= 0x314E }

// Initials is the initial-consonant spelling of a name: 김민수 → ㄱㅁㅅ.
func Initials(name string) string {
	var b strings.Builder
	for _, r := range name {
		if !unicode.IsSpace(r) {
			b.WriteRune(initialOf(r))
		}
	}
	return b.String()
}

// normalizeName lower-cases and drops spaces, for matching.
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if !unicode.IsSpace(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// matchName finds query in name where each query rune matches a name rune
// that is the same, or whose initial consonant it is (so "김ㅁ" and "ㄱㅁㅅ"
// both find 김민수). It returns the match position, or -1.
func matchName(name, query []rune) int {
	if len(query) == 0 || len(query) > len(name) {
		return -1
	}
outer:
	for i := 0; i+len(query) <= len(name); i++ {
		for j, q := range query {
			n := name[i+j]
			if q != n && !(isJamoConsonant(q) && initialOf(n) == q) {
				continue outer
			}
		}
		return i
	}
	return -1
}
