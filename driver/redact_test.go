package driver_test

import (
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ginkit/sessions/driver"
)

// TestRedactDSN pins what RedactDSN masks (the userinfo password, every
// option whose decoded name holds a secret word, the fragment) and that
// it leaves everything else as written.
func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// The user information.
		{"redis://u:pw@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://u:p%zzw@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://u:@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://us%65r:pw@h:1/0", "redis://us%65r:xxxxx@h:1/0"},
		{"redis://u:pw@h:1/%zz?x=1", "redis://u:xxxxx@h:1/%zz?x=1"},
		{"redis://tokenonly@h bad:1/0", "redis://xxxxx@h bad:1/0"},
		{"redis://u:pa/ss@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://u:pa?ss@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://u:pa#ss@h:1/0", "redis://u:xxxxx@h:1/0"},
		{"redis://u:p@ss@h:1", "redis://u:xxxxx@h:1"},
		{"redis://:ab@/cd@h:1", "redis://:xxxxx@h:1"},
		{"redis:u:S3cret@h", "redis:xxxxx@h"},
		{"//u:S3cret@h/x", "//u:xxxxx@h/x"},
		{"postgres://app:S3CRET@db/app?sslmode=disable", "postgres://app:xxxxx@db/app?sslmode=disable"},
		// Options named for a secret, however the name is written.
		{"postgres://app@db/app?p%61ssword=S3CRET", "postgres://app@db/app?p%61ssword=xxxxx"},
		{"postgres://app@db/app?p%2561ssword=S3CRET", "postgres://app@db/app?p%2561ssword=xxxxx"},
		{"postgres://app@db/app?PASSWORD=S3CRET&sslmode=disable", "postgres://app@db/app?PASSWORD=xxxxx&sslmode=disable"},
		{"sqlserver://db?Pwd=S3CRET", "sqlserver://db?Pwd=xxxxx"},
		{"postgres://db/app?sslpassword=S3CRET", "postgres://db/app?sslpassword=xxxxx"},
		{"redis://h:1?master_set=m&sentinel_password=hunter2&addr=h2:1", "redis://h:1?master_set=m&sentinel_password=xxxxx&addr=h2:1"},
		{"mine://h?token=T0K3N", "mine://h?token=xxxxx"},
		{"mine://h?auth=A1&x=1", "mine://h?auth=xxxxx&x=1"},
		{"mine://h?sig=S1G", "mine://h?sig=xxxxx"},
		{"mine://h?client_secret=CS1", "mine://h?client_secret=xxxxx"},
		{"mine://h?api_key=AK1", "mine://h?api_key=xxxxx"},
		{"mine://h?credential=CR1", "mine://h?credential=xxxxx"},
		{"s3://bucket/p?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12&X-Amz-Date=1", "s3://bucket/p?X-Amz-Credential=xxxxx&X-Amz-Signature=xxxxx&X-Amz-Date=1"},
		{"mine://h?%74oken=T1", "mine://h?%74oken=xxxxx"},
		{"mine://h?a=1;token=T1;b=2", "mine://h?a=1;token=xxxxx;b=2"},
		{"mine://h?Api+Key=K1", "mine://h?Api+Key=xxxxx"},
		{"mine://h?password=", "mine://h?password=xxxxx"},
		{"mine://h?password", "mine://h?password"},
		// The fragment, whole.
		{"mine://h#password=S3CRET", "mine://h#xxxxx"},
		{"mine://h?a=1#T0K3N", "mine://h?a=1#xxxxx"},
		{"mine://h?password=a#b", "mine://h?password=xxxxx#xxxxx"},
		{"file:///srv/a#frag@b", "file:///srv/a#xxxxx"},
		{"redis://u:p@h#xS3cret@127.0.0.1:1#more", "redis://u:xxxxx@127.0.0.1:1#xxxxx"},
		{"mine://h#", "mine://h#"},
		// An "@" inside the value of a secret option.
		{"redis://u:p/x@h?master_set=m&sentinel_password=ab@S3cret", "redis://u:xxxxx"},
		{"file:///srv?token=S3cret&a@b", "file:///srv?token=xxxxx&a@b"},
		{"file:///srv?a=1&token=S3cret@b&c=1", "file:///srv?a=1&token=xxxxx&c=1"},
		// No secret: unchanged.
		{"memory://", "memory://"},
		{"redis://h:1/0", "redis://h:1/0"},
		{"redis://user@h:1/0", "redis://user@h:1/0"},
		{"memcached://a:1,b:2", "memcached://a:1,b:2"},
		{"file:///srv/a@b/sessions?sync=true", "file:///srv/a@b/sessions?sync=true"},
		{"file:///srv/a:b@c/sessions", "file:///srv/a:b@c/sessions"},
		{"redis://h?keep_alive=1s&prefix=s%3A&db=0", "redis://h?keep_alive=1s&prefix=s%3A&db=0"},
		{"not a dsn", "not a dsn"},
		{"", ""},
	} {
		if got := driver.RedactDSN(tc.in); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestDSNSecrets: the list scrubbers use holds every secret RedactDSN
// masks, as written and decoded, and nothing for a DSN without secrets.
func TestDSNSecrets(t *testing.T) {
	got := driver.DSNSecrets("redis://u:p%2Fw@h:1/0?sentinel_password=a%2Bb&Tok%65n=t+1#fr%41g")
	for _, want := range []string{"p%2Fw", "p/w", "a%2Bb", "a+b", "t+1", "t 1", "fr%41g", "frAg"} {
		if !slices.Contains(got, want) {
			t.Errorf("DSNSecrets lacks %q: %q", want, got)
		}
	}
	for _, s := range got {
		if s == "" || strings.Contains(s, "redis") || strings.Contains(s, "h:1") {
			t.Errorf("DSNSecrets returned %q, which is no secret: %q", s, got)
		}
	}
	for i := 1; i < len(got); i++ {
		if len(got[i]) > len(got[i-1]) {
			t.Errorf("DSNSecrets is not longest first: %q", got)
		}
	}
	if got := driver.DSNSecrets("redis://user@h:1/0?db=1"); len(got) != 0 {
		t.Errorf("DSNSecrets of a DSN without secrets = %q", got)
	}
}

func TestStrayAt(t *testing.T) {
	for dsn, want := range map[string]bool{
		"redis://:ab@/cd@host":       true,
		"redis://u:1?ss@h":           true,
		"redis:///user:pa/ss@host":   true,
		"redis://u:p@h:1/0":          false,
		"file:///srv/a@b":            false,
		"file:///srv/a:b@c/sessions": false,
	} {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := driver.StrayAt(u); got != want {
			t.Errorf("StrayAt(%q) = %v; want %v", dsn, got, want)
		}
	}
}

// TestScrubError: a library error quoting a secret loses it, keeps its
// identity for errors.Is, and an error without one comes back as it was.
func TestScrubError(t *testing.T) {
	base := &url.Error{Op: "dial", URL: "redis://u:s3cr3t!@h", Err: net.ErrClosed}
	err := driver.ScrubError(base, "s3cr3t!", "")
	if strings.Contains(err.Error(), "s3cr3t") || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ScrubError = %v", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatal("the scrubbed error no longer unwraps to the library's")
	}
	if driver.ScrubError(net.ErrClosed, "other") != net.ErrClosed || driver.ScrubError(nil, "x") != nil {
		t.Fatal("ScrubError changed an error without secrets")
	}
}
