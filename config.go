package sessions

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions/internal/core"
)

// Defaults applied by DefaultConfig, ConfigFromEnv and, for zero fields,
// NewManager.
const (
	DefaultLifetime   = 120 * time.Minute
	DefaultCookieName = "session"
	DefaultPath       = "/"

	// DefaultMaxRecordSize leaves room for a driver's header and a
	// memcached item's own overhead within memcached's default 1 MiB limit.
	DefaultMaxRecordSize = 1<<20 - 4<<10

	// DefaultMaxKeys bounds the number of values in one session.
	DefaultMaxKeys = 1024

	// DefaultMaxSessionsPerUser is how many sessions one user may hold at
	// once, on every driver, unless Config.MaxSessionsPerUser says
	// otherwise.
	DefaultMaxSessionsPerUser = 100

	// MaxSessionsPerUserLimit is the largest MaxSessionsPerUser accepted:
	// below MaxUserEntries, with room for logins in flight.
	MaxSessionsPerUserLimit = 1000
	// DefaultWatchInterval is how often Watch checks a watched session
	// (Config.WatchInterval), unless Lifetime/4 is shorter.
	DefaultWatchInterval = 10 * time.Second
)

// Config configures a Manager. Build one with DefaultConfig or
// ConfigFromEnv and change what you need, or write a literal: every
// field's zero value is its safe default (NewManager fills zero durations,
// strings, limits and SameSite with their defaults, and no boolean's zero
// turns a protection off), so Config{DSN: "redis://…"} gives an HttpOnly,
// SameSite=Lax cookie that is Secure on HTTPS requests.
type Config struct {
	// DSN picks the storage driver by URL scheme: memory://, file:///dir,
	// redis://host:6379/0, rediss://…, memcached://h1:11211,h2:11211, or
	// any scheme added with Register. Empty means memory://.
	DSN string

	// Driver, when set, is used instead of opening DSN: for applications
	// that build a driver from a client they already hold. The Manager
	// does not close a Driver it was given.
	Driver Driver

	// PreviousDSN names the backend sessions are moving away from. While
	// it is set, a session the current backend lacks is read from the
	// previous one, copied to the current one at once (keeping its exact
	// remaining lifetime and absolute deadline) and deleted from the
	// previous one; new sessions go only to the current backend; Refresh,
	// Destroy and revocation act on both. Keep it for one Lifetime after
	// the switch, then remove it. PreviousDriver, when set, is used
	// instead; the Manager does not close it.
	PreviousDSN    string
	PreviousDriver Driver

	// Lifetime is the idle timeout: a session not used for this long
	// expires. It slides: each use extends it (see TouchInterval). Zero
	// means DefaultLifetime (120 minutes).
	Lifetime time.Duration

	// AbsoluteLifetime caps a session's total age from its creation,
	// however active it is; Refresh keeps the creation time. Zero turns
	// the cap off.
	AbsoluteLifetime time.Duration

	// TouchInterval is how stale the idle deadline may get before a read-
	// only request extends it: an extension happens once less than
	// Lifetime-TouchInterval of the idle lifetime is left. Requests in
	// between do no store write at all. Zero means Lifetime/10, so the idle
	// timeout is honoured to within 10% and an active session costs at most
	// one extension per Lifetime/10. A negative value extends on every
	// request.
	//
	// It is also the slack of the cookie's expiry: a response carries the
	// session cookie when the session is new or gets a new ID, when a read
	// extends the deadline, and when a write moves the deadline more than
	// TouchInterval past the expiry the client's cookie was last sent
	// with; other responses carry no Set-Cookie.
	TouchInterval time.Duration

	// WatchInterval is how often a long-lived request's Watch checks that
	// its session still exists (and keeps it alive): a watched session
	// that ends anywhere ends its watch within about one WatchInterval.
	// Each check is one store read per watched session, however many
	// requests watch it. Zero means DefaultWatchInterval (10 seconds), or
	// Lifetime/4 when that is shorter; it must be shorter than Lifetime,
	// and negative is an error.
	WatchInterval time.Duration

	// CookieName is the session cookie's name. Zero means "session".
	CookieName string
	// Path is the cookie's Path attribute. Zero means "/".
	Path string
	// Domain is the cookie's Domain attribute; empty means host-only.
	Domain string
	// Secure marks the cookie Secure (sent over HTTPS only) on every
	// response. False, the zero value, still marks it Secure on each
	// response to a request that came over HTTPS: directly (TLS), or
	// through a proxy that says so (X-Forwarded-Proto: https, or
	// Forwarded: proto=https). Such a header can only add the attribute,
	// never remove it, so a forged one harms nobody but its sender. Set it
	// in production, so that no response ever sends the cookie without it.
	Secure bool
	// ScriptAccess lets JavaScript read the session cookie: it drops the
	// HttpOnly attribute. The zero value (false) keeps the cookie
	// HttpOnly, out of reach of an injected script. It replaces the
	// HTTPOnly field of earlier versions, whose zero value was the unsafe
	// one.
	ScriptAccess bool
	// SameSite is the cookie's SameSite attribute. Zero (http.SameSiteDefaultMode)
	// means Lax. SameSite None requires Secure.
	SameSite http.SameSite
	// ExpireOnClose makes the cookie a browser-session cookie (no
	// Max-Age): it is gone when the browser closes, while the server
	// still enforces Lifetime. RememberMe overrides it per session.
	ExpireOnClose bool
	// Partitioned adds the cookie's Partitioned attribute (CHIPS), for an
	// application embedded in other sites' iframes: browsers that phase
	// out third-party cookies keep a partitioned one, per top-level site.
	// It requires Secure.
	Partitioned bool

	// Header, when set, is the name of the request header that carries
	// the session token instead of the cookie, for API clients (as Spring
	// Session's X-Auth-Token): the Manager then never sets nor reads the
	// session cookie, and the cookie fields above are not used. The token
	// is the session ID (ID); a response that gives the client a new one (a
	// new session, Refresh) carries it in the same header, and a response
	// to Destroy carries the header empty. With "Authorization", requests
	// carry "Authorization: Bearer <token>" (any other scheme is no
	// session), and responses "Authorization: Bearer <token>" too. Empty
	// (the default) means the cookie. It must be a valid header name, and
	// not Cookie, Set-Cookie or a header net/http or proxies manage
	// (Host, Connection, Content-Length, …). See transport.go.
	Header string

	// MaxRecordSize is the largest encoded session, in bytes, that a save
	// may write; a save over it fails with a clear error and writes
	// nothing. Zero means 1 MiB less a little, which fits memcached's
	// default item limit; a negative value turns the limit off.
	MaxRecordSize int

	// EncryptionKeys turns on encryption at rest: every record is sealed
	// with AES-256-GCM under the first key (32 bytes), with the record's
	// store key as associated data; every key opens, so keys rotate without
	// logging anyone out. A record that does not open is an absent session.
	// Nil stores records in the clear (IDs are still only stored hashed).
	EncryptionKeys [][]byte

	// MaxKeys is the most values one session may hold; a change that would
	// exceed it fails like an encoding error (nothing is written). Zero
	// means DefaultMaxKeys; negative turns the limit off.
	MaxKeys int

	// MaxSessionsPerUser is the most sessions one user (SetUser) may hold
	// at once, on any driver with a per-user index, as Spring Session's
	// maximum sessions: the login that would exceed it ends the user's
	// least recently used sessions on the server (they are counted in
	// Stats.Revocations). The per-user index never forgets a live
	// session, so RevokeUser reaches every one, whatever the history of
	// logins. Zero means DefaultMaxSessionsPerUser (100); at most
	// MaxSessionsPerUserLimit (1000); negative turns the cap off, leaving
	// only the index's own bound (MaxUserEntries, on the drivers that have
	// one), past which a login fails with ErrUserIndexFull instead of
	// forgetting a session.
	MaxSessionsPerUser int

	// Codec encodes session values. Nil means JSONCodec.
	Codec Codec

	// ErrorHandler is called with every session error of a request: a
	// store that failed to load or save, a value that did not encode.
	// It is called after the error was added to c.Errors, and before the
	// middleware replaces a would-be success status with 500 when a save
	// failed. It reports; it should not write the response. Nil means the
	// error is logged through Logger.
	ErrorHandler func(c *gin.Context, err error)

	// Logger receives the Manager's events: its open and close (Info,
	// with the DSN redacted), records that do not decode and failed
	// touches (Warn), request errors (Error, when there is no
	// ErrorHandler) and save conflicts (Debug). No log line holds a
	// session ID, a store key or a value. Nil means slog.Default().
	Logger *slog.Logger

	// Observer, when set, is told of every logical store operation (load,
	// save, touch, refresh, destroy, revoke, move) with its duration and
	// outcome; see Observer and package otelsessions. Nil costs nothing.
	Observer Observer
}

