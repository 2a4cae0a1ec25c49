// Command molar is Molar's server and admin tool.
//
//	molar serve          run the server (API, health, web app) on MOLAR_ADDR
//	molar seed --demo    load demo data (dev and stage only; idempotent)
//	molar config         print the configuration variables
//	molar version        print which build this is
//
// Admin commands work whether or not a server runs on the same data
// directory: they share its embedded engine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // clinics' time zones must load on machines without tzdata

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/patient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks a command line that is wrong rather than a failure.
var errUsage = errors.New("usage")

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "version" {
		// Before the configuration: it says which build this is even
		// where the environment is wrong.
		currentBuild().write(stdout)
		return 0
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "molar: configuration:", err)
		return 1
	}
	logger := newLogger(stderr, cfg.LogLevel)
	switch args[0] {
	case "serve":
		err = serve(ctx, cfg, logger)
	case "seed":
		err = seedCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	case "user":
		err = userCmd(ctx, cfg, logger, args[1:], stdin, stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, cfg, stdout)
	case "backup":
		err = backupCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	case "restore":
		err = restoreCmd(ctx, cfg, logger, args[1:], stdout, stderr)
	case "keygen":
		if len(args) > 1 {
			err = backupKeygen(args[1:], stdout, stderr)
			break
		}
		kid := time.Now().UTC().Format("k20060102")
		fmt.Fprintln(stdout, "MOLAR_JWT_KEYS="+auth.NewKeySpec(kid))
		fmt.Fprintln(stdout, "MOLAR_RRN_KEYS="+patient.NewSealerSpec(kid))
		fmt.Fprintln(stdout, "MOLAR_MEDIA_KEY="+newMediaKey())
	case "config":
		for _, v := range configVars {
			fmt.Fprintf(stdout, "%-24s default %s\n    %s\n", v.Name, v.Default, v.Help)
		}
	case "help", "-h", "--help":
		usage(stdout)
	default:
		fmt.Fprintf(stderr, "molar: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	switch {
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "molar:", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: molar <command> [flags]

commands:
  serve          run the server on MOLAR_ADDR (default :8080)
  seed --demo    load demo data into an empty clinic (not in prod)
  user create --email EMAIL --name NAME --role ROLE[,ROLE]
                 create a staff account; the password is read from stdin
                 or asked for (never from the command line)
  keygen         print new keys for MOLAR_JWT_KEYS and MOLAR_RRN_KEYS
  keygen --backup FILE
                 write a new backup key (age identity) to FILE and print its
                 public key for MOLAR_BACKUP_RECIPIENT
  backup [--out FILE|-] [--recipient age1...]
                 write one encrypted backup of the clinic (database and image
                 files) while the server runs; default into MOLAR_BACKUP_DIR
  backup --verify FILE --identity KEYFILE
                 check a backup (every hash, the manifest) without restoring
  restore --identity KEYFILE FILE
                 restore a backup into an empty MOLAR_DATA_DIR (or an empty
                 MongoDB database) and check every hash
  healthcheck    exit 0 if the server on MOLAR_ADDR of this machine answers
                 /healthz, 1 if not (the container image's HEALTHCHECK)
  config         list the environment variables molar reads
  version        print the version, commit, build date, Go version and platform
`)
	fmt.Fprintln(w, "\n"+currentBuild().Short())
}

// newLogger writes JSON lines, masks sensitive protobuf fields, and names
// the trace of every line logged inside one.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(services.NewTraceHandler(services.NewMaskingHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))))
}

// serve runs the server until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	start := time.Now()
	s, err := NewServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	build := currentBuild()
	logger.Info("molar serving", "addr", s.Addr(), "profile", cfg.Profile, "version", build.Version, "commit", build.Commit,
		"embedded_engine", cfg.MongoURI == "", "startup_ms", time.Since(start).Milliseconds())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve() }()
	var serveErr error
	select {
	case serveErr = <-errc:
		// Serving stopped on its own: still stop the background loops and
		// close the database before reporting why.
		logger.Error("serving stopped", "error", serveErr.Error())
	case <-ctx.Done():
		logger.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return errors.Join(serveErr, s.Shutdown(shutdownCtx))
}

// seedCmd loads demo data.
func seedCmd(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demo := fs.Bool("demo", false, "load the demo clinic")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if !*demo {
		fmt.Fprintln(stderr, "molar seed: say what to load: --demo")
		return errUsage
	}
	if cfg.Profile == "prod" {
		return errors.New("demo data is refused in the prod profile")
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(context.Background())
	a, err := newApp(cfg, db, logger, time.Now)
	if err != nil {
		return err
	}
	report, err := seedDemo(ctx, db, a, time.Now)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, report)
	return nil
}
