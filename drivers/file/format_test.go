package file

import (
	"bytes"
	"hash/crc32"
	"os"
	"testing"
	"time"
)

// setExpiry makes the record in the session file at path expire at when,
// as a save with that expiry would leave it: the newest slot's expiry is
// rewritten (with its checksum) and the file's time stamp set to match.
// Tests use it to expire a session without waiting.
func setExpiry(t *testing.T, path string, when time.Time) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st := decodeFile(buf, time.Time{})
	if st.half == 0 {
		t.Fatalf("setExpiry: %s holds no format 2 record", path)
	}
	off := st.half - st.next // the newest slot's offset
	encodeSlot(buf[off:], st.gen, st.version, when.UnixNano(), bytes.Clone(st.record))
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Time{}, when); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeFileNewestSlot checks the choice between the two slots: the
// valid one with the larger generation, the other when one is damaged, and
// nothing when both are.
func TestDecodeFileNewestSlot(t *testing.T) {
	const half = 512
	exp := time.Now().Add(time.Hour).UnixNano()
	file := func(gen0, gen1 uint64) []byte {
		buf := make([]byte, 2*half)
		if gen0 > 0 {
			encodeSlot(buf, gen0, 100+gen0, exp, []byte("zero"))
		}
		if gen1 > 0 {
			encodeSlot(buf[half:], gen1, 100+gen1, exp, []byte("one"))
		}
		return buf
	}
	for _, c := range []struct {
		name       string
		buf        []byte
		want       string
		next       int
		wantAbsent bool
	}{
		{"only slot 0", file(1, 0), "zero", half, false},
		{"slot 1 newer", file(1, 2), "one", 0, false},
		{"slot 0 newer", file(3, 2), "zero", half, false},
		{"slot 1 torn", func() []byte { b := file(3, 4); b[half+slotHeaderLen] ^= 1; return b }(), "zero", half, false},
		{"slot 0 torn", func() []byte { b := file(5, 4); b[slotHeaderLen+1] ^= 1; return b }(), "one", 0, false},
		{"both torn", func() []byte { b := file(5, 4); b[10] ^= 1; b[half+10] ^= 1; return b }(), "", 0, true},
		{"length past the slot", func() []byte { b := file(1, 0); b[33] = 0xff; return b }(), "", 0, true},
		{"odd size", file(1, 0)[:2*half-1], "", 0, true},
	} {
		st := decodeFile(c.buf, time.Time{})
		if c.wantAbsent {
			if st.record != nil {
				t.Errorf("%s: decoded %q; want no record", c.name, st.record)
			}
			continue
		}
		if string(st.record) != c.want || st.next != c.next || st.half != half || st.expires != exp {
			t.Errorf("%s: decoded %q next %d half %d; want %q next %d half %d", c.name, st.record, st.next, st.half, c.want, c.next, half)
		}
	}
}

// TestSaveRewritesInPlace checks the point of the two-slot format: saves of
// a record that fits its slot keep the file (same inode, same size), so no
// blocks are allocated or freed per save, and alternate between the slots;
// a record that outgrows its slot gets a new, larger file.
func TestSaveRewritesInPlace(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	key := "in-place"
	ver := saveVer(t, d, key, []byte("first"), 0)
	path := d.path(key)
	fi0, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi0.Size() != 2*slotAlign {
		t.Fatalf("new file of a 5-byte record is %d bytes; want two %d-byte slots", fi0.Size(), slotAlign)
	}
	for i := range 5 {
		rec := bytes.Repeat([]byte{'a' + byte(i)}, 100+i)
		ver = saveVer(t, d, key, rec, ver)
		fi, _ := os.Stat(path)
		if !os.SameFile(fi0, fi) || fi.Size() != fi0.Size() {
			t.Fatalf("save %d replaced or resized the file", i)
		}
		buf, _ := os.ReadFile(path)
		if st := decodeFile(buf, time.Time{}); !bytes.Equal(st.record, rec) || st.next != (i%2)*slotAlign {
			t.Fatalf("save %d: newest slot holds %q, next %d", i, st.record, st.next)
		}
		expectRecord(t, d, key, string(rec))
	}
	big := bytes.Repeat([]byte("b"), 3*slotAlign)
	mustSave(t, d, key, big, ver, time.Hour)
	fi, _ := os.Stat(path)
	if os.SameFile(fi0, fi) || fi.Size() != int64(2*slotSize(len(big))) {
		t.Fatalf("a record larger than its slot: file of %d bytes, same file %v; want a new file of two %d-byte slots", fi.Size(), os.SameFile(fi0, fi), slotSize(len(big)))
	}
	expectRecord(t, d, key, string(big))
}

// TestFormat1Files checks that files of the previous format are read (a
// folder shared with an older release, or left by one) and that the first
// save rewrites them in the current one.
func TestFormat1Files(t *testing.T) {
	d := newDriver(t, t.TempDir(), Options{SweepInterval: -1})
	key := "old-format"
	path := d.path(key)
	rec := []byte("an older release wrote this")
	buf := make([]byte, v1HeaderLen, v1HeaderLen+len(rec))
	copy(buf, magicV1[:])
	buf[11] = 7 // version 7
	buf = append(buf, rec...)
	sum := crc32.Update(crc32.Checksum(buf[4:12], crcTable), crcTable, rec)
	buf[12], buf[13], buf[14], buf[15] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
	if err := os.WriteFile(path, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond).Add(123)
	os.Chtimes(path, time.Time{}, exp)
	got, ver, gotExp, err := d.Load(bg, key)
	if err != nil || !bytes.Equal(got, rec) || ver != 7 || !gotExp.Equal(exp) {
		t.Fatalf("Load of a format 1 file = %q, %d, %v, %v", got, ver, gotExp, err)
	}
	if err := d.Touch(bg, key, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, _, e, _ := d.Load(bg, key); !e.After(exp) {
		t.Fatalf("Touch of a format 1 file left its expiry at %v", e)
	}
	mustSave(t, d, key, []byte("now format 2"), 7, time.Hour)
	b, _ := os.ReadFile(path)
	if [4]byte(b[:4]) != magic {
		t.Fatalf("the save left magic %q; want the current format", b[:4])
	}
	expectRecord(t, d, key, "now format 2")
	// A damaged format 1 file is absent.
	buf[20] ^= 1
	os.WriteFile(path, buf, 0o600)
	os.Chtimes(path, time.Time{}, exp)
	expectAbsent(t, d, key)
}

// saveVer saves rec under key at version and returns the new version.
func saveVer(t *testing.T, d *Driver, key string, rec []byte, version uint64) uint64 {
	t.Helper()
	mustSave(t, d, key, rec, version, time.Hour)
	_, v, _ := mustLoad(t, d, key)
	return v
}
