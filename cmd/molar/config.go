package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/molar-dental/molar/services"
	"github.com/molar-dental/molar/services/auth"
	"github.com/molar-dental/molar/services/patient"
	"github.com/molar-dental/molar/services/reports"
)

// Config is everything the server reads from its environment.
type Config struct {
	// Profile is dev, stage or prod; prod refuses insecure settings.
	Profile string
	// Addr is the listen address, host:port.
	Addr string
	// AdminAddr is where /metrics is served, host:port; empty serves no
	// metrics and keeps none.
	AdminAddr string
	// DataDir holds the embedded engine's files and other local state.
	DataDir string
	// MongoURI is a MongoDB deployment; empty runs the embedded engine.
	MongoURI string
	// Database is the database name.
	Database string
	// AllowedOrigins may call the API from a browser with credentials.
	AllowedOrigins []string
	// LogLevel is the least severe level written.
	LogLevel slog.Level
	// MaxRequestBytes bounds the size of one request message.
	MaxRequestBytes int
	// BodyTimeout bounds how long a request's body (streams and uploads
	// apart) may take to arrive; zero means the default.
	BodyTimeout time.Duration
	// JWTKeys signs access tokens ("kid:seed,..."); in dev, empty means a
	// key kept in DataDir.
	JWTKeys string
	// ChangeRetention is how long the embedded change log keeps changes.
	ChangeRetention time.Duration
	// TrustProxy says Molar runs behind a reverse proxy: the client address
	// is taken from X-Forwarded-For as Proxies says.
	TrustProxy bool
	Proxies    services.Proxies
	// RRNKeys encrypt registration numbers ("kid:key,..."); in dev, empty
	// means a key kept in DataDir.
	RRNKeys string
	// MaxUploadBytes bounds one uploaded image.
	MaxUploadBytes int64
	// BlobURL is where image bytes are kept: s3://bucket?endpoint=...; empty
	// means files under DataDir/blobs.
	BlobURL string
	// MediaKey signs the short-lived links to image bytes (base64 of 32 or
	// more bytes); in dev, empty means a key kept in DataDir.
	MediaKey string
	// Backup is the server's backup schedule; zero (no directory) when
	// MOLAR_BACKUP_DIR is unset.
	Backup BackupConfig
	// SentryDSN is where the server's error reports go; empty sends none.
	SentryDSN string
	// SentryBrowserDSN is where the web app's error reports go; empty sends
	// none.
	SentryBrowserDSN string
}

// configVar documents one environment variable for the README and errors.
type configVar struct {
	Name, Default, Help string
}

// configVars lists the environment the server reads, in README order.
var configVars = []configVar{
	{"MOLAR_PROFILE", "dev", "dev, stage or prod. stage and prod require the keys; prod also requires MOLAR_ALLOWED_ORIGINS and MOLAR_TRUST_PROXY (TLS ends at nginx), and refuses plain-http origins and demo data."},
	{"MOLAR_ADDR", ":8080", "Listen address (host:port). HTTP/1.1 and unencrypted HTTP/2 on the same port."},
	{"MOLAR_ADMIN_ADDR", defaultAdminAddr, "Admin listener (host:port) serving Prometheus /metrics, /healthz and /readyz, never on MOLAR_ADDR; off turns metrics off. Keep it on loopback or a private network."},
	{"MOLAR_DATA_DIR", "./data", "Directory for the embedded database and local state."},
	{"MONGODB_URI", "(unset)", "MongoDB to use. Unset: the embedded engine in MOLAR_DATA_DIR."},
	{"MOLAR_DATABASE", "molar", "Database name."},
	{"MOLAR_ALLOWED_ORIGINS", "http://localhost:5173,http://127.0.0.1:5173 in dev", "Comma-separated browser origins allowed to call the API (CORS, with credentials)."},
	{"MOLAR_LOG_LEVEL", "info", "debug, info, warn or error."},
	{"MOLAR_MAX_REQUEST_BYTES", "8388608", "Largest accepted request message, in bytes."},
	{"MOLAR_BODY_TIMEOUT", "30s", "How long a request's body may take to arrive before the connection is cut (live views and image uploads are not cut)."},
	{"MOLAR_JWT_KEYS", "(dev: generated into MOLAR_DATA_DIR/jwt-keys)", "Access-token signing keys, kid:seed,kid:seed (newest first; `molar keygen` makes one). Required outside dev."},
	{"MOLAR_RRN_KEYS", "(dev: generated into MOLAR_DATA_DIR/rrn-keys)", "AES-256 keys for resident registration numbers, kid:key,kid:key (newest first; `molar keygen` prints one). Required outside dev."},
	{"MOLAR_CHANGE_RETENTION", "24h", "How long the embedded database keeps its change log; a process that could not read it for longer reloads what it keeps in memory."},
	{"MOLAR_TRUST_PROXY", "false", "Behind a reverse proxy (nginx) that appends to X-Forwarded-For: true trusts a proxy on the same host (loopback); elsewhere give the proxies' addresses or CIDR prefixes, comma-separated. The client is the right-most address that is not a trusted proxy."},
	{"MOLAR_MAX_UPLOAD_BYTES", "104857600", "Largest image file accepted, in bytes (100 MiB)."},
	{"MOLAR_BLOB_URL", "(unset)", "Where image files are kept: s3://bucket?endpoint=host:port&region=...&secure=false (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). Unset: files under MOLAR_DATA_DIR/blobs."},
	{"MOLAR_MEDIA_KEY", "(dev: generated into MOLAR_DATA_DIR/media-key)", "Base64 key (32 bytes or more) signing the short-lived links to image files; the same on every replica (`molar keygen` prints one). Required outside dev."},
	{"MOLAR_BACKUP_DIR", "(unset)", "Directory the server writes scheduled backups to (another disk than MOLAR_DATA_DIR; the same on every replica). Unset: no scheduled backups."},
	{"MOLAR_BACKUP_EVERY", "24h", "How often the server backs up, from 5m to 744h; windows start at midnight in the clinic's time zone."},
	{"MOLAR_BACKUP_KEEP", "14", "How many archives MOLAR_BACKUP_DIR keeps (1 to 10000); older ones are deleted after each backup."},
	{"MOLAR_BACKUP_RECIPIENT", "(unset)", "age public keys (age1..., comma-separated) backups are encrypted to; required with MOLAR_BACKUP_DIR (`molar keygen --backup FILE` makes a key)."},
	{"MOLAR_SENTRY_DSN", "(unset)", "Sentry DSN the server reports panics and internal errors to (no request, header, cookie or personal data; see Error reports). Unset: no reports."},
	{"MOLAR_SENTRY_BROWSER_DSN", "(unset)", "Sentry DSN the web app reports its errors to, given to the page (a DSN's key is public); the page's Content-Security-Policy then allows its host. Unset: the web app sends none and loads no reporting code."},
}

