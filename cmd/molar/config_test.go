package main

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/molar-dental/molar/services"
)

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// withSecrets returns vars plus fresh values, from `molar keygen`, for every
// secret that profiles other than dev require.
func withSecrets(t *testing.T, vars map[string]string) map[string]string {
	t.Helper()
	out := keygen(t)
	maps.Copy(out, vars)
	return out
}

// keygen runs `molar keygen` and returns the variables it prints.
func keygen(t *testing.T) map[string]string {
	t.Helper()
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"keygen"}, env(nil), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("keygen exit %d: %s", code, stderr.String())
	}
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			// A bare key is the access-token signing key.
			name, value = "MOLAR_JWT_KEYS", line
		}
		vars[name] = value
	}
	if vars["MOLAR_JWT_KEYS"] == "" {
		t.Fatalf("keygen printed no MOLAR_JWT_KEYS: %q", stdout.String())
	}
	return vars
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	got, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Profile:         "dev",
		Addr:            ":8080",
		AdminAddr:       defaultAdminAddr,
		DataDir:         "./data",
		Database:        "molar",
		AllowedOrigins:  []string{"http://localhost:5173", "http://127.0.0.1:5173"},
		LogLevel:        slog.LevelInfo,
		MaxRequestBytes: 8 << 20,
		BodyTimeout:     30 * time.Second,
		ChangeRetention: 24 * time.Hour,
		MaxUploadBytes:  100 << 20,
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(services.Proxies{})); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigReadsEveryVariable(t *testing.T) {
	t.Parallel()
	got, err := LoadConfig(env(withSecrets(t, map[string]string{
		"MOLAR_PROFILE":           "prod",
		"MOLAR_ADDR":              "127.0.0.1:9090",
		"MOLAR_DATA_DIR":          "/var/lib/molar",
		"MONGODB_URI":             "mongodb+srv://db.example.com/",
		"MOLAR_DATABASE":          "clinic_a",
		"MOLAR_ALLOWED_ORIGINS":   " https://clinic.example.com/ , https://admin.example.com:8443",
		"MOLAR_LOG_LEVEL":         "warn",
		"MOLAR_MAX_REQUEST_BYTES": "1048576",
		"MOLAR_JWT_KEYS":          testKeySpec,
		"MOLAR_TRUST_PROXY":       "true",
	})))
	if err != nil {
		t.Fatal(err)
	}
	// The fields these variables set; secrets added later are checked by
	// TestLoadConfigRequiresSecretsOutsideDev.
	type read struct {
		Profile, Addr, DataDir, MongoURI, Database string
		AllowedOrigins                             []string
		LogLevel                                   slog.Level
		MaxRequestBytes                            int
		JWTKeys                                    string
		TrustProxy                                 bool
	}
	want := read{
		Profile:         "prod",
		Addr:            "127.0.0.1:9090",
		DataDir:         "/var/lib/molar",
		MongoURI:        "mongodb+srv://db.example.com/",
		Database:        "clinic_a",
		AllowedOrigins:  []string{"https://clinic.example.com", "https://admin.example.com:8443"},
		LogLevel:        slog.LevelWarn,
		MaxRequestBytes: 1 << 20,
		JWTKeys:         testKeySpec,
		TrustProxy:      true,
	}
	if diff := cmp.Diff(want, read{got.Profile, got.Addr, got.DataDir, got.MongoURI, got.Database,
		got.AllowedOrigins, got.LogLevel, got.MaxRequestBytes, got.JWTKeys, got.TrustProxy}); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		vars    map[string]string
		culprit string
	}{
		{"unknown profile", map[string]string{"MOLAR_PROFILE": "production"}, "MOLAR_PROFILE"},
		{"profile in capitals", map[string]string{"MOLAR_PROFILE": "DEV"}, "MOLAR_PROFILE"},
		{"address without port", map[string]string{"MOLAR_ADDR": "localhost"}, "MOLAR_ADDR"},
		{"bare port number", map[string]string{"MOLAR_ADDR": "8080"}, "MOLAR_ADDR"},
		{"port out of range", map[string]string{"MOLAR_ADDR": ":65536"}, "MOLAR_ADDR"},
		{"named port", map[string]string{"MOLAR_ADDR": ":http"}, "MOLAR_ADDR"},
		{"negative port", map[string]string{"MOLAR_ADDR": ":-1"}, "MOLAR_ADDR"},
		{"postgres URI", map[string]string{"MONGODB_URI": "postgres://db:5432/molar"}, "MONGODB_URI"},
		{"host without scheme", map[string]string{"MONGODB_URI": "db.example.com:27017"}, "MONGODB_URI"},
		{"unparsable URI", map[string]string{"MONGODB_URI": "mongodb://[::1"}, "MONGODB_URI"},
		{"database with a dot", map[string]string{"MOLAR_DATABASE": "molar.prod"}, "MOLAR_DATABASE"},
		{"database with a slash", map[string]string{"MOLAR_DATABASE": "a/b"}, "MOLAR_DATABASE"},
		{"database name too long", map[string]string{"MOLAR_DATABASE": strings.Repeat("m", 64)}, "MOLAR_DATABASE"},
		{"unknown log level", map[string]string{"MOLAR_LOG_LEVEL": "verbose"}, "MOLAR_LOG_LEVEL"},
		{"request size not a number", map[string]string{"MOLAR_MAX_REQUEST_BYTES": "8MB"}, "MOLAR_MAX_REQUEST_BYTES"},
		{"request size too small", map[string]string{"MOLAR_MAX_REQUEST_BYTES": "1023"}, "MOLAR_MAX_REQUEST_BYTES"},
		{"body timeout without unit", map[string]string{"MOLAR_BODY_TIMEOUT": "30"}, "MOLAR_BODY_TIMEOUT"},
		{"body timeout under a second", map[string]string{"MOLAR_BODY_TIMEOUT": "500ms"}, "MOLAR_BODY_TIMEOUT"},
		{"trusted proxy not an address", map[string]string{"MOLAR_TRUST_PROXY": "nginx"}, "MOLAR_TRUST_PROXY"},
		{"trusted proxy prefix too long", map[string]string{"MOLAR_TRUST_PROXY": "10.0.0.0/40"}, "MOLAR_TRUST_PROXY"},
		{"request size too large", map[string]string{"MOLAR_MAX_REQUEST_BYTES": "1073741825"}, "MOLAR_MAX_REQUEST_BYTES"},
		{"request size negative", map[string]string{"MOLAR_MAX_REQUEST_BYTES": "-1"}, "MOLAR_MAX_REQUEST_BYTES"},
		{"malformed signing key", map[string]string{"MOLAR_JWT_KEYS": "just-a-password"}, "MOLAR_JWT_KEYS"},
		{"placeholder signing key", map[string]string{"MOLAR_JWT_KEYS": "k1:" + strings.Repeat("A", 43)}, "MOLAR_JWT_KEYS"},
		{"trust proxy not a boolean", map[string]string{"MOLAR_TRUST_PROXY": "maybe"}, "MOLAR_TRUST_PROXY"},
		{"origin with a path", map[string]string{"MOLAR_ALLOWED_ORIGINS": "http://localhost:5173/app"}, "MOLAR_ALLOWED_ORIGINS"},
		{"origin without scheme", map[string]string{"MOLAR_ALLOWED_ORIGINS": "localhost:5173"}, "MOLAR_ALLOWED_ORIGINS"},
		{"origin with credentials", map[string]string{"MOLAR_ALLOWED_ORIGINS": "https://user:pw@clinic.example.com"}, "MOLAR_ALLOWED_ORIGINS"},
		{"origin with another scheme", map[string]string{"MOLAR_ALLOWED_ORIGINS": "ftp://clinic.example.com"}, "MOLAR_ALLOWED_ORIGINS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(env(tc.vars))
			if err == nil {
				t.Fatalf("LoadConfig(%v) succeeded, want an error naming %s", tc.vars, tc.culprit)
			}
			if !strings.HasPrefix(err.Error(), tc.culprit+":") {
				t.Errorf("error %q does not begin with %s", err, tc.culprit)
			}
		})
	}
}