// DefaultConfig returns the defaults: the memory driver, a 120-minute
// sliding lifetime, no absolute lifetime, cookie "session" on path "/",
// HttpOnly, SameSite=Lax, Secure on HTTPS requests (set Secure to mark it
// on every response), at most DefaultMaxSessionsPerUser sessions per user.
// A Config literal that leaves those fields zero gets the same.
func DefaultConfig() Config {
	return Config{
		Lifetime:           DefaultLifetime,
		CookieName:         DefaultCookieName,
		Path:               DefaultPath,
		SameSite:           http.SameSiteLaxMode,
		MaxSessionsPerUser: DefaultMaxSessionsPerUser,
	}
}

// Environment variables read by ConfigFromEnv.
const (
	EnvDSN              = "SESSION_DSN"
	EnvPreviousDSN      = "SESSION_DSN_PREVIOUS"
	EnvLifetime         = "SESSION_LIFETIME"
	EnvAbsoluteLifetime = "SESSION_ABSOLUTE_LIFETIME"
	EnvCookieName       = "SESSION_COOKIE_NAME"
	EnvPath             = "SESSION_PATH"
	EnvDomain           = "SESSION_DOMAIN"
	EnvSecure           = "SESSION_SECURE_COOKIE"
	EnvHTTPOnly         = "SESSION_HTTP_ONLY"
	EnvSameSite         = "SESSION_SAME_SITE"
	EnvExpireOnClose    = "SESSION_EXPIRE_ON_CLOSE"
	EnvPartitioned      = "SESSION_PARTITIONED"
	EnvEncryptionKeys   = "SESSION_ENCRYPTION_KEYS"
	EnvMaxPerUser       = "SESSION_MAX_PER_USER"
	EnvHeader           = "SESSION_HEADER"
	EnvWatchInterval    = "SESSION_WATCH_INTERVAL"
)