// LoadConfig reads and checks the configuration. An error names the variable
// at fault.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Profile:  get("MOLAR_PROFILE", "dev"),
		Addr:     get("MOLAR_ADDR", ":8080"),
		DataDir:  get("MOLAR_DATA_DIR", "./data"),
		MongoURI: get("MONGODB_URI", ""),
		Database: get("MOLAR_DATABASE", "molar"),
	}
	switch c.Profile {
	case "dev", "stage", "prod":
	default:
		return c, fmt.Errorf("MOLAR_PROFILE: %q is not one of dev, stage, prod", c.Profile)
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("MOLAR_ADDR: %q is not host:port: %v", c.Addr, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return c, fmt.Errorf("MOLAR_ADDR: port %q is not a number from 0 to 65535", port)
	}
	admin, err := parseAdminAddr(get("MOLAR_ADMIN_ADDR", defaultAdminAddr), c.Addr)
	if err != nil {
		return c, fmt.Errorf("MOLAR_ADMIN_ADDR: %v", err)
	}
	c.AdminAddr = admin
	if c.MongoURI != "" {
		// mongodb:// is read by the driver's own parser, which knows what
		// url.Parse does not, such as a Unix socket's path escaped as the
		// host (mongodb://%2Ftmp%2Fm.sock); the driver's parser of
		// mongodb+srv:// would look the name up, so that is read as a URL.
		var err error
		switch {
		case strings.HasPrefix(c.MongoURI, "mongodb://"):
			_, err = connstring.Parse(c.MongoURI)
		case strings.HasPrefix(c.MongoURI, "mongodb+srv://"):
			_, err = url.Parse(c.MongoURI)
		default:
			err = errors.New("scheme")
		}
		if err != nil {
			return c, fmt.Errorf("MONGODB_URI: must be a mongodb:// or mongodb+srv:// URI")
		}
	}
	if strings.ContainsAny(c.Database, "/\\. \"$") || len(c.Database) > 63 {
		return c, fmt.Errorf("MOLAR_DATABASE: %q is not a valid database name", c.Database)
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("MOLAR_LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("MOLAR_LOG_LEVEL: %v", err)
	}
	n, err := strconv.Atoi(get("MOLAR_MAX_REQUEST_BYTES", "8388608"))
	if err != nil || n < 1024 || n > 1<<30 {
		return c, fmt.Errorf("MOLAR_MAX_REQUEST_BYTES: must be a number of bytes from 1024 to 1073741824")
	}
	c.MaxRequestBytes = n
	c.BodyTimeout, err = time.ParseDuration(get("MOLAR_BODY_TIMEOUT", "30s"))
	if err != nil || c.BodyTimeout < time.Second {
		return c, fmt.Errorf("MOLAR_BODY_TIMEOUT: must be a duration of at least 1s, like 30s")
	}

	// What a profile requires and is not given is collected, so that one
	// message names all of it.
	var missing []string
	need := func(name, why string) {
		missing = append(missing, fmt.Sprintf("%s: required in the %s profile (%s)", name, c.Profile, why))
	}
	c.JWTKeys = get("MOLAR_JWT_KEYS", "")
	if c.JWTKeys == "" && c.Profile != "dev" {
		need("MOLAR_JWT_KEYS", "make one with `molar keygen`")
	}
	if c.JWTKeys != "" {
		if _, err := auth.ParseKeySet(c.JWTKeys); err != nil {
			return c, fmt.Errorf("MOLAR_JWT_KEYS: %v", err)
		}
	}
	c.RRNKeys = get("MOLAR_RRN_KEYS", "")
	if c.RRNKeys == "" && c.Profile != "dev" {
		need("MOLAR_RRN_KEYS", "make one with `molar keygen`")
	}
	if c.RRNKeys != "" {
		if _, err := patient.ParseSealer(c.RRNKeys); err != nil {
			return c, fmt.Errorf("MOLAR_RRN_KEYS: %v", err)
		}
	}
	c.MaxUploadBytes, err = strconv.ParseInt(get("MOLAR_MAX_UPLOAD_BYTES", "104857600"), 10, 64)
	if err != nil || c.MaxUploadBytes < 1024 || c.MaxUploadBytes > 10<<30 {
		return c, fmt.Errorf("MOLAR_MAX_UPLOAD_BYTES: must be a number of bytes from 1024 to 10737418240")
	}
	c.BlobURL = get("MOLAR_BLOB_URL", "")
	if c.BlobURL != "" && !strings.HasPrefix(c.BlobURL, "s3://") && !strings.HasPrefix(c.BlobURL, "file://") {
		return c, fmt.Errorf("MOLAR_BLOB_URL: must be an s3:// or file:// URL")
	}
	c.MediaKey = get("MOLAR_MEDIA_KEY", "")
	if c.MediaKey == "" && c.Profile != "dev" {
		need("MOLAR_MEDIA_KEY", "make one with `molar keygen`")
	}
	if c.MediaKey != "" {
		if _, err := parseMediaKey(c.MediaKey); err != nil {
			return c, fmt.Errorf("MOLAR_MEDIA_KEY: %v", err)
		}
	}
	c.ChangeRetention, err = time.ParseDuration(get("MOLAR_CHANGE_RETENTION", "24h"))
	if err != nil || c.ChangeRetention < time.Second {
		return c, fmt.Errorf("MOLAR_CHANGE_RETENTION: must be a duration of at least 1s, like 24h")
	}
	c.Proxies, err = services.ParseProxies(get("MOLAR_TRUST_PROXY", "false"))
	if err != nil {
		return c, fmt.Errorf("MOLAR_TRUST_PROXY: %v", err)
	}
	c.TrustProxy = c.Proxies.Any()

	if c.Backup, err = loadBackupConfig(get); err != nil {
		return c, err
	}

	for _, v := range []struct {
		name string
		dsn  *string
	}{{"MOLAR_SENTRY_DSN", &c.SentryDSN}, {"MOLAR_SENTRY_BROWSER_DSN", &c.SentryBrowserDSN}} {
		*v.dsn = get(v.name, "")
		if err := reports.CheckDSN(*v.dsn, c.Profile); err != nil {
			return c, fmt.Errorf("%s: %v", v.name, err)
		}
	}

	defOrigins := ""
	if c.Profile == "dev" {
		defOrigins = "http://localhost:5173,http://127.0.0.1:5173"
	}
	for _, o := range strings.Split(get("MOLAR_ALLOWED_ORIGINS", defOrigins), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if err := checkOrigin(o, c.Profile); err != nil {
			return c, fmt.Errorf("MOLAR_ALLOWED_ORIGINS: %v", err)
		}
		c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimSuffix(o, "/"))
	}
	if c.Profile == "prod" {
		if len(c.AllowedOrigins) == 0 {
			need("MOLAR_ALLOWED_ORIGINS", "the clinic's https:// address, as the browsers open it")
		}
		// molar speaks plain HTTP: in production TLS ends at a reverse
		// proxy, whose forwarded client address is believed.
		if !c.Proxies.Any() {
			need("MOLAR_TRUST_PROXY", "molar serves plain HTTP: put nginx with TLS in front (deploy/nginx/molar.conf) and name its address, or true")
		}
	}
	if len(missing) > 0 {
		return c, errors.New(strings.Join(missing, "; "))
	}
	return c, nil
}

// checkOrigin accepts scheme://host[:port] only. Credentials are allowed for
// these origins, so a wildcard is never accepted; outside dev, only https.
func checkOrigin(o, profile string) error {
	if strings.Contains(o, "*") {
		return fmt.Errorf("%q: wildcard origins are refused because credentials are allowed", o)
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin like https://clinic.example.com", o)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && profile == "dev":
	case u.Scheme == "http":
		return fmt.Errorf("%q: plain http origins are refused outside the dev profile", o)
	default:
		return fmt.Errorf("%q: scheme must be http or https", o)
	}
	return nil
}

// parseMediaKey decodes the key of the links to image files.
func parseMediaKey(spec string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(spec))
	if err != nil {
		return nil, fmt.Errorf("not base64: %v", err)
	}
	if len(k) < 32 {
		return nil, fmt.Errorf("%d bytes; at least 32 are needed", len(k))
	}
	return k, nil
}

// newMediaKey makes a key for MOLAR_MEDIA_KEY.
func newMediaKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}
