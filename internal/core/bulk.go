package core

import (
	"context"
	"fmt"

	"github.com/ginkit/sessions/driver"
)

// Count and Purge are the bulk operations on any driver that can
// enumerate its sessions (driver.Scanner); they need no Engine, so they
// work on a backend no Manager is configured for.

// scannerOf returns d as a Scanner, or an error for op that names the
// driver's type and says it cannot enumerate.
func scannerOf(op string, d driver.Driver) (driver.Scanner, error) {
	if d == nil {
		return nil, fail(op, KindConfig, "nil driver")
	}
	sc, ok := d.(driver.Scanner)
	if !ok {
		return nil, &Error{Op: op, Kind: KindUnsupported, Err: fmt.Errorf("the driver %T cannot enumerate its sessions", d)}
	}
	return sc, nil
}

// Count returns how many live sessions d holds, by enumerating them; it
// reads no record and changes nothing.
func Count(ctx context.Context, d driver.Driver) (int, error) {
	sc, err := scannerOf("count", d)
	if err != nil {
		return 0, err
	}
	n, err := countScanned(ctx, sc)
	if err != nil {
		return n, wrap("count", KindStore, err)
	}
	return n, nil
}

// Purge deletes every session d holds, enumerating them, and returns how
// many it deleted. A failed delete stops it.
func Purge(ctx context.Context, d driver.Driver) (int, error) {
	sc, err := scannerOf("purge", d)
	if err != nil {
		return 0, err
	}
	n := 0
	err = sc.Scan(ctx, func(key string) error {
		if err := d.Delete(ctx, key); err != nil {
			return fmt.Errorf("delete session %s: %w", key, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, wrap("purge", KindStore, fmt.Errorf("stopped after %d deleted: %w", n, err))
	}
	return n, nil
}
