package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/ginkit/sessions"
)

// dryRunPlan is what a migrate would do, found by reading both stores.
type dryRunPlan struct {
	// Listed counts the keys --from's Scanner passed.
	Listed int
	// Move counts sessions --from holds and --to does not: a migrate
	// would move them (less those past the absolute lifetime, which it
	// deletes; the dry run does not open records to tell).
	Move int
	// InBoth counts sessions both stores hold: a migrate keeps --to's
	// copy and deletes --from's.
	InBoth int
	// Identical counts the InBoth sessions whose two records are the same
	// bytes.
	Identical int
	// Gone counts keys whose session expired or ended between the scan
	// and its load.
	Gone int
}

// sameStoreSuspect reports whether the plan looks like one store under
// two names: every session --from holds is in --to, byte for byte. A
// real migrate would delete all of them from --from, that is from --to.
func (p dryRunPlan) sameStoreSuspect() bool {
	return p.Identical > 0 && p.Identical == p.Listed-p.Gone
}

// planMigrate reads what a migrate from from to to would do. It only
// reads: it scans from and loads each key from both stores, and writes,
// deletes and touches nothing in either (no same-store marker either,
// which is why it compares records instead).
func planMigrate(ctx context.Context, from, to sessions.Driver) (dryRunPlan, error) {
	var p dryRunPlan
	sc, ok := from.(sessions.Scanner)
	if !ok {
		return p, fmt.Errorf("--from (%T) cannot enumerate its sessions; they move as their users return", from)
	}
	err := sc.Scan(ctx, func(key string) error {
		p.Listed++
		old, _, _, err := from.Load(ctx, key)
		if err != nil {
			return fmt.Errorf("session %s: load from --from: %w", key, err)
		}
		if old == nil {
			p.Gone++
			return nil
		}
		cur, _, _, err := to.Load(ctx, key)
		if err != nil {
			return fmt.Errorf("session %s: load from --to: %w", key, err)
		}
		switch {
		case cur == nil:
			p.Move++
		case bytes.Equal(cur, old):
			p.InBoth++
			p.Identical++
		default:
			p.InBoth++
		}
		return nil
	})
	return p, err
}

// migrateDryRun prints what migrate would do and changes nothing. Two DSNs
// whose every session is in both stores, byte for byte, are taken for one
// store: exit 1, as a real migrate would refuse them.
func (c *cli) migrateDryRun(ctx context.Context, from, to string) int {
	fromName, toName := sessions.RedactDSN(from), sessions.RedactDSN(to)
	fromD, err := sessions.Open(from) // its errors never show the password
	if err != nil {
		return c.failure("migrate", fmt.Errorf("--from: %w", err))
	}
	defer closeDriver(fromD)
	toD, err := sessions.Open(to)
	if err != nil {
		return c.failure("migrate", fmt.Errorf("--to: %w", err))
	}
	defer closeDriver(toD)
	p, err := planMigrate(ctx, fromD, toD)
	if err != nil {
		return c.failure("migrate", fmt.Errorf("dry run: %w; nothing was changed", err))
	}
	if p.sameStoreSuspect() {
		return c.failure("migrate", fmt.Errorf("dry run: --from %s and --to %s look like one store: all %d sessions of --from are in --to with the same bytes, "+
			"and migrating would delete every one of them; nothing was changed", fromName, toName, p.Identical))
	}
	w := c.stdout
	fmt.Fprintf(w, "migrate --dry-run %s -> %s (nothing was changed)\n", fromName, toName)
	fmt.Fprintf(w, "  sessions in the old store: %d\n", p.Listed-p.Gone)
	fmt.Fprintf(w, "  would move:                %d (less any past the absolute lifetime, which are deleted)\n", p.Move)
	fmt.Fprintf(w, "  already in the new store:  %d (that copy would be kept and the old one deleted)\n", p.InBoth)
	if p.Gone > 0 {
		fmt.Fprintf(w, "  gone while reading:        %d (expired or ended)\n", p.Gone)
	}
	return exitOK
}
