// Package mongotest hands each test its own throwaway database on one shared
// engine: the embedded engine started once per test binary, or the MongoDB at
// MOLAR_TEST_MONGODB_URI when that is set.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/molar-dental/molar/mongo"
)

var (
	once    sync.Once
	shared  *mongo.DB
	dataDir string
	openErr error
)

// Main runs the tests of a package that uses DB and stops the shared engine
// afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close(context.Background())
	}
	if dataDir != "" {
		_ = os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

// DB returns a fresh, empty database for t, dropped when t ends.
func DB(t testing.TB) *mongo.DB {
	t.Helper()
	base := sharedDB(t)
	name := "test_" + randomHex(6)
	db := *base
	db.Database = base.Client.Database(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Database.Drop(ctx); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return &db
}

// URI returns the address of the shared engine, for tests that start a whole
// server against it.
func URI(t testing.TB) string {
	t.Helper()
	sharedDB(t)
	if uri := os.Getenv("MOLAR_TEST_MONGODB_URI"); uri != "" {
		return uri
	}
	b, err := os.ReadFile(dataDir + "/engine.uri")
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

func sharedDB(t testing.TB) *mongo.DB {
	once.Do(func() {
		cfg := mongo.Config{URI: os.Getenv("MOLAR_TEST_MONGODB_URI"), Database: "molar_test"}
		if cfg.URI == "" {
			dataDir, openErr = os.MkdirTemp("", "molar-test-engine-")
			if openErr != nil {
				return
			}
			cfg.DataDir = dataDir
		}
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		shared, openErr = mongo.Open(ctx, cfg, logger)
	})
	if openErr != nil {
		t.Fatalf("open test engine: %v", openErr)
	}
	return shared
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprint("random: ", err))
	}
	return hex.EncodeToString(b)
}
