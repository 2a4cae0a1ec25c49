package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersionCommand prints the build of the test binary, from what the
// toolchain recorded, even with a configuration that would stop the server;
// the usage text names the same build.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	env := map[string]string{"MOLAR_ADDR": "nowhere"}
	code := run(context.Background(), []string{"version"}, func(k string) string { return env[k] }, nil, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"molar ", "\ncommit   ", "\nbuilt    ", "\ngo       " + runtime.Version() + "\n",
		"\nplatform " + runtime.GOOS + "/" + runtime.GOARCH + "\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, func(string) string { return "" }, nil, &out, &errs); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	if want := currentBuild().Short(); !strings.Contains(out.String(), want) {
		t.Errorf("usage lacks %q:\n%s", want, out.String())
	}
}

// TestVersionStampedByRelease builds molar with the -ldflags that
// `task release` passes (CGO off and -trimpath, as check:platforms builds
// it, to share its build cache) and runs `molar version`: a renamed variable would
// otherwise make the release stamp nothing, silently.
func TestVersionStampedByRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	// go test puts its own toolchain first on PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "molar")
	build := exec.Command(gobin, "build", "-trimpath", "-o", bin,
		"-ldflags", "-X main.version=v9.8.7 -X main.commit=0123456789abcdef0123456789abcdef01234567 -X main.buildDate=2031-02-03T04:05:06Z",
		".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("molar version: %v\n%s", err, out)
	}
	for _, want := range []string{"molar v9.8.7\n", "commit   0123456789abcdef0123456789abcdef01234567", "built    2031-02-03T04:05:06Z\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}
