package core

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ginkit/sessions/driver"
)

// The same-store check. A move from a previous backend that is in fact
// the current one (file:///x and file:///x/, redis://h and
// redis://h:6379/0, two names of one host) finds every session "already
// in the current backend" and deletes it from the previous one: the store
// ends up empty. DSN strings cannot tell: one store has many spellings,
// and a Config.Driver has none. So the check looks: it writes a marker
// into one driver and reads it back through the other.

// SameStoreKeyPrefix starts the key of every same-store marker. A marker
// key is this prefix and a fresh NewID: 53 characters of [A-Za-z0-9_-],
// valid for every driver, and never a session's store key, which is
// always exactly 43 characters (StoreKey).
const SameStoreKeyPrefix = "samestore-"

// sameStoreTTL is the marker's time to live: if its delete fails (the
// store went away in between), the store drops it by itself soon after.
const sameStoreTTL = time.Minute

// sameStoreDeleteTimeout bounds the marker's delete when ctx has ended.
const sameStoreDeleteTimeout = 5 * time.Second

// sameStoreMarker is the marker's record. Its first byte ('g') is neither
// a record format version (recordV1..recordV3) nor sealedV1, so no
// instance decodes it as a session, encrypted or not: a bulk tool that
// scans it meanwhile counts it (count), deletes it (purge) or leaves it in
// place as unreadable (a move), and nothing else happens.
var sameStoreMarker = []byte("ginkit/sessions same-store check marker; it deletes itself\n")

// errSameStore is the cause of a move refused because the previous
// backend is the current one.
var errSameStore = errors.New("the previous backend (SESSION_DSN_PREVIOUS) and the current one (SESSION_DSN) name one store: " +
	"a move would find every session already moved and delete it from that store; nothing was touched")

// SameStore reports whether drivers a and b reach one store, by looking:
// it saves a marker record into b under a fresh key (SameStoreKeyPrefix
// and a NewID, which no session's key can equal) with version 0 and a
// time to live of one minute, loads that key through a, and deletes it
// from b again, on every path after the save, also when ctx has ended (then
// with a few seconds of its own). a holds the marker, byte for byte, only
// if a and b are one store: one Driver value passed twice, two drivers
// over one folder or one Redis database, whatever the DSNs look like. Two
// memory drivers are two stores unless they are one value.
//
// It writes nothing but that one marker into b, and only reads a. The
// marker is visible for the few round trips the check takes: a scan of b
// meanwhile may pass its key (count counts it once; it never decodes as a
// session, see sameStoreMarker). An error (a store that does not answer,
// or a marker that could not be saved or deleted) means the answer is
// unknown; same is then false and the caller must not assume the stores
// differ.
func SameStore(ctx context.Context, a, b driver.Driver) (same bool, err error) {
	if a == nil || b == nil {
		return false, errors.New("same-store check: nil driver")
	}
	key := SameStoreKeyPrefix + NewID()
	defer func() {
		dctx, cancel := context.WithTimeout(Detach(ctx), sameStoreDeleteTimeout)
		defer cancel()
		if derr := b.Delete(dctx, key); derr != nil {
			same, err = false, errors.Join(err, fmt.Errorf("same-store check: delete the marker: %w", derr))
		}
	}()
	saved, err := b.Save(ctx, key, sameStoreMarker, 0, sameStoreTTL)
	if err != nil {
		return false, fmt.Errorf("same-store check: save a marker: %w", err)
	}
	if !saved {
		// A fresh 256-bit key that exists already: not a store to trust
		// with the answer.
		return false, errors.New("same-store check: save a marker: the store reports the fresh key as taken")
	}
	rec, _, _, err := a.Load(ctx, key)
	if err != nil {
		return false, fmt.Errorf("same-store check: load the marker: %w", err)
	}
	return bytes.Equal(rec, sameStoreMarker), nil
}

// checkNotSameStore refuses a move from e.prev into e.driver when they are
// one store (errSameStore), or when the check cannot tell. The marker goes
// into the current backend, which the move does not scan.
func (e *Engine) checkNotSameStore(ctx context.Context) error {
	same, err := SameStore(ctx, e.prev, e.driver)
	if err != nil {
		return wrap("move", KindStore, fmt.Errorf("check that the previous backend is another store: %w", err))
	}
	if same {
		return &Error{Op: "move", Kind: KindConfig, Err: errSameStore}
	}
	return nil
}
