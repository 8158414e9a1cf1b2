package sessions

// Native fuzz targets for everything that parses outside input: the DSN
// (Open), the cookie value (the ID check, the store key and a full request through
// the middleware) and the environment (ConfigFromEnv,
// ParseEncryptionKeys). Each asserts properties, not merely "it ran".
//
// Seed corpora live in testdata/fuzz/<FuzzName>/; plain `go test` runs
// them as regression tests. `make fuzz` fuzzes each target for a while,
// `make fuzz-ci` briefly.
//
// Open is fuzzed offline: DNS lookups of this process fail at once
// (fuzzOffline), a DSN naming a non-loopback IP address is not opened
// (fuzzSandbox), and file:// folders are moved under a temporary folder,
// so no input makes the fuzzer reach the network or write outside it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/core"
)

// fuzzSchemes are the schemes builtin.go registers (TestFuzzSchemesAreBuiltins
// keeps the list honest).
var fuzzSchemes = []string{"file", "memcached", "memory", "redis", "rediss"}

// Canaries wrapped around secrets the fuzz targets plant in their input: a
// secret leaked into an error is found by looking for them.
const (
	canaryHead = "Zk7Qv"
	canaryTail = "Jw3Xe"
)

func hasCanary(s string) bool {
	return strings.Contains(s, canaryHead) || strings.Contains(s, canaryTail)
}

var fuzzOfflineOnce sync.Once

// fuzzOffline makes every DNS query of this test process fail at once,
// without a packet leaving the machine. Names in /etc/hosts (localhost)
// still resolve. It is set once and never undone: the fuzz targets run
// after every test of the package.
func fuzzOffline() {
	fuzzOfflineOnce.Do(func() {
		net.DefaultResolver.PreferGo = true
		net.DefaultResolver.Dial = func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("fuzz: DNS is off in this test process")
		}
	})
}

// fuzzLocalHost reports whether a host from a DSN is safe to dial from a
// fuzz target: a name (resolved offline, so only /etc/hosts answers) or a
// loopback or unspecified address. It is generous in what it refuses: the
// host, and every prefix of it ending before a ':' (with or without
// brackets), must not read as any other IP address, since a driver may
// take "1:::" for the IPv6 address 1:: with a default port.
func fuzzLocalHost(h string) bool {
	for c := h; ; {
		for _, v := range []string{c, strings.Trim(c, "[]")} {
			if a, err := netip.ParseAddr(v); err == nil && !a.IsLoopback() && !a.IsUnspecified() {
				return false
			}
		}
		i := strings.LastIndexByte(c, ':')
		if i < 0 {
			return true
		}
		c = c[:i]
	}
}

// fuzzSandbox returns the DSN to open in place of dsn, and false if dsn
// must not be opened from a fuzz target: a network driver pointed at a
// non-loopback address, or with connect/read timeouts so long that a
// silent local port would stall the fuzzer. A file:// folder is moved
// under root (the driver creates its folder, so a fuzzed path must never
// reach the real file system).
func fuzzSandbox(dsn, root string) (string, bool) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return dsn, true // Open fails before any factory runs
	}
	switch u.Scheme {
	case "file":
		if u.User == nil && u.Host == "" && u.Opaque == "" && strings.HasPrefix(u.Path, "/") {
			v := *u
			v.Path = root + path.Clean(u.Path) // Clean of a rooted path stays rooted: no way up out of root
			v.RawPath = ""
			return v.String(), true
		}
	case "redis", "rediss", "memcached":
		q, _ := url.ParseQuery(u.RawQuery) // a partial result is still checked
		for _, h := range append(strings.Split(u.Host, ","), q["addr"]...) {
			for _, h := range strings.Split(h, ",") {
				if !fuzzLocalHost(h) {
					return "", false
				}
			}
		}
		for _, name := range []string{"dial_timeout", "write_timeout", "timeout", "conn_lifetime"} {
			for _, v := range q[name] {
				if d, err := time.ParseDuration(v); err == nil && d > 2*time.Second {
					return "", false
				}
			}
		}
	}
	return dsn, true
}

