package core

import (
	"bytes"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Created: time.UnixMilli(1700000000123), Meta: Meta{User: "u-1", IP: "192.0.2.1", UserAgent: "curl/8", IndexedUntil: time.UnixMilli(1700000100000)}, Values: valuesOf(map[string][]byte{
		"n": []byte("42"), "": []byte(`""`), "bin": {0, 1, 2, 255}, "empty": {},
	})}
	b := EncodeRecord(r)
	got, err := DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(r.Created) || got.Meta != r.Meta || len(got.Values) != len(r.Values) {
		t.Fatalf("round trip: got %+v, want %+v", got, r)
	}
	if !got.Values.equal(r.Values) {
		t.Errorf("Values: got %q want %q", got.Values, r.Values)
	}
	if !bytes.Equal(b, EncodeRecord(got)) {
		t.Error("encoding is not deterministic")
	}
}

func TestRecordRejectsDamage(t *testing.T) {
	good := EncodeRecord(Record{Created: time.Now(), Values: valuesOf(map[string][]byte{"a": []byte("1"), "bb": []byte("22")})})
	for i := 0; i < len(good); i++ {
		if _, err := DecodeRecord(good[:i]); err == nil {
			t.Errorf("a record truncated to %d of %d bytes decoded", i, len(good))
		}
	}
	bad := [][]byte{
		nil, {0x02}, append(bytes.Clone(good), 0),
		{recordV1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},      // a huge count
		{recordV1, 0, 2, 1, 'a', 1, '1', 1, 'a', 1, '2'}, // duplicate key
	}
	for _, b := range bad {
		if _, err := DecodeRecord(b); err == nil {
			t.Errorf("DecodeRecord(%x) succeeded", b)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecord(Record{Created: time.Now(), Values: valuesOf(map[string][]byte{"a": []byte("1")})}))
	f.Add([]byte{recordV1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRecord(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes: the format has
		// one canonical form, so nothing decodes "almost".
		if again := EncodeRecord(r); !bytes.Equal(again, b) {
			// Varint encodings may be non-minimal in the input; decode
			// the re-encoding and compare the Values instead.
			r2, err := DecodeRecord(again)
			if err != nil || len(r2.Values) != len(r.Values) || !r2.Created.Equal(r.Created) || r2.Meta != r.Meta {
				t.Fatalf("re-encoding changed the record: %x -> %x", b, again)
			}
		}
	})
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID produced %q, which ValidID rejects", id)
		}
		if seen[id] {
			t.Fatal("duplicate ID")
		}
		seen[id] = true
		if k := StoreKey(id); k == id || len(k) != 43 || !ValidID(k) {
			t.Fatalf("StoreKey(%q) = %q", id, k)
		}
	}
	id := NewID()
	for _, bad := range []string{"", id[:42], id + "A", id[:42] + "=", id[:42] + "/", id[:42] + "+", id[:42] + ".",
		"../" + id[3:], id[:20] + "\x00" + id[21:], id[:42] + "B" /* non-canonical last char */} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func FuzzValidID(f *testing.F) {
	f.Add(NewID())
	f.Add("../../etc/passwd")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidID(s) {
			return
		}
		// Anything accepted is exactly what NewID could have produced:
		// 43 URL-safe characters that decode to 32 bytes canonically.
		if len(s) != 43 || StoreKey(s) == s {
			t.Fatalf("ValidID accepted %q", s)
		}
		if b, err := b64strict.DecodeString(s); err != nil || len(b) != 32 {
			t.Fatalf("ValidID accepted %q, which does not decode to 32 bytes: %v", s, err)
		}
	})
}

// TestRecordV1StillReads: records written before the cookie expiry was
// kept (format 1) load, with the expiry unknown, so the next save sends
// the cookie.
func TestRecordV1StillReads(t *testing.T) {
	v1 := []byte{recordV1, 0x80, 0x01, 1, 'u', 0, 0, 0, 1, 1, 'a', 1, '1'}
	r, err := DecodeRecord(v1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Created.UnixMilli() != 64 || r.Meta.User != "u" || !r.Meta.CookieUntil.IsZero() {
		t.Fatalf("decoded %+v", r)
	}
	if got, _ := r.Values.Get("a"); string(got) != "1" {
		t.Fatalf("value a = %q", got)
	}
	if b := EncodeRecord(r); b[0] != recordV3 {
		t.Fatalf("re-encoded as format %d", b[0])
	}
}

// TestRecordV2StillReads: records written before the cookie choice was
// kept (format 2) load with the choice left to the Config, and a
// persistence byte out of range is a damaged record.
func TestRecordV2StillReads(t *testing.T) {
	v2 := []byte{recordV2, 0x80, 0x01, 1, 'u', 0, 0, 0, 0x80, 0x01, 1, 1, 'a', 1, '1'}
	r, err := DecodeRecord(v2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Meta.User != "u" || r.Meta.CookieUntil.UnixMilli() != 64 || r.Meta.Persist != PersistDefault {
		t.Fatalf("decoded %+v", r)
	}
	r.Meta.Persist = PersistBrowser
	b := EncodeRecord(r)
	back, err := DecodeRecord(b)
	if err != nil || back.Meta.Persist != PersistBrowser {
		t.Fatalf("round trip of the cookie choice: %+v, %v", back.Meta, err)
	}
	i := bytes.Index(b, []byte{byte(PersistBrowser), 1, 1, 'a'})
	b[i] = 7
	if _, err := DecodeRecord(b); err == nil {
		t.Fatal("a cookie choice out of range decoded")
	}
}
