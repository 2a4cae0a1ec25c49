package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"modernc.org/sqlite"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/audit"
	"github.com/molar-dental/molar/services/auth"
)

// calls counts what an Observer was told, by operation.
type calls struct {
	mu     sync.Mutex
	n, err map[string]int
}

func (c *calls) observe(_ context.Context, op string, took time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if took < 0 {
		panic("negative duration")
	}
	c.n[op]++
	if err != nil {
		c.err[op]++
	}
}

func (c *calls) take() (n, errs map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, errs = c.n, c.err
	c.n, c.err = map[string]int{}, map[string]int{}
	return n, errs
}

// TestObserverSeesEveryCall opens a database with an observer and checks
// what it is told of a store's writes and reads (a transaction's begin,
// statements and commit; a failed insert and its rollback; a prepared
// statement; the rows of a query), and that the driver's online backup is
// still reachable through sql.Conn.Raw on the observed connections.
func TestObserverSeesEveryCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seen := &calls{n: map[string]int{}, err: map[string]int{}}
	path := filepath.Join(t.TempDir(), "molar.db")
	db, err := Open(ctx, path, WithObserver(seen.observe))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if n, _ := seen.take(); n["schema"] == 0 || n["pragma"] == 0 {
		t.Fatalf("opening a new database: %v, want its schema and pragma statements", n)
	}

	staff := NewStaffStore(db)
	acct := auth.Account{ID: "s1", Email: "kim@example.com", DisplayName: "Kim", Roles: []molarv1.Role{molarv1.Role_ROLE_DENTIST},
		PasswordHash: "x", Created: time.Now(), Updated: time.Now()}
	if err := staff.Create(ctx, acct, audit.Event{ID: "e1", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	n, errs := seen.take()
	if n["begin"] != 1 || n["commit"] != 1 || n["insert"] == 0 || len(errs) != 0 {
		t.Fatalf("a create: %v (errors %v), want one begin, inserts, one commit and no error", n, errs)
	}

	acct.ID = "s2"
	if err := staff.Create(ctx, acct, audit.Event{ID: "e2", Time: time.Now()}); services.ErrorCode(err) != services.AlreadyExists {
		t.Fatalf("a taken email: %v", err)
	}
	n, errs = seen.take()
	if n["rollback"] != 1 || n["commit"] != 0 || errs["insert"] != 1 {
		t.Fatalf("a refused create: %v (errors %v), want one failed insert and a rollback", n, errs)
	}

	if _, err := staff.GetByEmail(ctx, "kim@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := staff.List(ctx); err != nil {
		t.Fatal(err)
	}
	if n, errs = seen.take(); n["select"] != 2 || len(errs) != 0 {
		t.Fatalf("two reads: %v (errors %v), want two selects", n, errs)
	}

	err = db.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `SELECT id FROM staff WHERE id = ?`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, id := range []string{"s1", "s2", "s3"} {
			var got string
			if err := st.QueryRowContext(ctx, id).Scan(&got); err != nil && err != sql.ErrNoRows {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ = seen.take(); n["select"] != 3 {
		t.Fatalf("a statement prepared once, run three times: %v", n)
	}

	// The backup API of the driver, through the observed connection.
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	err = conn.Raw(func(dc any) error {
		b, err := dc.(interface {
			NewBackup(string) (*sqlite.Backup, error)
		}).NewBackup(copyPath)
		if err != nil {
			return err
		}
		for more := true; more; {
			if more, err = b.Step(-1); err != nil {
				return err
			}
		}
		return b.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := Open(ctx, copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if got, err := NewStaffStore(cp).GetByEmail(ctx, "kim@example.com"); err != nil || got.ID != "s1" {
		t.Fatalf("the backup's account: %+v, %v", got, err)
	}
}

// TestOperation names statements by their first word.
func TestOperation(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELECT 1":                             "select",
		"\n\t  select id FROM staff":           "select",
		"WITH x AS (SELECT 1) SELECT * FROM x": "select",
		"INSERT INTO t VALUES (1)":             "insert",
		"insert or ignore into t values (1)":   "insert",
		"REPLACE INTO t VALUES (1)":            "insert",
		"UPDATE t SET a = 1":                   "update",
		"DELETE FROM t":                        "delete",
		"PRAGMA data_version":                  "pragma",
		"CREATE TABLE t (a)":                   "schema",
		"ALTER TABLE t ADD COLUMN b":           "schema",
		"VACUUM INTO '/tmp/x'":                 "other",
		"":                                     "other",
		"SELECT;":                              "select",
	} {
		if got := operation(q); got != want {
			t.Errorf("operation(%q) = %q, want %q", q, got, want)
		}
	}
}