// fuzzOpen opens dsn (as sandboxed) and checks Open's contract: a driver
// or an error, never both, never a panic; a driver closes cleanly once and
// refuses calls afterwards. It returns Open's error.
func fuzzOpen(t *testing.T, root, dsn string) error {
	toOpen, ok := fuzzSandbox(dsn, root)
	if !ok {
		return nil
	}
	defer func() {
		// Whatever a file:// DSN created goes, so the fuzzer cannot fill the disk.
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			_ = os.RemoveAll(root + "/" + e.Name())
		}
	}()
	d, err := Open(toOpen)
	if (d == nil) == (err == nil) {
		t.Fatalf("Open(%q) = %v, %v; want a driver or an error", toOpen, d, err)
	}
	if err != nil {
		if strings.TrimSpace(err.Error()) == "" {
			t.Fatalf("Open(%q) failed with an empty error", toOpen)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Open(%q): first Close = %v", toOpen, err)
	}
	if _, _, _, err := d.Load(ctx, core.StoreKey(core.NewID())); err == nil {
		t.Fatalf("Open(%q): Load after Close succeeded", toOpen)
	}
	if err := d.Close(ctx); err == nil {
		t.Fatalf("Open(%q): a second Close succeeded; calls after Close return errors", toOpen)
	}
	return nil
}

// fuzzOpenSetup prepares a fuzz target that opens DSNs.
func fuzzOpenSetup(f *testing.F) (root string) {
	fuzzOffline()
	root = f.TempDir()
	f.Setenv("TMPDIR", root) // "file://" alone uses a folder under os.TempDir()
	return root
}

// FuzzOpen feeds arbitrary DSNs to Open, for every registered scheme
// (the seed corpus starts with each), and to RedactDSN: a DSN with no
// "@", no fragment, no percent-encoding and no word that names a secret
// comes back unchanged.
func FuzzOpen(f *testing.F) {
	root := fuzzOpenSetup(f)
	for _, s := range fuzzSchemes {
		f.Add(s + "://")
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		fuzzOpen(t, root, dsn)
		r := RedactDSN(dsn)
		lower := strings.ToLower(dsn)
		secretless := !strings.ContainsAny(dsn, "@#%+")
		for _, w := range []string{"pass", "pwd", "secret", "token", "key", "auth", "sig", "credential"} {
			secretless = secretless && !strings.Contains(lower, w)
		}
		if secretless && r != dsn {
			t.Fatalf("RedactDSN(%q) = %q; a DSN without secrets comes back unchanged", dsn, r)
		}
	})
}

// FuzzOpenSecret plants a password, wrapped in canaries, in a DSN of each
// scheme: as the password of the user info (scheme://user:SECRET@rest, the
// password holding any bytes, '/', '?', '#' and '@' included, as people
// paste generated passwords; the user name any bytes but '/', '?' and '#';
// the "//" also missing or with a '/' too many) or as a Redis
// sentinel_password option. Neither Open's error nor
// RedactDSN may ever show it.
func FuzzOpenSecret(f *testing.F) {
	root := fuzzOpenSetup(f)
	for i := range fuzzSchemes {
		f.Add(byte(i), "user", "hunter2", "127.0.0.1:1", false)
	}
	f.Add(byte(3), "", "p/ss", "127.0.0.1:1", false)
	f.Add(byte(3), "", "x", "127.0.0.1:1/0", true)
	f.Fuzz(func(t *testing.T, scheme byte, user, pw, rest string, inQuery bool) {
		var dsn string
		if inQuery {
			if strings.Contains(rest, "#") {
				return // the option would be part of the fragment, not an option
			}
			sep := "?"
			if strings.Contains(rest, "?") {
				sep = "&"
			}
			s := []string{"redis", "rediss"}[scheme%2]
			dsn = s + "://" + rest + sep + "master_set=m&sentinel_password=" + canaryHead + url.QueryEscape(pw) + canaryTail
		} else {
			if strings.ContainsAny(user, "/?#") {
				return // not a user name: the authority would end inside it
			}
			// The higher values of scheme pick a DSN that lost its "//"
			// or has one '/' too many, as typed by hand.
			sep := []string{"://", ":", ":/", ":///"}[int(scheme)/len(fuzzSchemes)%4]
			s := fuzzSchemes[int(scheme)%len(fuzzSchemes)]
			if s == "file" && (sep == ":/" || sep == ":///") {
				return // file:/a:b@c and file:///a:b@c name a folder, which errors show
			}
			dsn = s + sep + user + ":" + canaryHead + pw + canaryTail + "@" + rest
		}
		if strings.Count(dsn, canaryHead) != 1 || strings.Count(dsn, canaryTail) != 1 {
			return // the canaries must mark the secret and nothing else
		}
		fuzzSecretHidden(t, root, dsn, hasCanary)
	})
}

