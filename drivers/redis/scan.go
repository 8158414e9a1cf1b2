package redis

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/rueidis"
)

// scanCount is the COUNT hint of each SCAN: how many keys the server
// looks at per round trip.
const scanCount = 500

// Scan calls fn with the key (without the prefix) of every session record
// under the driver's prefix, for bulk tools (count, migrate, purge); it
// implements sessions.Scanner.
//
// Scan runs SCAN with MATCH <prefix>* and COUNT 500, one round trip per
// batch, each bounded by Options.Timeout, on every primary: the one server
// of a standalone or Sentinel deployment, and every master of a Redis
// Cluster (found among the client's nodes with ROLE; replicas are skipped,
// and a node that does not answer ROLE is scanned too, since passing a
// key twice is allowed). It passes only keys that are the prefix followed
// by a valid key (1 to 250 bytes of [A-Za-z0-9_-]), so the user index keys
// (prefix + "u:" + user, which hold a ':') and other data sharing the
// prefix are never passed. Give the prefix a separator at its end (as
// "sess:" has): with a prefix "s", the key "sx" of another application
// would read as session "x".
//
// SCAN's guarantees carry over: a record live for the whole scan is passed
// at least once, possibly more than once; records saved or deleted during
// the scan may or may not be passed. Keys moving between Cluster masters
// during the scan (resharding, failover) may be missed, and a failover of
// a Sentinel primary during the scan fails it. Scan does not read values
// or expiries: a record may expire between SCAN and fn. fn is called from
// the goroutine that called Scan, one key at a time, between round trips,
// and may call the driver's methods, Delete included.
//
// The cost is about one round trip per 500 keys under the prefix per
// primary, plus one ROLE per node on a Cluster; SCAN does not block the
// server the way KEYS does.
//
// If fn returns an error, Scan stops and returns that error unchanged. A
// failed round trip or the end of ctx stops it with an error starting
// "redis: scan:". After Close, Scan returns ErrClosed.
func (d *Driver) Scan(ctx context.Context, fn func(key string) error) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis: scan: %w", err)
	}
	nodes, err := d.primaries(ctx)
	if err != nil {
		return err
	}
	pattern := globEscape(d.prefix) + "*"
	for _, n := range nodes {
		var cursor uint64
		for {
			if d.closed.Load() {
				return ErrClosed
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("redis: scan: %w", err)
			}
			cmd := n.client.B().Scan().Cursor(cursor).Match(pattern).Count(scanCount).Build().Pin() // see loadDirect
			tctx, cancel := d.withTimeout(ctx)
			entry, err := n.client.Do(tctx, cmd).AsScanEntry()
			cancel()
			if err != nil {
				return fmt.Errorf("redis: scan: %s: %w", n.addr, err)
			}
			for _, k := range entry.Elements {
				key, ok := strings.CutPrefix(k, d.prefix)
				if !ok || !isKeyShape(key) {
					continue
				}
				if err := fn(key); err != nil {
					return err
				}
			}
			cursor = entry.Cursor
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// scanTarget is one server to scan.
type scanTarget struct {
	addr   string
	client rueidis.Client
}

// primaries returns the servers holding the keys: the client's only node,
// or, when it knows several (a Cluster, or a client that also reads from
// replicas), those whose ROLE is master or that cannot tell. The clients
// returned share the driver's connections and must not be closed.
func (d *Driver) primaries(ctx context.Context) ([]scanTarget, error) {
	all := d.client.Nodes()
	addrs := make([]string, 0, len(all))
	for addr := range all {
		addrs = append(addrs, addr)
	}
	slices.Sort(addrs)
	if len(addrs) == 1 {
		return []scanTarget{{addr: addrs[0], client: all[addrs[0]]}}, nil
	}
	var nodes []scanTarget
	for _, addr := range addrs {
		c := all[addr]
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("redis: scan: %w", err)
		}
		tctx, cancel := d.withTimeout(ctx)
		role, err := roleOf(tctx, c)
		cancel()
		if err == nil && role != "master" {
			continue // a replica: its keys are its master's
		}
		nodes = append(nodes, scanTarget{addr: addr, client: c})
	}
	return nodes, nil
}

// roleOf returns the first element of the node's ROLE reply: "master",
// "slave" or "sentinel".
func roleOf(ctx context.Context, c rueidis.Client) (string, error) {
	arr, err := c.Do(ctx, c.B().Role().Build().Pin()).ToArray()
	if err != nil {
		return "", err
	}
	if len(arr) == 0 {
		return "", fmt.Errorf("empty ROLE reply")
	}
	return arr[0].ToString()
}

// globEscape escapes the characters special to SCAN's MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isKeyShape reports whether k has the shape of a session key: 1 to 250
// bytes from [A-Za-z0-9_-].
func isKeyShape(k string) bool {
	if k == "" || len(k) > keyShapeMax {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// keyShapeMax is the longest key of the sessions.Driver contract.
const keyShapeMax = 250
