package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// What `task release` stamps into the binary with -ldflags -X. A binary
// built otherwise (go build, go run, go install) leaves them empty and
// reads what the Go toolchain recorded instead: the module version and the
// commit it was built from.
var (
	version   string
	commit    string
	buildDate string
)

// buildInfo says which build of molar this is.
type buildInfo struct {
	Version string
	Commit  string
	// Date is when the binary was built, or for a build without it, the
	// time of its commit.
	Date string
	// Modified says the binary was built from a tree with uncommitted
	// changes.
	Modified  bool
	GoVersion string
	Platform  string
}

// currentBuild returns this binary's build information: what the release
// stamped, else what the toolchain recorded, else "unknown".
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Date: buildDate,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; b.Version == "" && v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = cmp.Or(b.Commit, s.Value)
			case "vcs.time":
				b.Date = cmp.Or(b.Date, s.Value)
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	b.Version = cmp.Or(b.Version, "dev")
	b.Commit = cmp.Or(b.Commit, "unknown")
	b.Date = cmp.Or(b.Date, "unknown")
	return b
}

// Short is the version and commit in one line, for the usage text and logs.
func (b buildInfo) Short() string {
	c := b.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if b.Modified {
		c += "+changes"
	}
	return fmt.Sprintf("molar %s (%s, %s)", b.Version, c, b.Platform)
}

// write prints every field, one per line.
func (b buildInfo) write(w io.Writer) {
	modified := ""
	if b.Modified {
		modified = " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "molar %s\ncommit   %s%s\nbuilt    %s\ngo       %s\nplatform %s\n",
		b.Version, b.Commit, modified, b.Date, b.GoVersion, b.Platform)
}