// fuzzSecretHidden checks that neither RedactDSN(dsn) nor the error of
// Open(dsn) shows a secret planted in dsn (shows reports whether a text
// holds it), and that the DSNSecrets a scrubber uses cover the secret.
func fuzzSecretHidden(t *testing.T, root, dsn string, shows func(string) bool) {
	t.Helper()
	if r := RedactDSN(dsn); shows(r) {
		t.Fatalf("RedactDSN(%q) = %q: shows the secret", dsn, r)
	}
	scrubbed := dsn
	for _, s := range driver.DSNSecrets(dsn) {
		scrubbed = strings.ReplaceAll(scrubbed, s, "xxxxx")
	}
	if shows(scrubbed) {
		t.Fatalf("DSNSecrets(%q) = %q: scrubbing the DSN with them leaves the secret", dsn, driver.DSNSecrets(dsn))
	}
	if err := fuzzOpen(t, root, dsn); err != nil && shows(err.Error()) {
		t.Fatalf("Open(%q): the error shows the secret: %v", dsn, err)
	}
}

// fuzzSecretNames are names of options that hold secrets, in the drivers
// and in libraries a custom driver may pass its DSN to.
var fuzzSecretNames = []string{"password", "sentinel_password", "sslpassword", "Pwd", "client_secret", "token",
	"access_token", "api_key", "apikey", "auth", "authSource", "sig", "X-Amz-Signature", "credential", "X-Amz-Credential"}

// fuzzDisguise writes an option name as a hand or a tool might: each
// letter upper- or lower-case as the bits of upper say, each byte
// percent-encoded (with upper- or lower-case hex digits) as the bits of
// escape say. A driver decodes and may case-fold the name back.
func fuzzDisguise(name string, upper, escape uint64) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		bit := uint64(1) << (i % 64)
		if upper&bit != 0 {
			c = strings.ToUpper(string(c))[0]
		} else {
			c = strings.ToLower(string(c))[0]
		}
		switch {
		case escape&bit != 0 && upper&(bit>>1) != 0:
			fmt.Fprintf(&b, "%%%02x", c)
		case escape&bit != 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fuzzDecodes reports whether s holds sub, in any case, as written or
// after any rounds of decoding its valid %XX escapes (an error may quote
// a decoded part of a DSN, such as a path or an option name).
func fuzzDecodes(s, sub string) bool {
	sub = strings.ToLower(sub)
	hex := regexp.MustCompile(`%[0-9a-fA-F]{2}`)
	for {
		if strings.Contains(strings.ToLower(strings.ReplaceAll(s, "+", " ")), sub) || strings.Contains(strings.ToLower(s), sub) {
			return true
		}
		d := hex.ReplaceAllStringFunc(s, func(e string) string {
			b, _ := strconv.ParseUint(e[1:], 16, 8)
			return string([]byte{byte(b)})
		})
		if d == s {
			return false
		}
		s = d
	}
}

// FuzzRedactDSN plants a secret (6 or more letters and digits, found
// nowhere else in the DSN) in a DSN of each built-in scheme around an
// arbitrary rest: as the password of the user information
// (scheme://user:SECRET@rest), as the value of an option named for a
// secret, its name in any case and percent-encoded in part
// (scheme://rest?p%61ssWord=SECRET; a name given in name, if one, is
// added in front: my_token), or as the fragment (scheme://rest#SECRET).
// Neither RedactDSN, nor the error of Open (the built-in drivers refuse
// unknown options), may show it, and DSNSecrets must cover it.
func FuzzRedactDSN(f *testing.F) {
	root := fuzzOpenSetup(f)
	for shape := range 3 {
		for scheme := range fuzzSchemes {
			f.Add(byte(shape), byte(scheme), "S3cret99", "app", "127.0.0.1:1/0", uint64(0), uint64(0))
		}
	}
	f.Add(byte(1), byte(0), "S3cret99", "", "127.0.0.1:1/x@y", uint64(0xff), uint64(2))
	f.Add(byte(4), byte(3), "S3cret99", "my_", "127.0.0.1:1/0?db=1", uint64(5), uint64(0x30))
	f.Fuzz(func(t *testing.T, shape, scheme byte, secret, name, rest string, upper, escape uint64) {
		if len(secret) < 6 || strings.ContainsFunc(secret, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			return
		}
		s := fuzzSchemes[int(scheme)%len(fuzzSchemes)]
		var dsn string
		switch shape % 3 {
		case 0:
			if strings.ContainsAny(name, "/?#") {
				return // not a user name: the authority would end inside it
			}
			dsn = s + "://" + name + ":" + secret + "@" + rest
		case 1:
			if strings.ContainsFunc(name, func(r rune) bool {
				return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-' || r == '.')
			}) {
				name = ""
			}
			opt := fuzzDisguise(name+fuzzSecretNames[int(shape/3)%len(fuzzSecretNames)], upper, escape)
			sep := "?"
			if strings.Contains(rest, "?") {
				sep = "&"
			}
			dsn = s + "://" + rest + sep + opt + "=" + secret
		case 2:
			dsn = s + "://" + rest + "#" + secret
		}
		if others := strings.Replace(dsn, secret, "", 1); fuzzDecodes(others, secret) || fuzzDecodes(strconv.Quote(others), secret) {
			return // the secret must be found nowhere else, even decoded or quoted
		}
		fuzzSecretHidden(t, root, dsn, func(text string) bool { return strings.Contains(text, secret) })
	})
}

func TestFuzzSchemesAreBuiltins(t *testing.T) {
	registered := map[string]bool{}
	for _, s := range Schemes() {
		registered[s] = true
	}
	for _, s := range fuzzSchemes {
		if !registered[s] {
			t.Errorf("fuzzSchemes lists %q, which is not registered", s)
		}
	}
	for _, s := range []string{"file", "memcached", "memory", "redis", "rediss"} {
		if !strings.Contains(strings.Join(fuzzSchemes, " "), s) {
			t.Errorf("built-in scheme %q is not fuzzed", s)
		}
	}
}

// fuzzCounting counts the store calls the middleware makes.
type fuzzCounting struct {
	Driver
	loads, saves, deletes atomic.Int64
}

func (c *fuzzCounting) Load(ctx context.Context, key string) ([]byte, uint64, time.Time, error) {
	c.loads.Add(1)
	return c.Driver.Load(ctx, key)
}

func (c *fuzzCounting) Save(ctx context.Context, key string, rec []byte, v uint64, ttl time.Duration) (bool, error) {
	c.saves.Add(1)
	return c.Driver.Save(ctx, key, rec, v, ttl)
}

func (c *fuzzCounting) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Driver.Delete(ctx, key)
}