// ConfigFromEnv returns DefaultConfig with every variable that is set (and
// non-empty) applied:
//
//	SESSION_DSN                driver URL (empty: memory://)
//	SESSION_DSN_PREVIOUS       the backend sessions are moving away from (see Config.PreviousDSN)
//	SESSION_LIFETIME           idle lifetime: a Go duration ("90m") or whole minutes ("90")
//	SESSION_ABSOLUTE_LIFETIME  absolute lifetime, same forms; 0 turns it off
//	SESSION_COOKIE_NAME        cookie name
//	SESSION_PATH               cookie path
//	SESSION_DOMAIN             cookie domain
//	SESSION_SECURE_COOKIE      true/false (also 1/0); false: Secure on HTTPS requests only
//	SESSION_HTTP_ONLY          true/false; false sets ScriptAccess
//	SESSION_SAME_SITE          lax, strict or none
//	SESSION_EXPIRE_ON_CLOSE    true/false
//	SESSION_PARTITIONED        true/false; requires SESSION_SECURE_COOKIE=true
//	SESSION_ENCRYPTION_KEYS    comma-separated base64 32-byte keys; the first encrypts, all decrypt
//	SESSION_MAX_PER_USER       sessions one user may hold (an integer; 0: the default, 100; negative: no cap)
//	SESSION_HEADER             the request header that carries the token instead of the cookie (see Config.Header)
//	SESSION_WATCH_INTERVAL     how often Watch checks a session: a Go duration ("10s"), positive
//
// A bad value is an error that names the variable and quotes the value
// (the DSN with its password masked). The result is validated as
// NewManager would validate it.
func ConfigFromEnv() (Config, error) {
	cfg := DefaultConfig()
	var err error
	env := func(name string) (string, bool) {
		v, ok := os.LookupEnv(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	cfg.DSN, _ = env(EnvDSN)
	cfg.PreviousDSN, _ = env(EnvPreviousDSN)
	if v, ok := env(EnvLifetime); ok {
		if cfg.Lifetime, err = parseLifetime(EnvLifetime, v); err != nil {
			return Config{}, err
		}
		if cfg.Lifetime == 0 {
			return Config{}, fmt.Errorf("sessions: %s=%q: the idle lifetime must be positive", EnvLifetime, v)
		}
	}
	if v, ok := env(EnvAbsoluteLifetime); ok {
		if cfg.AbsoluteLifetime, err = parseLifetime(EnvAbsoluteLifetime, v); err != nil {
			return Config{}, err
		}
	}
	if v, ok := env(EnvWatchInterval); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return Config{}, fmt.Errorf("sessions: %s=%q: want a duration such as 10s or 1m", EnvWatchInterval, v)
		}
		if d <= 0 {
			return Config{}, fmt.Errorf("sessions: %s=%q: the watch interval must be positive", EnvWatchInterval, v)
		}
		if d >= cfg.Lifetime {
			return Config{}, fmt.Errorf("sessions: %s=%q: the watch interval must be shorter than the idle lifetime (%v)", EnvWatchInterval, v, cfg.Lifetime)
		}
		cfg.WatchInterval = d
	}
	for _, s := range []struct {
		name  string
		dst   *string
		check func(string) error
	}{{EnvCookieName, &cfg.CookieName, checkCookieName}, {EnvPath, &cfg.Path, checkCookiePath}, {EnvDomain, &cfg.Domain, checkCookieDomain}} {
		if v, ok := env(s.name); ok {
			if err := s.check(v); err != nil {
				return Config{}, fmt.Errorf("sessions: %s: %w", s.name, err)
			}
			*s.dst = v
		}
	}
	httpOnly := true
	for _, b := range []struct {
		name string
		dst  *bool
	}{{EnvSecure, &cfg.Secure}, {EnvHTTPOnly, &httpOnly}, {EnvExpireOnClose, &cfg.ExpireOnClose}, {EnvPartitioned, &cfg.Partitioned}} {
		if v, ok := env(b.name); ok {
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return Config{}, fmt.Errorf("sessions: %s=%q: want true or false", b.name, v)
			}
		}
	}
	cfg.ScriptAccess = !httpOnly
	if v, ok := env(EnvMaxPerUser); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("sessions: %s=%q: want a whole number (0: the default of %d; negative: no cap)", EnvMaxPerUser, v, DefaultMaxSessionsPerUser)
		}
		cfg.MaxSessionsPerUser = n
	}
	if v, ok := env(EnvSameSite); ok {
		if cfg.SameSite, err = parseSameSite(v); err != nil {
			return Config{}, fmt.Errorf("sessions: %s=%q: %w", EnvSameSite, v, err)
		}
	}
	if v, _ := env(EnvSameSite); cfg.SameSite == http.SameSiteNoneMode && !cfg.Secure {
		return Config{}, fmt.Errorf("sessions: %s=%q: SameSite=None requires a Secure cookie (set %s=true): browsers reject it otherwise", EnvSameSite, v, EnvSecure)
	}
	if v, _ := env(EnvPartitioned); cfg.Partitioned && !cfg.Secure {
		return Config{}, fmt.Errorf("sessions: %s=%q: a Partitioned cookie requires a Secure one (set %s=true)", EnvPartitioned, v, EnvSecure)
	}
	if v, ok := env(EnvEncryptionKeys); ok {
		if cfg.EncryptionKeys, err = ParseEncryptionKeys(v); err != nil {
			// Never quote the value: it is a secret.
			return Config{}, fmt.Errorf("sessions: %s: %w", EnvEncryptionKeys, err)
		}
	}
	if v, ok := env(EnvHeader); ok {
		if err := checkHeaderName(v); err != nil {
			return Config{}, fmt.Errorf("sessions: %s=%q: %w", EnvHeader, v, err)
		}
		cfg.Header = v
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// parseLifetime accepts a Go duration or a whole number of minutes.
func parseLifetime(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > int64(100*365*24*60) {
			return 0, fmt.Errorf("sessions: %s=%q: minutes out of range", name, v)
		}
		return time.Duration(n) * time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("sessions: %s=%q: want a duration such as 90m or 2h, or whole minutes", name, v)
	}
	if d < 0 {
		return 0, fmt.Errorf("sessions: %s=%q: must not be negative", name, v)
	}
	return d, nil
}