// TestLoadConfigRequiresSecretsOutsideDev leaves out, one at a time, each
// secret that `molar keygen` makes: stage and prod refuse to start without
// it, dev makes its own.
func TestLoadConfigRequiresSecretsOutsideDev(t *testing.T) {
	t.Parallel()
	secrets := keygen(t)
	for name := range secrets {
		for _, profile := range []string{"stage", "prod"} {
			t.Run(name+" in "+profile, func(t *testing.T) {
				t.Parallel()
				vars := maps.Clone(secrets)
				delete(vars, name)
				vars["MOLAR_PROFILE"] = profile
				maps.Copy(vars, prodNeeds)
				_, err := LoadConfig(env(vars))
				if err == nil || !strings.HasPrefix(err.Error(), name+":") {
					t.Errorf("LoadConfig without %s in %s: %v, want an error naming it", name, profile, err)
				}
			})
		}
		t.Run(name+" in dev", func(t *testing.T) {
			t.Parallel()
			vars := maps.Clone(secrets)
			delete(vars, name)
			if _, err := LoadConfig(env(vars)); err != nil {
				t.Errorf("LoadConfig without %s in dev: %v", name, err)
			}
		})
	}
	// Both profiles start with every secret given.
	for _, profile := range []string{"stage", "prod"} {
		vars := maps.Clone(secrets)
		vars["MOLAR_PROFILE"] = profile
		maps.Copy(vars, prodNeeds)
		if _, err := LoadConfig(env(vars)); err != nil {
			t.Errorf("LoadConfig in %s with keygen's secrets: %v", profile, err)
		}
	}
	// Each run makes new keys.
	if again := keygen(t); again["MOLAR_JWT_KEYS"] == secrets["MOLAR_JWT_KEYS"] {
		t.Error("keygen printed the same signing key twice")
	}
}