func (c *fuzzCounting) counts() [3]int64 {
	return [3]int64{c.loads.Load(), c.saves.Load(), c.deletes.Load()}
}

// warnCounter is a slog.Handler that counts records at Warn and above.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }

// FuzzCookie sends arbitrary cookie values through a real Gin engine with
// the middleware on memory://: the value as the session cookie
// ("session=" + value) and as the whole Cookie header. It checks:
//
//   - validID and storeKey: whatever validID accepts is exactly what
//     newID produces (43 characters, canonical base64url of 32 bytes), and
//     its store key is a different, deterministic, driver-safe string;
//   - no request answers 5xx, a read finds nothing and sets no cookie;
//   - a value that is not a well-formed ID costs no store I/O at all (the
//     load counter does not move); a well-formed one costs exactly one
//     load, and is never adopted: a write gets a fresh ID;
//   - Snapshot of a malformed ID does no I/O.
func FuzzCookie(f *testing.F) {
	gin.SetMode(gin.TestMode)
	mem := memory.New(memory.Options{MaxEntries: 4096, SweepInterval: -1})
	f.Cleanup(func() { _ = mem.Close(context.Background()) })
	cd := &fuzzCounting{Driver: mem}
	cfg := DefaultConfig()
	cfg.Driver = cd
	cfg.Logger = slog.New(&warnCounter{})
	m, err := NewManager(cfg)
	if err != nil {
		f.Fatal(err)
	}
	e := gin.New()
	e.Use(m.Handler())
	e.GET("/r", func(c *gin.Context) {
		_, ok := Get[string](c, "k")
		c.String(http.StatusOK, "%v", ok)
	})
	e.GET("/w", func(c *gin.Context) {
		Set(c, "k", "v")
		c.String(http.StatusOK, "%s", ID(c))
	})

	f.Add(core.NewID())
	f.Add(core.StoreKey(core.NewID()))
	f.Fuzz(func(t *testing.T, value string) {
		if core.ValidID(value) {
			raw, err := base64.RawURLEncoding.Strict().DecodeString(value)
			if err != nil || len(raw) != 32 || base64.RawURLEncoding.EncodeToString(raw) != value {
				t.Fatalf("core.ValidID(%q) but it is not the canonical encoding of 32 bytes (%v)", value, err)
			}
			k := core.StoreKey(value)
			if k == value || !core.ValidID(k) || core.StoreKey(value) != k {
				t.Fatalf("core.StoreKey(%q) = %q: want a different, deterministic 43-character key", value, k)
			}
		} else {
			before := cd.counts()
			if snap, err := m.Snapshot(context.Background(), value); snap != nil || err != nil {
				t.Fatalf("Snapshot(%q) = %v, %v; want nothing for a malformed ID", value, snap, err)
			}
			if after := cd.counts(); after != before {
				t.Fatalf("Snapshot(%q) of a malformed ID did store I/O: %v -> %v", value, before, after)
			}
		}
		for _, header := range []string{DefaultCookieName + "=" + value, value} {
			fuzzCookieRequest(t, e, cd, header)
		}
	})
}

