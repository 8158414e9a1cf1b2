package driver

import (
	"net/url"
	"slices"
	"strings"
)

// mask is what RedactDSN writes in place of each secret.
const mask = "xxxxx"

// secretWords are the words that make a query option a secret: an option
// whose name, percent-decoded and lower-cased, contains one of them has
// its value masked (sentinel_password, sslpassword, pwd, client_secret,
// token, api_key, auth, sig, X-Amz-Credential, ...).
var secretWords = []string{"pass", "pwd", "secret", "token", "key", "auth", "sig", "credential"}

// RedactDSN returns dsn with every secret replaced by "xxxxx". It is the
// one redaction of DSNs in the module: sessions.RedactDSN, the drivers'
// errors, the manager's log lines and sessionctl all use it. It masks
//
//   - the password of the user information, also when it holds an
//     unescaped '/', '?', '#' or '@' that makes url.Parse misread the DSN
//     (the user name of a DSN that does not parse is masked too: it may be
//     a token);
//   - the value of every query option whose name, percent-decoded (as
//     often as it decodes) and lower-cased, contains pass, pwd, secret,
//     token, key, auth, sig or credential; options are separated by '&'
//     or ';';
//   - the whole fragment: anything after the first '#' that is not part
//     of a masked secret becomes "#xxxxx".
//
// It works on strings that do not parse as URLs too, so an error about a
// malformed DSN can quote it safely. A DSN without such secrets comes back
// unchanged; the rest of a DSN is kept as written (a scheme:// keeps its
// two slashes).
func RedactDSN(dsn string) string {
	spans := secretSpans(dsn)
	if len(spans) == 0 {
		return dsn
	}
	var b strings.Builder
	b.Grow(len(dsn))
	last := 0
	for _, s := range spans {
		b.WriteString(dsn[last:s.start])
		b.WriteString(mask)
		last = s.end
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// DSNSecrets returns the secrets RedactDSN masks in dsn, as written in it
// and percent-decoded (as a path and as a query value), without empty
// strings or repeats, longest first. It is for scrubbing text that may
// quote a secret some other way than in the DSN (a library's error, a
// program's output): every string it returns is to be masked wherever it
// appears, in the order given, so that masking a short secret never
// breaks up a longer one that holds it.
func DSNSecrets(dsn string) []string {
	var out []string
	add := func(s string) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range secretSpans(dsn) {
		raw := dsn[s.start:s.end]
		add(raw)
		if p, err := url.PathUnescape(raw); err == nil {
			add(p)
		}
		if q, err := url.QueryUnescape(raw); err == nil {
			add(q)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// StrayAt reports whether url.Parse left an "@" outside the user
// information of u: in an opaque part, the query or the fragment, or in a
// path that follows a host or user information or whose first segment
// holds a ':' ("redis:///user:pa/ss@host").
//
// That is the sign of a password holding an unescaped '/', '?' or '#',
// which url.Parse takes for the start of the path, query or fragment, so
// that the rest of the password would show as part of the host, path or
// query; or of a DSN missing its "//", whose user information url.Parse
// reads as a path. User information url.Parse did find is no proof
// against it: in "redis://:ab@/cd@host" the password is "ab@/cd", not
// "ab". Only a path of its own may hold an "@" (file:///srv/a@b,
// file:///srv/a:b@c). sessions.Open refuses such DSNs.
func StrayAt(u *url.URL) bool {
	if strings.Contains(u.Opaque, "@") || strings.Contains(u.RawQuery, "@") || strings.Contains(u.EscapedFragment(), "@") {
		return true
	}
	p := u.EscapedPath()
	if !strings.Contains(p, "@") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return u.Host != "" || u.User != nil || strings.Contains(first, ":")
}

// span is the byte range [start, end) of a secret in a DSN.
type span struct{ start, end int }

// secretSpans returns where the secrets of dsn are, sorted and merged:
// RedactDSN replaces each range, DSNSecrets returns their text.
func secretSpans(dsn string) []span {
	var spans []span
	add := func(start, end int) { spans = append(spans, span{start, end}) }
	off := 0 // where the part after the scheme starts
	if i := strings.IndexByte(dsn, ':'); i >= 0 && strings.HasPrefix(dsn[i:], "://") {
		off = i + 3 // the scheme's, not a "://" further on
	}
	if parsed, err := url.Parse(dsn); err == nil && !StrayAt(parsed) {
		// A DSN that parses has its user information where the URL says
		// (an "@" in a file path or an option value is not one): in the
		// authority, which starts after the first "//" and ends at the
		// first '/', '?' or '#', up to its last "@".
		if parsed.User != nil {
			if _, has := parsed.User.Password(); has {
				start := strings.Index(dsn, "//") + 2
				authority := dsn[start:]
				if end := strings.IndexAny(authority, "/?#"); end >= 0 {
					authority = authority[:end]
				}
				userinfo := authority[:strings.LastIndex(authority, "@")]
				add(start+strings.IndexByte(userinfo, ':')+1, start+len(userinfo))
			}
		}
		if q := strings.IndexAny(dsn, "?#"); q >= 0 {
			spans = optionSpans(spans, dsn, q)
		}
		return fragment(merge(spans), dsn, off)
	}
	// Unparseable, or an "@" url.Parse did not take as the end of the user
	// information (a password holding '/', '?' or '#'): mask whatever
	// stands between "user:" and the last "@" of the whole rest, then the
	// secret options after it. When that "@" may itself sit inside the
	// value of a secret option (sentinel_password=a@b), the text after it
	// up to the next option is masked too.
	at := strings.LastIndex(dsn[off:], "@")
	if at < 0 {
		if q := strings.IndexAny(dsn[off:], "?#"); q >= 0 {
			spans = optionSpans(spans, dsn, off+q)
		}
		return fragment(merge(spans), dsn, off)
	}
	at += off
	if q := strings.IndexAny(dsn[off:], "?#"); q >= 0 && off+q < at {
		// The query may start before that "@" (file:///srv?token=T&a@b).
		spans = optionSpans(spans, dsn, off+q)
	}
	if q := strings.IndexAny(dsn[at+1:], "?&;#"); q >= 0 { // '&', ';': that "@" was in an option
		spans = optionSpans(spans, dsn, at+1+q)
	}
	userinfo := dsn[off:at]
	if name, _, hasValue := strings.Cut(userinfo[strings.LastIndexAny(userinfo, "?&;")+1:], "="); hasValue && secretName(name) {
		end := len(dsn)
		if e := strings.IndexAny(dsn[at+1:], "&;#"); e >= 0 {
			end = at + 1 + e
		}
		add(at+1, end)
	}
	if c := strings.IndexByte(userinfo, ':'); c >= 0 {
		add(off+c+1, at)
	} else if !strings.HasPrefix(userinfo, "/") { // a leading '/' is a path: file:///srv/a@b
		add(off, at) // unparseable: the lone name may be a token
	}
	return fragment(merge(spans), dsn, off)
}

// optionSpans adds the values of the secret options of the query that
// starts at dsn[from] ('?', or '&' or ';' after a stray "@") and ends at
// the next '#'. A '#' at dsn[from] starts no query.
func optionSpans(spans []span, dsn string, from int) []span {
	if dsn[from] == '#' {
		return spans
	}
	end := len(dsn)
	if h := strings.IndexByte(dsn[from:], '#'); h >= 0 {
		end = from + h
	}
	pos := from + 1
	for pos <= end {
		next := end
		if s := strings.IndexAny(dsn[pos:end], "&;"); s >= 0 {
			next = pos + s
		}
		if name, _, hasValue := strings.Cut(dsn[pos:next], "="); hasValue && secretName(name) {
			spans = append(spans, span{pos + len(name) + 1, next})
		}
		pos = next + 1
	}
	return spans
}

// fragment adds to the merged spans the fragment of dsn: everything after
// the first '#' at or after off that no span covers, if anything.
func fragment(spans []span, dsn string, off int) []span {
	for pos := off; pos < len(dsn); {
		h := strings.IndexByte(dsn[pos:], '#')
		if h < 0 {
			return spans
		}
		h += pos
		covered := false
		for _, s := range spans {
			if s.start <= h && h < s.end {
				covered, pos = true, s.end
				break
			}
		}
		if covered {
			continue
		}
		if h+1 == len(dsn) {
			return spans // an empty fragment hides nothing
		}
		return merge(append(spans, span{h + 1, len(dsn)}))
	}
	return spans
}

// merge sorts spans and joins those that overlap or touch, so that each
// secret is masked once.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// secretName reports whether a query option of that name holds a secret:
// its name, lower-cased, contains one of secretWords, as written or after
// any number of rounds of percent-decoding (p%61ssword, p%2561ssword).
func secretName(name string) bool {
	for {
		lower := strings.ToLower(name)
		for _, w := range secretWords {
			if strings.Contains(lower, w) {
				return true
			}
		}
		decoded := unescapeLenient(name)
		if decoded == name {
			return false
		}
		name = decoded
	}
}

// unescapeLenient decodes the valid %XX escapes of s and its '+' (a
// space in a query), leaving malformed escapes as written: a driver that
// decodes option names its own way may still read the name.
func unescapeLenient(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// ScrubError returns err with every one of secrets (DSNSecrets of the DSN
// a driver was opened with) in its text replaced by "xxxxx": the last
// guard against a library error that quotes a password. The result
// unwraps to err, for errors.Is and errors.As; err comes back unchanged
// when its text holds none of them, and nil stays nil.
func ScrubError(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose text had a secret removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
