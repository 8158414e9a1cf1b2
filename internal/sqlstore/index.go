package sqlstore

import (
	"context"
	"time"
)

// IndexUser adds key to user's index with the given expiry, or replaces
// the expiry of its entry, with one upsert into the user index table; it
// implements driver.UserIndexer. The expiry is turned into a time to live
// on the application's clock and stored as the database's now plus that
// ttl, like a record's deadline, so every deadline is in one clock's
// terms. An expiry already past stores a dead entry, which UserKeys never
// returns and the sweep deletes. Concurrent calls for one user are
// separate rows and all take effect.
func (s *Store) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if err := checkKey(user); err != nil {
		return s.fail("index", err)
	}
	if err := checkKey(key); err != nil {
		return s.fail("index", err)
	}
	ctx, cancel, err := s.begin(ctx, "index")
	if err != nil {
		return err
	}
	defer cancel()
	ttl := time.Until(expires)
	ms := int64(-1) // dead from the start, but still replaces a live entry
	if ttl > 0 {
		ms = TTLMillis(ttl)
	}
	if _, err := s.db.Exec(ctx, s.sql.Index, user, key, ms); err != nil {
		return s.fail("index", err)
	}
	return nil
}

// UnindexUser removes key from user's index with one DELETE; it implements
// driver.UserIndexer. A missing entry is not an error.
func (s *Store) UnindexUser(ctx context.Context, user, key string) error {
	if err := checkKey(user); err != nil {
		return s.fail("unindex", err)
	}
	if err := checkKey(key); err != nil {
		return s.fail("unindex", err)
	}
	ctx, cancel, err := s.begin(ctx, "unindex")
	if err != nil {
		return err
	}
	defer cancel()
	if _, err := s.db.Exec(ctx, s.sql.Unindex, user, key); err != nil {
		return s.fail("unindex", err)
	}
	return nil
}

// UserKeys returns the keys of user's live index entries, in no particular
// order, or an empty slice, with one SELECT on the index table's primary
// key; it implements driver.UserIndexer.
func (s *Store) UserKeys(ctx context.Context, user string) ([]string, error) {
	if err := checkKey(user); err != nil {
		return nil, s.fail("user keys", err)
	}
	ctx, cancel, err := s.begin(ctx, "user keys")
	if err != nil {
		return nil, err
	}
	defer cancel()
	keys, err := s.db.QueryStrings(ctx, s.sql.UserKeys, user)
	if err != nil {
		return nil, s.fail("user keys", err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}