func fuzzCookieRequest(t *testing.T, e *gin.Engine, cd *fuzzCounting, header string) {
	t.Helper()
	probe := httptest.NewRequest(http.MethodGet, "/", nil)
	probe.Header.Set("Cookie", header)
	sent := ""
	if ck, err := probe.Cookie(DefaultCookieName); err == nil {
		sent = ck.Value // what the middleware sees, as net/http parses the header
	}
	wantLoads := int64(0)
	if core.ValidID(sent) {
		wantLoads = 1
	}
	for _, p := range []string{"/r", "/w"} {
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Header.Set("Cookie", header)
		before := cd.counts()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		after := cd.counts()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s with Cookie %q: status %d %q", p, header, rec.Code, rec.Body.String())
		}
		if loads := after[0] - before[0]; loads != wantLoads {
			t.Fatalf("GET %s with Cookie %q (session value %q): %d loads; want %d (no store I/O for a malformed ID)", p, header, sent, loads, wantLoads)
		}
		if after[2] != before[2] {
			t.Fatalf("GET %s with Cookie %q deleted a record", p, header)
		}
		cookies := (&http.Response{Header: rec.Header()}).Cookies()
		if p == "/r" {
			if rec.Body.String() != "false" || len(cookies) != 0 || after[1] != before[1] {
				t.Fatalf("GET /r with Cookie %q: body %q, cookies %v, %d saves; want nothing found, no cookie, no write",
					header, rec.Body.String(), cookies, after[1]-before[1])
			}
			continue
		}
		if len(cookies) != 1 || cookies[0].Name != DefaultCookieName {
			t.Fatalf("GET /w with Cookie %q: cookies %v; want one session cookie", header, cookies)
		}
		id := cookies[0].Value
		if !core.ValidID(id) || id == sent || id != rec.Body.String() || after[1]-before[1] != 1 {
			t.Fatalf("GET /w with Cookie %q (session value %q): new ID %q (body %q), %d saves; want a fresh ID saved once",
				header, sent, id, rec.Body.String(), after[1]-before[1])
		}
	}
}

// fuzzKey derives a fixed 32-byte test key.
func fuzzKey(name string) []byte {
	k := sha256.Sum256([]byte("ginkit/sessions fuzz key " + name))
	return k[:]
}

// fuzzEnvVars are the variables ConfigFromEnv reads.
var fuzzEnvVars = []string{EnvDSN, EnvPreviousDSN, EnvLifetime, EnvAbsoluteLifetime, EnvCookieName, EnvPath,
	EnvDomain, EnvSecure, EnvHTTPOnly, EnvSameSite, EnvExpireOnClose, EnvPartitioned, EnvEncryptionKeys, EnvHeader}

// canaryParts wraps every comma-separated part of a key list in the
// canaries, keeping the list's shape.
func canaryParts(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			parts[i] = canaryHead + p + canaryTail
		}
	}
	return strings.Join(parts, ",")
}

