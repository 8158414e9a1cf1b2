package sqlstore

import "context"

// Scan calls fn with the key of every live session record, for bulk tools;
// it implements driver.Scanner. It pages through the sessions table by key
// (keyset pagination: WHERE key > last ORDER BY key LIMIT 500), one
// statement per page, each bounded by the timeout, and calls fn between
// pages, so no cursor or lock is held while fn runs and fn may call the
// Store's other methods, Delete included. A record live for the whole
// scan is passed exactly once; records saved or deleted during the scan
// may or may not be. The user index is another table and is never
// passed. If fn returns an error, Scan stops and returns it unchanged.
func (s *Store) Scan(ctx context.Context, fn func(key string) error) error {
	after := ""
	for {
		pctx, cancel, err := s.begin(ctx, "scan")
		if err != nil {
			return err
		}
		keys, err := s.db.QueryStrings(pctx, s.sql.ScanPage, after, int64(ScanPage))
		cancel()
		if err != nil {
			return s.fail("scan", err)
		}
		for _, k := range keys {
			if !ValidKey(k) {
				continue // not a row this engine wrote
			}
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(keys) < ScanPage {
			return nil
		}
		after = keys[len(keys)-1]
	}
}
