// Package winesmoke holds the smoke test of the Windows build of molar,
// run under Wine by `go tool task test:wine`; it has no code of its own.
package winesmoke