// FuzzConfigFromEnv sets one variable at a time to an arbitrary value:
// ConfigFromEnv never panics; an error names the variable and quotes the
// value (except SESSION_ENCRYPTION_KEYS, whose value it must never show);
// a config it accepts is one NewManager accepts, whose cookie net/http
// considers valid and sends with exactly the configured Path and Domain.
func FuzzConfigFromEnv(f *testing.F) {
	saved := map[string]string{}
	for _, name := range fuzzEnvVars {
		if v, ok := os.LookupEnv(name); ok {
			saved[name] = v
		}
		_ = os.Unsetenv(name)
	}
	f.Cleanup(func() {
		for _, name := range fuzzEnvVars {
			if v, ok := saved[name]; ok {
				_ = os.Setenv(name, v)
			} else {
				_ = os.Unsetenv(name)
			}
		}
	})
	mem := memory.New(memory.Options{SweepInterval: -1})
	f.Cleanup(func() { _ = mem.Close(context.Background()) })
	for i, v := range []string{"redis://u:p@h:6379/0", "", "90", "12h", "sid", "/app", "example.com", "true", "false", "lax", "1",
		base64.StdEncoding.EncodeToString(fuzzKey("one"))} {
		f.Add(byte(i), v)
	}
	for _, v := range []string{"X-Auth-Token", "authorization", "Set-Cookie", "x auth", "Host"} {
		f.Add(byte(slices.Index(fuzzEnvVars, EnvHeader)), v)
	}
	f.Fuzz(func(t *testing.T, which byte, value string) {
		name := fuzzEnvVars[int(which)%len(fuzzEnvVars)]
		if strings.IndexByte(value, 0) >= 0 {
			return // an environment variable cannot hold a NUL byte
		}
		get := func(value string) (Config, error) {
			if err := os.Setenv(name, value); err != nil {
				t.Skip(err)
			}
			defer os.Unsetenv(name)
			return ConfigFromEnv()
		}
		cfg, err := get(value)
		v := strings.TrimSpace(value)
		if err != nil {
			msg := err.Error()
			if v == "" {
				t.Fatalf("%s=%q (unset) gave an error: %v", name, value, err)
			}
			if !strings.Contains(msg, name) {
				t.Fatalf("%s=%q: the error does not name the variable: %v", name, value, err)
			}
			if name != EnvEncryptionKeys && !strings.Contains(msg, strconv.Quote(v)) {
				t.Fatalf("%s=%q: the error does not quote the value %s: %v", name, value, strconv.Quote(v), err)
			}
			if name == EnvEncryptionKeys {
				if _, err := get(canaryParts(value)); err != nil && hasCanary(err.Error()) {
					t.Fatalf("%s=%q: the error shows a key: %v", name, canaryParts(value), err)
				}
			}
			return
		}
		if err := cfg.validate(); err != nil {
			t.Fatalf("%s=%q: ConfigFromEnv returned a config that does not validate: %v", name, value, err)
		}
		switch name {
		case EnvLifetime:
			if cfg.Lifetime <= 0 {
				t.Fatalf("%s=%q: lifetime %v", name, value, cfg.Lifetime)
			}
		case EnvAbsoluteLifetime:
			if cfg.AbsoluteLifetime < 0 {
				t.Fatalf("%s=%q: absolute lifetime %v", name, value, cfg.AbsoluteLifetime)
			}
		case EnvSecure, EnvHTTPOnly, EnvExpireOnClose:
			if v == "" {
				break // blank is unset: the default stands
			}
			b, err := strconv.ParseBool(v)
			got := map[string]bool{EnvSecure: cfg.Secure, EnvHTTPOnly: !cfg.ScriptAccess, EnvExpireOnClose: cfg.ExpireOnClose}[name]
			if err != nil || got != b {
				t.Fatalf("%s=%q: got %v", name, value, got)
			}
		}
		cfg.DSN, cfg.PreviousDSN = "", ""
		cfg.Driver = mem
		m, err := NewManager(cfg)
		if err != nil {
			t.Fatalf("%s=%q: ConfigFromEnv accepted a config NewManager refuses: %v", name, value, err)
		}
		defer m.Close()
		if name == EnvHeader && v != "" { // blank is unset: the cookie stands
			// The header must reach the handler as the client sent it.
			var buf bytes.Buffer
			_ = http.Header{m.tr.header: {"v"}}.Write(&buf)
			buf.WriteString("\r\n")
			got, err := textproto.NewReader(bufio.NewReader(&buf)).ReadMIMEHeader()
			if err != nil || got.Get(m.tr.header) != "v" || m.tr.header != http.CanonicalHeaderKey(v) {
				t.Fatalf("%s=%q: header %q does not survive the wire: %v %v", name, value, m.tr.header, got, err)
			}
			return
		}
		line := m.tr.cookie.header(core.NewID(), time.Now().Add(time.Hour), 3600)
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("%s=%q: net/http cannot parse the Set-Cookie %q: %v", name, value, line, err)
		}
		if err := ck.Valid(); err != nil {
			t.Fatalf("%s=%q: the session cookie is not valid for net/http: %v", name, value, err)
		}
		if !strings.Contains(line, "; Path="+cfg.Path) {
			t.Fatalf("%s=%q: Set-Cookie %q lost the configured path %q", name, value, line, cfg.Path)
		}
		if d := strings.TrimPrefix(cfg.Domain, "."); d != "" && !strings.Contains(line, "; Domain="+d) {
			t.Fatalf("%s=%q: Set-Cookie %q lost the configured domain %q", name, value, line, cfg.Domain)
		}
	})
}

