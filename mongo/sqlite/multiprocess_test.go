package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/mongo/sqlite"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/billing"
)

// TestWriterChild commits changes to one account as fast as it can, as a
// second server process on the same data directory would; it runs only as
// a child of TestProcessesShareOneDatabase.
func TestWriterChild(t *testing.T) {
	path := os.Getenv("MOLAR_SQLITE_CHILD_DB")
	if path == "" {
		t.Skip("runs only as a child process")
	}
	name := os.Getenv("MOLAR_SQLITE_CHILD_NAME")
	n, _ := strconv.Atoi(os.Getenv("MOLAR_SQLITE_CHILD_N"))
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := sqlite.NewBillingStore(db)
	for i := 0; i < n; {
		a, err := store.Account(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		inv := &molarv1.Invoice{Id: fmt.Sprintf("%s-%d", name, i), PatientId: "shared", Version: 1}
		switch err := store.Commit(ctx, billing.Change{PatientID: "shared", Seq: a.Seq + 1, Invoices: []*molarv1.Invoice{inv}, Time: time.Now()}); services.ErrorCode(err) {
		case 0:
			i++
		case services.AlreadyExists: // the other process was first: read again
		default:
			t.Fatal(err)
		}
	}
}

// TestProcessesShareOneDatabase runs two processes that race to commit to
// one account on one database file. Every commit of both is there, each
// under its own number, with no gap and no loss.
func TestProcessesShareOneDatabase(t *testing.T) {
	t.Parallel()
	const each = 150
	path := filepath.Join(t.TempDir(), "molar.db")
	db := openAt(t, path)
	var cmds []*exec.Cmd
	for _, name := range []string{"a", "b"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MOLAR_SQLITE_CHILD_DB="+path, "MOLAR_SQLITE_CHILD_NAME="+name, "MOLAR_SQLITE_CHILD_N="+strconv.Itoa(each))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %s:\n%s", name, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	a, err := sqlite.NewBillingStore(db).Account(context.Background(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 2*each || len(a.Invoices) != 2*each {
		t.Fatalf("after two writers of %d: change %d, %d invoices", each, a.Seq, len(a.Invoices))
	}
}

func openAt(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