// prodNeeds is what the prod profile requires besides the secrets.
var prodNeeds = map[string]string{"MOLAR_ALLOWED_ORIGINS": "https://clinic.example.com", "MOLAR_TRUST_PROXY": "127.0.0.1"}

// TestLoadConfigProdNamesEachMissingThing: prod refuses to start without
// the keys, an https origin and a trusted proxy (molar has no TLS of its
// own), in one message that names every one missing; stage needs only the
// keys; dev none.
func TestLoadConfigProdNamesEachMissingThing(t *testing.T) {
	t.Parallel()
	secrets := keygen(t)
	all := []string{"MOLAR_JWT_KEYS", "MOLAR_RRN_KEYS", "MOLAR_MEDIA_KEY", "MOLAR_ALLOWED_ORIGINS", "MOLAR_TRUST_PROXY"}
	given := map[string]string{}
	maps.Copy(given, secrets)
	maps.Copy(given, prodNeeds)
	cases := []struct {
		name    string
		profile string
		leave   []string // variables left unset
		named   []string // what the error names; none: it starts
	}{
		{"prod with nothing", "prod", all, all},
		{"prod with everything", "prod", nil, nil},
		{"prod without a proxy", "prod", []string{"MOLAR_TRUST_PROXY"}, []string{"MOLAR_TRUST_PROXY"}},
		{"prod without origins or media key", "prod", []string{"MOLAR_ALLOWED_ORIGINS", "MOLAR_MEDIA_KEY"}, []string{"MOLAR_MEDIA_KEY", "MOLAR_ALLOWED_ORIGINS"}},
		{"stage with nothing", "stage", all, all[:3]},
		{"stage without origins or proxy", "stage", all[3:], nil},
		{"dev with nothing", "dev", all, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vars := maps.Clone(given)
			vars["MOLAR_PROFILE"] = tc.profile
			for _, k := range tc.leave {
				delete(vars, k)
			}
			_, err := LoadConfig(env(vars))
			if len(tc.named) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("started without %v", tc.leave)
			}
			var named []string
			for _, part := range strings.Split(err.Error(), "; ") {
				name, why, _ := strings.Cut(part, ": ")
				named = append(named, name)
				if !strings.Contains(why, "required in the "+tc.profile+" profile") {
					t.Errorf("%s: %q does not say what requires it", name, why)
				}
			}
			if diff := cmp.Diff(tc.named, named); diff != "" {
				t.Errorf("variables named by %q (-want +got):\n%s", err, diff)
			}
		})
	}
	// What is given but wrong is still told apart: a plain-http origin.
	vars := maps.Clone(given)
	vars["MOLAR_PROFILE"], vars["MOLAR_ALLOWED_ORIGINS"] = "prod", "http://clinic.example.com"
	if _, err := LoadConfig(env(vars)); err == nil || !strings.HasPrefix(err.Error(), "MOLAR_ALLOWED_ORIGINS:") || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("prod with a plain-http origin: %v", err)
	}
}