// FuzzParseEncryptionKeys parses arbitrary key lists: an error never shows
// a key (every part is wrapped in canaries and the error searched for
// them), and a list it accepts holds one 32-byte key per non-empty part,
// each the decoding of its part, and round-trips through standard base64.
func FuzzParseEncryptionKeys(f *testing.F) {
	k1 := base64.StdEncoding.EncodeToString(fuzzKey("one"))
	k2 := base64.RawURLEncoding.EncodeToString(fuzzKey("two"))
	f.Add(k1)
	f.Add(k1 + ", " + k2)
	f.Add("c2hvcnQ=")
	f.Fuzz(func(t *testing.T, s string) {
		keys, err := ParseEncryptionKeys(s)
		if !hasCanary(s) {
			if _, err := ParseEncryptionKeys(canaryParts(s)); err != nil && hasCanary(err.Error()) {
				t.Fatalf("ParseEncryptionKeys(%q): the error shows a key: %v", canaryParts(s), err)
			}
		}
		var parts []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if err != nil {
			if keys != nil {
				t.Fatalf("ParseEncryptionKeys(%q) returned keys and an error", s)
			}
			if len(parts) > 0 && !strings.HasPrefix(err.Error(), "key ") {
				t.Fatalf("ParseEncryptionKeys(%q) = %v: want an error that says which key", s, err)
			}
			return
		}
		if len(keys) == 0 || len(keys) != len(parts) {
			t.Fatalf("ParseEncryptionKeys(%q) = %d keys from %d parts", s, len(keys), len(parts))
		}
		var std []string
		for i, k := range keys {
			if len(k) != 32 {
				t.Fatalf("key %d has %d bytes", i+1, len(k))
			}
			if !fuzzDecodesTo(parts[i], k) {
				t.Fatalf("key %d is not the decoding of %q", i+1, parts[i])
			}
			std = append(std, base64.StdEncoding.EncodeToString(k))
		}
		if _, err := core.NewKeyring(keys); err != nil {
			t.Fatalf("accepted keys make no keyring: %v", err)
		}
		again, err := ParseEncryptionKeys(strings.Join(std, ","))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("round trip: %v, %v", again, err)
		}
		for i := range keys {
			if !bytes.Equal(again[i], keys[i]) {
				t.Fatalf("round trip changed key %d", i+1)
			}
		}
	})
}

func fuzzDecodesTo(part string, key []byte) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(part); err == nil && bytes.Equal(b, key) {
			return true
		}
	}
	return false
}

