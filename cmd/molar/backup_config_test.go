package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testRecipient and testRecipient2 are age public keys (their secret keys
// are nowhere).
const (
	testRecipient  = "age1jj3jea3kd04jpw2z59u8uce33ht5q59fh2cyh52pq8dkjaseqa2smkfmxl"
	testRecipient2 = "age19u2vt8ftzwmk9yg7y4xre46ekkzh89eu25gx3st46qwdym3y5ylszar75d"
)

func TestLoadConfigBackup(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vars map[string]string
		want BackupConfig
		err  string
	}{
		{name: "unset: no schedule", vars: nil, want: BackupConfig{}},
		{name: "a recipient alone is for molar backup", vars: map[string]string{"MOLAR_BACKUP_RECIPIENT": testRecipient},
			want: BackupConfig{Recipients: []string{testRecipient}}},
		{name: "defaults with a directory", vars: map[string]string{"MOLAR_BACKUP_DIR": "/backups", "MOLAR_BACKUP_RECIPIENT": testRecipient},
			want: BackupConfig{Dir: "/backups", Every: 24 * time.Hour, Keep: 14, Recipients: []string{testRecipient}}},
		{name: "every variable", vars: map[string]string{"MOLAR_BACKUP_DIR": "/backups", "MOLAR_BACKUP_EVERY": "6h", "MOLAR_BACKUP_KEEP": "30",
			"MOLAR_BACKUP_RECIPIENT": testRecipient + ", " + testRecipient2},
			want: BackupConfig{Dir: "/backups", Every: 6 * time.Hour, Keep: 30, Recipients: []string{testRecipient, testRecipient2}}},
		{name: "a directory without a recipient", vars: map[string]string{"MOLAR_BACKUP_DIR": "/backups"}, err: "MOLAR_BACKUP_RECIPIENT: required with MOLAR_BACKUP_DIR"},
		{name: "a secret key as recipient", vars: map[string]string{"MOLAR_BACKUP_RECIPIENT": "AGE-SECRET-KEY-1QQQQ"}, err: "MOLAR_BACKUP_RECIPIENT: this is a secret key"},
		{name: "not a key", vars: map[string]string{"MOLAR_BACKUP_RECIPIENT": "clinic-backup-key"}, err: "MOLAR_BACKUP_RECIPIENT: \"clinic-backup-key\" is not an age public key"},
		{name: "a damaged key", vars: map[string]string{"MOLAR_BACKUP_RECIPIENT": testRecipient[:len(testRecipient)-1] + "q"}, err: "MOLAR_BACKUP_RECIPIENT"},
		{name: "every not a duration", vars: map[string]string{"MOLAR_BACKUP_EVERY": "daily"}, err: "MOLAR_BACKUP_EVERY"},
		{name: "every too often", vars: map[string]string{"MOLAR_BACKUP_EVERY": "1m"}, err: "MOLAR_BACKUP_EVERY"},
		{name: "every too rare", vars: map[string]string{"MOLAR_BACKUP_EVERY": "745h"}, err: "MOLAR_BACKUP_EVERY"},
		{name: "every in fractions of a second", vars: map[string]string{"MOLAR_BACKUP_EVERY": "300.5s"}, err: "MOLAR_BACKUP_EVERY"},
		{name: "keep zero", vars: map[string]string{"MOLAR_BACKUP_KEEP": "0"}, err: "MOLAR_BACKUP_KEEP"},
		{name: "keep not a number", vars: map[string]string{"MOLAR_BACKUP_KEEP": "two weeks"}, err: "MOLAR_BACKUP_KEEP"},
		{name: "keep too many", vars: map[string]string{"MOLAR_BACKUP_KEEP": "10001"}, err: "MOLAR_BACKUP_KEEP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadConfig(env(tc.vars))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want one starting %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got.Backup); d != "" {
				t.Fatalf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestConfigListsBackupVariables checks that `molar config` (and so the
// README's table) names every backup variable.
func TestConfigListsBackupVariables(t *testing.T) {
	t.Parallel()
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"config"}, env(nil), strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, v := range []string{"MOLAR_BACKUP_DIR", "MOLAR_BACKUP_EVERY", "MOLAR_BACKUP_KEEP", "MOLAR_BACKUP_RECIPIENT"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("molar config does not list %s", v)
		}
	}
}

// TestKeygenBackup makes a backup key: the file is owner-only and holds an
// identity whose public key was printed; a second run never overwrites it.
func TestKeygenBackup(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "backup-key.txt")
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"keygen", "--backup", file}, env(nil), strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	recipient, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "MOLAR_BACKUP_RECIPIENT=")
	if !ok {
		t.Fatalf("printed %q", out.String())
	}
	if _, err := LoadConfig(env(map[string]string{"MOLAR_BACKUP_DIR": "/b", "MOLAR_BACKUP_RECIPIENT": recipient})); err != nil {
		t.Fatalf("the printed key is refused: %v", err)
	}
	ids, err := readIdentities(file)
	if err != nil || len(ids) != 1 {
		t.Fatalf("identity file: %v %v", ids, err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file mode %v %v", st.Mode(), err)
	}
	before, _ := os.ReadFile(file)
	if code := run(context.Background(), []string{"keygen", "--backup", file}, env(nil), strings.NewReader(""), &out, &errs); code == 0 {
		t.Fatal("a second keygen wrote over the key")
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Fatal("the key file changed")
	}
}