func TestLoadConfigOrigins(t *testing.T) {
	t.Parallel()
	type result struct {
		ok      bool
		origins []string
	}
	cases := []struct {
		name, profile, origins string
		want                   result
	}{
		{"wildcard in dev", "dev", "*", result{}},
		{"wildcard in stage", "stage", "*", result{}},
		{"wildcard in prod", "prod", "*", result{}},
		{"wildcard subdomain in dev", "dev", "https://*.example.com", result{}},
		{"wildcard subdomain in prod", "prod", "https://*.example.com", result{}},
		{"wildcard among good ones in prod", "prod", "https://clinic.example.com,*", result{}},
		{"http in dev", "dev", "http://localhost:5173", result{true, []string{"http://localhost:5173"}}},
		{"http in stage", "stage", "http://staging.example.com", result{}},
		{"http in prod", "prod", "http://clinic.example.com", result{}},
		{"http among https in prod", "prod", "https://clinic.example.com,http://clinic.example.com", result{}},
		{"https in prod", "prod", "https://clinic.example.com", result{true, []string{"https://clinic.example.com"}}},
		{"https with port in prod", "prod", "https://clinic.example.com:8443", result{true, []string{"https://clinic.example.com:8443"}}},
		{"several, spaced, trailing slash", "prod", " https://a.example.com/ ,, https://b.example.com ",
			result{true, []string{"https://a.example.com", "https://b.example.com"}}},
		{"none in prod", "prod", "", result{}},
		{"none in stage", "stage", "", result{true, nil}},
		{"dev default", "dev", "", result{true, []string{"http://localhost:5173", "http://127.0.0.1:5173"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(env(withSecrets(t, map[string]string{
				"MOLAR_PROFILE":         tc.profile,
				"MOLAR_ALLOWED_ORIGINS": tc.origins,
				"MOLAR_TRUST_PROXY":     "true",
			})))
			if !tc.want.ok {
				if err == nil {
					t.Fatalf("accepted %q in %s: %v", tc.origins, tc.profile, cfg.AllowedOrigins)
				}
				if !strings.HasPrefix(err.Error(), "MOLAR_ALLOWED_ORIGINS:") {
					t.Errorf("error %q does not name MOLAR_ALLOWED_ORIGINS", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused %q in %s: %v", tc.origins, tc.profile, err)
			}
			if diff := cmp.Diff(tc.want.origins, cfg.AllowedOrigins); diff != "" {
				t.Errorf("origins (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigVarsDocumentEveryVariable(t *testing.T) {
	t.Parallel()
	// Every variable LoadConfig reads is listed for `molar config` and the
	// README, and nothing else is.
	read := map[string]bool{}
	_, _ = LoadConfig(func(k string) string { read[k] = true; return "" })
	listed := map[string]bool{}
	for _, v := range configVars {
		listed[v.Name] = true
		if v.Help == "" || v.Default == "" {
			t.Errorf("%s lacks a default or help text", v.Name)
		}
	}
	if diff := cmp.Diff(read, listed); diff != "" {
		t.Errorf("variables read vs listed (-read +listed):\n%s", diff)
	}
}

// TestLoadConfigTakesMongoSocket: a MongoDB on a Unix socket, its path
// escaped as the host as the driver expects, is taken; a URI that is not
// MongoDB's still is not.
func TestLoadConfigTakesMongoSocket(t *testing.T) {
	t.Parallel()
	const sock = "mongodb://%2Fvar%2Frun%2Fmongodb%2Fmongod.sock/?directConnection=true"
	c, err := LoadConfig(env(map[string]string{"MONGODB_URI": sock}))
	if err != nil || c.MongoURI != sock {
		t.Fatalf("socket URI: %q, %v", c.MongoURI, err)
	}
	for _, bad := range []string{"mongodb://%zz/", "postgres://%2Fvar%2Frun%2Fpg.sock/"} {
		if _, err := LoadConfig(env(map[string]string{"MONGODB_URI": bad})); err == nil || !strings.HasPrefix(err.Error(), "MONGODB_URI: ") {
			t.Errorf("%s: %v, want a MONGODB_URI error", bad, err)
		}
	}
}