// TestFuzzTargetsListed keeps the Makefile's list of fuzz targets (make
// fuzz, make fuzz-ci) in step with the module's: every Fuzz function of
// every package must be listed as package:target.
func TestFuzzTargetsListed(t *testing.T) {
	src, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := 0
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		pkg := "./" + filepath.Dir(p)
		if pkg == "./." {
			pkg = "."
		}
		for _, m := range fuzzFunc.FindAllSubmatch(b, -1) {
			found++
			if want := pkg + ":" + string(m[1]); !bytes.Contains(src, []byte(want)) {
				t.Errorf("the Makefile's FUZZ_TARGETS do not list %s", want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 10 {
		t.Fatalf("found only %d fuzz targets; the walk is broken", found)
	}
}

// TestOpenNeverShowsPasswords: regressions found by FuzzOpenSecret. A
// password holding an unescaped '/', '?' or '#' (common in generated
// passwords) is not a password to url.Parse, which reads the rest as a
// path, query or fragment; and Open's own wrapper quoted the query as
// given, sentinel_password included. Neither Open's error nor RedactDSN
// may show any of these.
func TestOpenNeverShowsPasswords(t *testing.T) {
	fuzzOffline()
	for _, tc := range []struct{ dsn, secret string }{
		{"redis://:abc/defSecret1@127.0.0.1:1", "defSecret1"},
		{"redis://u:123/xSecret2@127.0.0.1:1", "xSecret2"},
		{"redis://:pa?ssSecret3@127.0.0.1:1", "ssSecret3"},
		{"redis://:pa#ssSecret4@127.0.0.1:1", "ssSecret4"},
		{"memcached://:p/ssSecret5@127.0.0.1:1", "ssSecret5"},
		{"redis://u:1?ssSecret6@127.0.0.1:1", "ssSecret6"},
		{"redis://127.0.0.1:1?master_set=m&sentinel_password=Secret7", "Secret7"},
		{"redis://127.0.0.1:1?sentinel_password=Secret8&bogus=1", "Secret8"},
		{"redis://127.0.0.1:bad?sentinel_password=Secret9", "Secret9"},
		{"memory://:p@ssSecret10@", "ssSecret10"},
		{"redis://:Zk7Qv@/ssSecret11@127.0.0.1:1", "ssSecret11"},
		{"redis://u:p@h#xSecret12@127.0.0.1:1", "xSecret12"},
		{"redis://u:p@h?a@Secret13=1@127.0.0.1:1", "Secret13"},
		{"redis://u:p/x@h?master_set=m&sentinel_password=ab@Secret14", "Secret14"},
		{"redis://u:p/x@h?sentinel_password=Secret15&a=b@h:1", "Secret15"},
		{"memcached://0:p@?=Secret16@0", "Secret16"},
		{"redis://0:?=Secret17@h", "Secret17"},
		{"redis:u:Secret18@h", "Secret18"},
		{"redis:/u:Secret19@h", "Secret19"},
		{"redis:///u:a/Secret20@h", "Secret20"},
		// Found by FuzzRedactDSN and by hand: option names decoded before
		// matching, the fragment, a DSN without a scheme, more names.
		{"postgres://app@db/app?p%61ssword=Secret21", "Secret21"},
		{"//u:Secret22@h/x", "Secret22"},
		{"memcached://h:1#Secret23", "Secret23"},
		{"redis://127.0.0.1:1?%74oken=Secret24", "Secret24"},
		{"memory://?client_secret=Secret25", "Secret25"},
		{"file:///srv?auth=Secret26&a@b", "Secret26"},
		{"memory://?X-Amz-Credential=Secret27", "Secret27"},
	} {
		if r := RedactDSN(tc.dsn); strings.Contains(r, tc.secret) {
			t.Errorf("RedactDSN(%q) = %q: shows the password", tc.dsn, r)
		}
		d, err := Open(tc.dsn)
		if err == nil {
			_ = d.Close(context.Background())
			t.Errorf("Open(%q) succeeded", tc.dsn)
			continue
		}
		if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("Open(%q): the error shows the password: %v", tc.dsn, err)
		}
	}
	// Every built-in scheme, every place of a secret: an unknown option
	// makes Open fail, and its error quotes the DSN.
	for _, scheme := range fuzzSchemes {
		for _, shape := range []string{"://u:Secret30@127.0.0.1:1?bogus=1", "://127.0.0.1:1?P%61ssWord=Secret30",
			"://127.0.0.1:1?bogus=1&Api_Key=Secret30", "://127.0.0.1:1?sig=Secret30;x=1", "://127.0.0.1:1?bogus=1#Secret30"} {
			dsn := scheme + shape
			if r := RedactDSN(dsn); strings.Contains(r, "Secret30") {
				t.Errorf("RedactDSN(%q) = %q: shows the secret", dsn, r)
			}
			d, err := Open(dsn)
			if err == nil {
				_ = d.Close(context.Background())
				t.Errorf("Open(%q) succeeded", dsn)
			} else if strings.Contains(err.Error(), "Secret30") {
				t.Errorf("Open(%q): the error shows the secret: %v", dsn, err)
			}
		}
	}
	// What must stay as it was: DSNs without a password are quoted whole.
	for _, dsn := range []string{"file:///srv/a@b/sessions?bogus=1", "file:///srv/a:b@c/sessions", "redis://127.0.0.1:1/0?bogus=1"} {
		if r := RedactDSN(dsn); r != dsn {
			t.Errorf("RedactDSN(%q) = %q; want it unchanged", dsn, r)
		}
	}
}

// TestConfigFromEnvNamesTheVariable: regressions found by
// FuzzConfigFromEnv. Every error names the variable and quotes the value
// (README: "A bad value is an error that names the variable and quotes the
// value"), and a cookie path or domain net/http would silently drop from
// the Set-Cookie header (a control byte in the path, a domain that is no
// host name) is an error, not a cookie that goes somewhere else.
func TestConfigFromEnvNamesTheVariable(t *testing.T) {
	for _, name := range fuzzEnvVars {
		t.Setenv(name, "")
	}
	for _, tc := range []struct{ name, value string }{
		{EnvCookieName, "bad name;"},
		{EnvPath, "relative"},
		{EnvPath, "/a\x01b"},
		{EnvDomain, "exa mple.com"},
		{EnvDomain, "my_app.example.com"},
		{EnvSameSite, "none"},
	} {
		t.Setenv(tc.name, tc.value)
		_, err := ConfigFromEnv()
		switch {
		case err == nil:
			t.Errorf("%s=%q was accepted; net/http would drop it from the cookie", tc.name, tc.value)
		case !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), strconv.Quote(tc.value)):
			t.Errorf("%s=%q: the error does not name the variable and quote the value: %v", tc.name, tc.value, err)
		}
		t.Setenv(tc.name, "")
	}
}
