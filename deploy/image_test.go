package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"
)

// offlineImages answers BuildKit's questions about base images without a
// registry: every image is a Linux one with one layer, as the real ones
// are. The checks that need the real image (its platform) cannot run here.
type offlineImages struct{}

func (offlineImages) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := ocispecs.Platform{OS: "linux", Architecture: "amd64"}
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	cfg, err := json.Marshal(ocispecs.Image{
		Platform: p,
		Config:   ocispecs.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		RootFS:   ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString(ref)}},
	})
	return ref, "", cfg, err
}

// lint runs BuildKit's Dockerfile checks, those of `docker build --check`,
// on file and returns what they found: an error that stops the build, and
// "rule: detail" for each warning.
func lint(t *testing.T, file string) (stop string, warnings []string) {
	t.Helper()
	dt, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sm := llb.NewSourceMap(nil, file, "Dockerfile", dt)
	sm.Definition = &llb.Definition{}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, dockerfile2llb.ConvertOpt{
		SourceMap: sm, MetaResolver: offlineImages{},
	})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if res.Error != nil {
		stop = res.Error.Message
	}
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		warnings = append(warnings, fmt.Sprintf("%s: %s (line %d)", w.RuleName, w.Detail, line))
	}
	return stop, warnings
}

// TestDockerfilesPassBuildKitChecks lints the image of molar and that of
// nginx for the compose file.
func TestDockerfilesPassBuildKitChecks(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"../Dockerfile", "nginx/Dockerfile"} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			stop, warnings := lint(t, f)
			if stop != "" || len(warnings) > 0 {
				t.Errorf("%s: %s %q", f, stop, warnings)
			}
		})
	}
}

// TestLintFindsFaults: the checks do report what they are for, here an
// undefined variable, a FROM and AS in different cases and a CMD in
// shell form.
func TestLintFindsFaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := path.Join(dir, "Dockerfile")
	if err := os.WriteFile(bad, []byte("FROM debian:bookworm-slim as base\nENV MOLAR_DATA_DIR=$MOLAR_HOME/data\nCMD molar serve\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings := lint(t, bad)
	var rules []string
	for _, w := range warnings {
		rule, _, _ := strings.Cut(w, ":")
		rules = append(rules, rule)
	}
	for _, want := range []string{"FromAsCasing", "UndefinedVar", "JSONArgsRecommended"} {
		if !slices.Contains(rules, want) {
			t.Errorf("the checks did not report %s: %v", want, rules)
		}
	}
}

// stage is one stage of a Dockerfile as the build sees it.
type stage struct {
	instructions.Stage
	// runs are the stage's RUN commands, each with the working directory
	// and environment it runs in.
	runs []run
}

type run struct {
	cmd, dir string
	env      map[string]string
}

// parseDockerfile reads file into its stages.
func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	dt, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []stage
	for _, s := range stages {
		st := stage{Stage: s}
		dir, env := "/", map[string]string{}
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.WorkdirCommand:
				dir = path.Join(dir, c.Path)
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					env[kv.Key] = kv.Value
				}
			case *instructions.RunCommand:
				st.runs = append(st.runs, run{cmd: strings.Join(c.CmdLine, " "), dir: dir, env: maps.Clone(env)})
			}
		}
		out = append(out, st)
	}
	return out
}

// taskfile is the part of Taskfile.yml the image build repeats.
type taskfile struct {
	Tasks map[string]struct {
		Dir  string            `yaml:"dir"`
		Env  map[string]string `yaml:"env"`
		Cmds []any             `yaml:"cmds"`
		Deps []string          `yaml:"deps"`
	} `yaml:"tasks"`
}

// TestImageBuildsAsTheTaskfileDoes: the image's build stages run exactly
// the commands of `go tool task build` and of the tasks it depends on
// (ui:deps, ui:build), in the same order, directories and environment, so
// that CI, which runs those tasks on every change, builds what the image
// builds. The Go image is the version go.mod names; the final image is
// distroless, runs as a user without privileges, and checks its health
// with `molar healthcheck`.
func TestImageBuildsAsTheTaskfileDoes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../Taskfile.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tf taskfile
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	stages := parseDockerfile(t, "../Dockerfile")
	var built []run
	for _, s := range stages {
		built = append(built, s.runs...)
	}
	// The tasks build runs, dependencies first.
	var want []run
	var walk func(name string)
	walk = func(name string) {
		task, ok := tf.Tasks[name]
		if !ok {
			t.Fatalf("Taskfile.yml has no task %s", name)
		}
		for _, d := range task.Deps {
			walk(d)
		}
		for _, c := range task.Cmds {
			cmd, ok := c.(string)
			if !ok {
				t.Fatalf("task %s runs %v, which the Dockerfile cannot repeat", name, c)
			}
			// The Taskfile's output directory is the image build's $BIN.
			want = append(want, run{cmd: strings.ReplaceAll(cmd, "{{.BIN}}", "${BIN}"), dir: path.Join("/src", task.Dir), env: task.Env})
		}
	}
	walk("build")
	if len(built) != len(want) {
		t.Fatalf("the Dockerfile runs %d commands, `task build` %d:\n%v\n%v", len(built), len(want), built, want)
	}
	for i := range want {
		got := built[i]
		if got.cmd != want[i].cmd || got.dir != want[i].dir {
			t.Errorf("command %d: the Dockerfile runs %q in %s, the Taskfile %q in %s", i, got.cmd, got.dir, want[i].cmd, want[i].dir)
		}
		for k, v := range want[i].env {
			if got.env[k] != v {
				t.Errorf("command %d (%s): %s=%q in the Dockerfile, %q in the Taskfile", i, got.cmd, k, got.env[k], v)
			}
		}
		if strings.Contains(got.cmd, "${BIN}") && got.env["BIN"] == "" {
			t.Errorf("command %d (%s): BIN is not set", i, got.cmd)
		}
	}
	if built[len(built)-1].env["CGO_ENABLED"] != "0" {
		t.Error("molar is not built with CGO_ENABLED=0")
	}

	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if goVersion == nil {
		t.Fatal("go.mod names no go version")
	}
	var goImage string
	for _, s := range stages {
		if strings.HasPrefix(s.BaseName, "golang:") {
			goImage = s.BaseName
		}
	}
	if want := fmt.Sprintf("golang:%s-", goVersion[1]); !strings.HasPrefix(goImage, want) {
		t.Errorf("Go image %q, want %s... as go.mod says", goImage, want)
	}

	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") {
		t.Errorf("final image from %q, want distroless static", final.BaseName)
	}
	var user string
	var health []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = c.Health.Test
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("the image runs as %q, want a user without privileges", user)
	}
	if !slices.Equal(health, []string{"CMD", "/usr/local/bin/molar", "healthcheck"}) {
		t.Errorf("HEALTHCHECK %q, want molar healthcheck", health)
	}
}

// TestDockerignoreKeepsLocalBuildsOut: the build context leaves out what a
// developer's machine has built or installed, so the image's web app is
// the one it builds itself.
func TestDockerignoreKeepsLocalBuildsOut(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	for _, want := range []string{".git", ".bin", "**/node_modules", "ui/dist/app", "data"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
