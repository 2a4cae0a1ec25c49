package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	molarv1 "github.com/molar-dental/molar/gen/molar/v1"
	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
)

// userCmd runs `molar user create`.
func userCmd(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: molar user create --email EMAIL --name NAME --role ROLE[,ROLE]")
		return errUsage
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "login email")
	name := fs.String("name", "", "display name")
	roleList := fs.String("role", "", "roles: admin, dentist, hygienist, front_desk (comma-separated)")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	var roles []molarv1.Role
	for _, r := range strings.Split(*roleList, ",") {
		role, ok := auth.ParseRole(r)
		if !ok {
			fmt.Fprintf(stderr, "molar user create: unknown role %q (admin, dentist, hygienist, front_desk)\n", r)
			return errUsage
		}
		roles = append(roles, role)
	}
	if *email == "" || *name == "" {
		fmt.Fprintln(stderr, "molar user create: --email and --name are required")
		return errUsage
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return err
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
	acct, err := a.auth.CreateAccount(ctx, *email, *name, roles, password, false)
	var de *services.Error
	if errors.As(err, &de) && len(de.Violations) > 0 {
		return errors.New(de.Violations[0].Message)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created %s (%s), id %s\n", acct.Email, *roleList, acct.ID)
	return nil
}

// readPassword asks twice without echo on a terminal, or reads one line from
// a pipe.
func readPassword(stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