func parseSameSite(v string) (http.SameSite, error) {
	switch strings.ToLower(v) {
	case "lax":
		return http.SameSiteLaxMode, nil
	case "strict":
		return http.SameSiteStrictMode, nil
	case "none":
		return http.SameSiteNoneMode, nil
	}
	return 0, fmt.Errorf("want lax, strict or none")
}

// withDefaults fills zero fields with their defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if cfg.SameSite == 0 || cfg.SameSite == http.SameSiteDefaultMode {
		cfg.SameSite = http.SameSiteLaxMode
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = cfg.Lifetime / 10
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = min(DefaultWatchInterval, cfg.Lifetime/4)
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	if cfg.MaxRecordSize == 0 {
		cfg.MaxRecordSize = DefaultMaxRecordSize
	}
	if cfg.MaxSessionsPerUser == 0 {
		cfg.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if cfg.Codec == nil {
		cfg.Codec = JSONCodec{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// validate checks a Config after defaults are applied.
func (cfg Config) validate() error {
	if cfg.Lifetime < 0 {
		return fmt.Errorf("sessions: Lifetime %v must be positive", cfg.Lifetime)
	}
	if cfg.AbsoluteLifetime < 0 {
		return fmt.Errorf("sessions: AbsoluteLifetime %v must not be negative", cfg.AbsoluteLifetime)
	}
	if cfg.WatchInterval < 0 {
		return fmt.Errorf("sessions: WatchInterval %v must not be negative", cfg.WatchInterval)
	}
	if cfg.WatchInterval > 0 && cfg.WatchInterval >= cfg.Lifetime {
		return fmt.Errorf("sessions: WatchInterval %v must be shorter than Lifetime %v: a watched session could expire between two checks", cfg.WatchInterval, cfg.Lifetime)
	}
	if cfg.CookieName != "" {
		if err := checkCookieName(cfg.CookieName); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if cfg.Path != "" {
		if err := checkCookiePath(cfg.Path); err != nil {
			return fmt.Errorf("sessions: %w", err)
		}
	}
	if err := checkCookieDomain(cfg.Domain); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	if cfg.SameSite == http.SameSiteNoneMode && !cfg.Secure {
		return fmt.Errorf("sessions: SameSite=None requires a Secure cookie (set %s=true): browsers reject it otherwise", EnvSecure)
	}
	if cfg.Partitioned && !cfg.Secure {
		return fmt.Errorf("sessions: a Partitioned cookie (%s) requires a Secure one (%s=true)", EnvPartitioned, EnvSecure)
	}
	if cfg.MaxSessionsPerUser > MaxSessionsPerUserLimit {
		return fmt.Errorf("sessions: MaxSessionsPerUser %d (%s) is over %d: a user's index holds at most %d sessions (MaxUserEntries), and logins in flight need room above the cap",
			cfg.MaxSessionsPerUser, EnvMaxPerUser, MaxSessionsPerUserLimit, MaxUserEntries)
	}
	if cfg.Header != "" {
		if err := checkHeaderName(cfg.Header); err != nil {
			return fmt.Errorf("sessions: Header (%s) %q: %w", EnvHeader, cfg.Header, err)
		}
	}
	return nil
}

// checkHeaderName accepts a header name that can carry the session token:
// an RFC 9110 token (the grammar of a cookie name), other than the
// cookie's own headers and the headers net/http or a proxy manage, which
// would never reach the handler as sent.
func checkHeaderName(h string) error {
	if !validCookieName(h) {
		return fmt.Errorf("not a valid header name (letters, digits and !#$%%&'*+-.^_`|~ only)")
	}
	switch http.CanonicalHeaderKey(h) {
	case "Cookie", "Set-Cookie":
		return fmt.Errorf("the cookie's own header cannot carry the token: leave it empty to use the cookie")
	case "Host", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade",
		"Content-Length", "Content-Type", "Content-Encoding", "Proxy-Authorization":
		return fmt.Errorf("net/http or a proxy manages that header: choose another, such as X-Auth-Token")
	}
	return nil
}

// checkCookieName, checkCookiePath and checkCookieDomain accept exactly
// what net/http sends unchanged in a Set-Cookie header (http.Cookie.Valid):
// anything else net/http would drop with a log line, silently changing
// where the cookie goes.
func checkCookieName(s string) error {
	if !validCookieName(s) {
		return fmt.Errorf("cookie name %q is not a valid cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", s)
	}
	return nil
}

func checkCookiePath(p string) error {
	if !strings.HasPrefix(p, "/") || (&http.Cookie{Name: "x", Path: p}).Valid() != nil {
		return fmt.Errorf("cookie path %q must start with / and hold only printable ASCII characters other than ';'", p)
	}
	return nil
}

func checkCookieDomain(d string) error {
	if d != "" && (&http.Cookie{Name: "x", Domain: d}).Valid() != nil {
		return fmt.Errorf("cookie domain %q is not a host name (example.com or .example.com) or an IPv4 address", d)
	}
	return nil
}

// validCookieName reports whether s is an RFC 6265 token.
func validCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

// ParseEncryptionKeys parses SESSION_ENCRYPTION_KEYS: comma-separated
// base64 (standard or URL alphabet, padded or not) keys of 32 bytes each,
// for Config.EncryptionKeys. The first key encrypts; all decrypt. Its
// errors name the key by position, never quote it.
func ParseEncryptionKeys(s string) ([][]byte, error) { return core.ParseEncryptionKeys(s) }
