package winesmoke

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/gen/molar/v1/molarv1connect"
)

// The demo clinic's front desk account (README, "Demo accounts").
const (
	demoEmail    = "frontdesk@molar.test"
	demoPassword = "seoul-desk-2026"
)

// wine runs Windows programs in a Wine prefix of their own.
type wine struct {
	prefix string
	dir    string
	env    []string
}

func newWine(t *testing.T) *wine {
	t.Helper()
	tmp := t.TempDir()
	w := &wine{prefix: filepath.Join(tmp, "prefix"), dir: filepath.Join(tmp, "work")}
	if err := os.Mkdir(w.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MOLAR_") && !strings.HasPrefix(kv, "MONGODB_URI=") && !strings.HasPrefix(kv, "WINE") {
			w.env = append(w.env, kv)
		}
	}
	w.env = append(w.env, "WINEPREFIX="+w.prefix, "WINEDEBUG=-all")
	// Registered after TempDir, so it runs before the prefix is removed:
	// whatever still runs in the prefix ends, and its server with it.
	t.Cleanup(func() {
		kill := exec.Command("wineserver", "-k")
		kill.Env = w.env
		_ = kill.Run()
		wait := exec.Command("wineserver", "-w")
		wait.Env = w.env
		_ = wait.Run()
	})
	return w
}

// command is name run with args in the work directory, with env added.
func (w *wine) command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = w.dir
	cmd.Env = append(append([]string{}, w.env...), env...)
	return cmd
}

// run runs a command to its end and returns its output.
func (w *wine) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	out, err := w.command(env, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestWineServesAndSignsIn runs the Windows build under Wine on an empty
// data directory: `molar version` names the platform, `molar seed --demo`
// loads the demo clinic, `molar serve` turns ready on /readyz, and the
// front desk signs in and finds patients. MOLAR_WINE_EXE names the
// binary; without it the test is skipped (the test task sets it).
func TestWineServesAndSignsIn(t *testing.T) {
	exe := os.Getenv("MOLAR_WINE_EXE")
	if exe == "" {
		t.Skip("MOLAR_WINE_EXE is not set: run `go tool task test:wine`")
	}
	exe, err := filepath.Abs(exe)
	if err != nil {
		t.Fatal(err)
	}
	w := newWine(t)
	start := time.Now()
	w.run(t, nil, "wineboot", "--init")
	t.Logf("Wine prefix made in %v", time.Since(start).Round(time.Millisecond))
	dll := filepath.Join(w.dir, "bcryptprimitives.dll")
	exports := filepath.Join(w.dir, "exports.o")
	def, err := filepath.Abs(filepath.Join("testdata", "bcryptprimitives.def"))
	if err != nil {
		t.Fatal(err)
	}
	w.run(t, nil, "x86_64-w64-mingw32-dlltool", "-d", def, "-e", exports)
	w.run(t, nil, "x86_64-w64-mingw32-ld", "--dll", "-e", "0", "-o", dll, exports)
	shim, err := os.ReadFile(dll)
	if err != nil {
		t.Fatal(err)
	}
	system32 := filepath.Join(w.prefix, "drive_c", "windows", "system32")
	if err := os.WriteFile(filepath.Join(system32, "bcryptprimitives.dll"), shim, 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"MOLAR_DATA_DIR=data", "MOLAR_ADDR=" + addr, "MOLAR_ADMIN_ADDR=off"}

	if out := w.run(t, env, "wine", exe, "version"); !strings.Contains(out, "platform windows/amd64") {
		t.Fatalf("molar version under Wine:\n%s", out)
	}
	start = time.Now()
	if out := w.run(t, env, "wine", exe, "seed", "--demo"); !strings.Contains(out, "patients") {
		t.Fatalf("molar seed --demo under Wine:\n%s", out)
	}
	t.Logf("demo clinic loaded in %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	serve := w.command(env, "wine", exe, "serve")
	logFile, err := os.Create(filepath.Join(w.dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logs := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	serve.Stdout, serve.Stderr = logFile, logFile
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(2 * time.Minute)
	for ready := false; !ready; {
		select {
		case err := <-exited:
			t.Fatalf("molar serve under Wine ended: %v\n%s", err, logs())
		default:
		}
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			ready = res.StatusCode == http.StatusOK
		}
		if !ready && time.Now().After(deadline) {
			t.Fatalf("molar serve under Wine not ready after 2 minutes:\n%s", logs())
		}
		if !ready {
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("ready on /readyz %v after start", time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	base := "http://" + addr
	auth := molarv1connect.NewAuthServiceClient(http.DefaultClient, base)
	_, err = auth.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: demoEmail, Password: "not-the-password"}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("sign-in with a wrong password: %v, want unauthenticated", err)
	}
	res, err := auth.Login(ctx, connect.NewRequest(&molarv1.LoginRequest{Email: demoEmail, Password: demoPassword}))
	if err != nil {
		t.Fatalf("sign-in: %v\n%s", err, logs())
	}
	token := res.Msg.GetAccessToken()
	if token == "" {
		t.Fatal("sign-in answered no access token")
	}
	bearer := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
	me, err := molarv1connect.NewAuthServiceClient(http.DefaultClient, base, bearer).GetMe(ctx, connect.NewRequest(&molarv1.GetMeRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := me.Msg.GetMe().GetStaff().GetEmail(); got != demoEmail {
		t.Fatalf("signed in as %q, want %q", got, demoEmail)
	}
	found, err := molarv1connect.NewPatientServiceClient(http.DefaultClient, base, bearer).
		SearchPatients(ctx, connect.NewRequest(&molarv1.SearchPatientsRequest{Query: "김"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Msg.GetPatients()) == 0 {
		t.Fatal("no demo patient found by family name 김")
	}
}
