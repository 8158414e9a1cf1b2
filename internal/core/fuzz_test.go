package core

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ginkit/sessions/drivers/memory"
)

// warnCounter is a slog.Handler that counts records at Warn and above.
type warnCounter struct{ n atomic.Int64 }

func (w *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnCounter) Handle(context.Context, slog.Record) error    { w.n.Add(1); return nil }
func (w *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnCounter) WithGroup(string) slog.Handler                { return w }

// fuzzKey derives a fixed 32-byte test key.
func fuzzKey(name string) []byte {
	k := sha256.Sum256([]byte("ginkit/sessions fuzz key " + name))
	return k[:]
}

// FuzzStoredRecord attacks the stored record path with arbitrary bytes:
//
//   - the keyring: random bytes never open under any key (a forgery would
//     need the key); seal then open round-trips for any plaintext and any
//     associated data, under the sealing key and after a rotation; a
//     retired key, other associated data (the record copied under another
//     session's key) or any changed byte makes it fail, never panic;
//   - the core's load path (Engine.Load) with the bytes stored under
//     a live session's key, in the clear and with encryption on: no error
//     and no panic; the record is used exactly when it decodes (never when
//     encryption is on, where it cannot open); otherwise it is deleted and
//     logged once, and the visitor gets a fresh session;
//   - a record that decodes survives a seal and open unchanged.
func FuzzStoredRecord(f *testing.F) {
	k1, k2 := fuzzKey("one"), fuzzKey("two")
	mustRing := func(keys ...[]byte) *Keyring {
		r, err := NewKeyring(keys)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	ring1, rotated, retired := mustRing(k1), mustRing(k2, k1), mustRing(k2)
	type managed struct {
		m    *Engine
		mem  *memory.Driver
		warn *warnCounter
	}
	newManaged := func(keys ...[]byte) managed {
		mem := memory.New(memory.Options{SweepInterval: -1})
		f.Cleanup(func() { _ = mem.Close(context.Background()) })
		w := &warnCounter{}
		e, err := New(Options{Driver: mem, Lifetime: time.Hour, EncryptionKeys: keys, Logger: slog.New(w)})
		if err != nil {
			f.Fatal(err)
		}
		return managed{e, mem, w}
	}
	plain, sealed := newManaged(), newManaged(k1)
	id := NewID()
	key := StoreKey(id)
	ctx := context.Background()

	f.Add(EncodeRecord(Record{Created: time.UnixMilli(1700000000000), Values: valuesOf(map[string][]byte{"a": []byte(`"1"`)})}), "key", uint16(0), byte(1))
	f.Add([]byte{sealedV1, 1, 2, 3, 4}, "", uint16(3), byte(0x80))
	f.Fuzz(func(t *testing.T, junk []byte, ad string, pos uint16, flip byte) {
		// Random bytes never open.
		for _, r := range []*Keyring{ring1, rotated, retired} {
			if p, err := r.Open(ad, junk); err == nil {
				t.Fatalf("arbitrary bytes %x opened to %x", junk, p)
			}
		}
		// Seal, open, rotate, retire, move, tamper.
		box := ring1.Seal(ad, junk)
		if len(box) != 1+keyIDLen+12+len(junk)+16 || box[0] != sealedV1 {
			t.Fatalf("seal of %d bytes gave %d bytes starting %#x", len(junk), len(box), box[0])
		}
		for name, r := range map[string]*Keyring{"the sealing key": ring1, "a rotated ring": rotated} {
			if p, err := r.Open(ad, box); err != nil || !bytes.Equal(p, junk) {
				t.Fatalf("open with %s = %x, %v; want %x", name, p, err, junk)
			}
		}
		if _, err := retired.Open(ad, box); err == nil {
			t.Fatal("a record opened without its key")
		}
		if _, err := ring1.Open(ad+"x", box); err == nil {
			t.Fatal("a record opened under other associated data (another session's key)")
		}
		bad := bytes.Clone(box)
		bad[int(pos)%len(bad)] ^= flip | 1
		if _, err := rotated.Open(ad, bad); err == nil {
			t.Fatalf("a record with byte %d changed opened", int(pos)%len(bad))
		}

		want, decodeErr := DecodeRecord(junk)
		for _, mg := range []struct {
			name string
			managed
			usable bool
		}{{"plain", plain, decodeErr == nil}, {"encrypted", sealed, false}} {
			_ = mg.mem.Delete(ctx, key)
			if ok, err := mg.mem.Save(ctx, key, junk, 0, time.Hour); err != nil || !ok {
				t.Fatalf("plant: %v, %v", ok, err)
			}
			warned := mg.warn.n.Load()
			unreadable := mg.m.Stats().Unreadable
			st := State{ID: id, Key: key}
			found, err := mg.m.Load(ctx, &st)
			if err != nil {
				t.Fatalf("%s: Load(%x) = %v; a bad record is an absent session, not an error", mg.name, junk, err)
			}
			if found != mg.usable {
				t.Fatalf("%s: Load(%x) found=%v; want %v (decode error %v)", mg.name, junk, found, mg.usable, decodeErr)
			}
			rec, _, _, _ := mg.mem.Load(ctx, key)
			logged := mg.warn.n.Load() - warned
			if found {
				if !st.Exists || len(st.Base) != len(want.Values) || !st.Created.Equal(want.Created) || st.Meta != want.Meta || logged != 0 {
					t.Fatalf("%s: loaded %+v (logged %d); want %+v", mg.name, st, logged, want)
				}
				if !st.Base.equal(want.Values) {
					t.Fatalf("%s: values %q; want %q", mg.name, st.Base, want.Values)
				}
				continue
			}
			// Not this instance's to delete (a rotation in progress): left
			// as it was, counted, and logged at most once a minute.
			tomb := isTombstone(junk)
			counted := mg.m.Stats().Unreadable - unreadable
			if !bytes.Equal(rec, junk) || st.Exists || logged > 1 || counted != map[bool]uint64{false: 1, true: 0}[tomb] {
				t.Fatalf("%s: after an unusable record: stored %x, exists=%v, %d warnings, %d counted; want it left in place and counted once",
					mg.name, rec, st.Exists, logged, counted)
			}
		}
		if decodeErr == nil {
			// What decodes survives the encrypted path unchanged.
			got, err := sealed.m.decode(key, sealed.m.encode(key, want))
			if err != nil || !got.Created.Equal(want.Created) || got.Meta != want.Meta || len(got.Values) != len(want.Values) {
				t.Fatalf("encrypted round trip of %+v = %+v, %v", want, got, err)
			}
			if !got.Values.equal(want.Values) {
				t.Fatalf("encrypted round trip: values %q; want %q", got.Values, want.Values)
			}
		}
	})
}
