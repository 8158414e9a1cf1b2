package sessions

import (
	"bytes"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	r := record{created: time.UnixMilli(1700000000123), meta: recordMeta{user: "u-1", ip: "192.0.2.1", userAgent: "curl/8", indexedUntil: time.UnixMilli(1700000100000)}, values: valuesOf(map[string][]byte{
		"n": []byte("42"), "": []byte(`""`), "bin": {0, 1, 2, 255}, "empty": {},
	})}
	b := encodeRecord(r)
	got, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.created.Equal(r.created) || got.meta != r.meta || len(got.values) != len(r.values) {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
	if !got.values.equal(r.values) {
		t.Errorf("values: got %q want %q", got.values, r.values)
	}
	if !bytes.Equal(b, encodeRecord(got)) {
		t.Error("encoding is not deterministic")
	}
}

func TestRecordRejectsDamage(t *testing.T) {
	good := encodeRecord(record{created: time.Now(), values: valuesOf(map[string][]byte{"a": []byte("1"), "bb": []byte("22")})})
	for i := 0; i < len(good); i++ {
		if _, err := decodeRecord(good[:i]); err == nil {
			t.Errorf("a record truncated to %d of %d bytes decoded", i, len(good))
		}
	}
	bad := [][]byte{
		nil, {0x02}, append(bytes.Clone(good), 0),
		{recordV1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},      // a huge count
		{recordV1, 0, 2, 1, 'a', 1, '1', 1, 'a', 1, '2'}, // duplicate key
	}
	for _, b := range bad {
		if _, err := decodeRecord(b); err == nil {
			t.Errorf("decodeRecord(%x) succeeded", b)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(record{created: time.Now(), values: valuesOf(map[string][]byte{"a": []byte("1")})}))
	f.Add([]byte{recordV1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: the format has
		// one canonical form, so nothing decodes "almost".
		if again := encodeRecord(r); !bytes.Equal(again, b) {
			// Varint encodings may be non-minimal in the input; decode
			// the re-encoding and compare the values instead.
			r2, err := decodeRecord(again)
			if err != nil || len(r2.values) != len(r.values) || !r2.created.Equal(r.created) || r2.meta != r.meta {
				t.Fatalf("re-encoding changed the record: %x -> %x", b, again)
			}
		}
	})
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := newID()
		if !validID(id) {
			t.Fatalf("newID produced %q, which validID rejects", id)
		}
		if seen[id] {
			t.Fatal("duplicate ID")
		}
		seen[id] = true
		if k := storeKey(id); k == id || len(k) != 43 || !validID(k) {
			t.Fatalf("storeKey(%q) = %q", id, k)
		}
	}
	id := newID()
	for _, bad := range []string{"", id[:42], id + "A", id[:42] + "=", id[:42] + "/", id[:42] + "+", id[:42] + ".",
		"../" + id[3:], id[:20] + "\x00" + id[21:], id[:42] + "B" /* non-canonical last char */} {
		if validID(bad) {
			t.Errorf("validID(%q) = true", bad)
		}
	}
}

func FuzzValidID(f *testing.F) {
	f.Add(newID())
	f.Add("../../etc/passwd")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !validID(s) {
			return
		}
		// Anything accepted is exactly what newID could have produced:
		// 43 URL-safe characters that decode to 32 bytes canonically.
		if len(s) != 43 || storeKey(s) == s {
			t.Fatalf("validID accepted %q", s)
		}
		if b, err := b64strict.DecodeString(s); err != nil || len(b) != 32 {
			t.Fatalf("validID accepted %q, which does not decode to 32 bytes: %v", s, err)
		}
	})
}

// TestRecordV1StillReads: records written before the cookie expiry was
// kept (format 1) load, with the expiry unknown, so the next save sends
// the cookie.
func TestRecordV1StillReads(t *testing.T) {
	v1 := []byte{recordV1, 0x80, 0x01, 1, 'u', 0, 0, 0, 1, 1, 'a', 1, '1'}
	r, err := decodeRecord(v1)
	if err != nil {
		t.Fatal(err)
	}
	if r.created.UnixMilli() != 64 || r.meta.user != "u" || !r.meta.cookieUntil.IsZero() {
		t.Fatalf("decoded %+v", r)
	}
	if got, _ := r.values.get("a"); string(got) != "1" {
		t.Fatalf("value a = %q", got)
	}
	if b := encodeRecord(r); b[0] != recordV2 {
		t.Fatalf("re-encoded as format %d", b[0])
	}
}
