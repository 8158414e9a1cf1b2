package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// indexInfix separates the prefix from the user in an index key. Session
// keys never hold a ':', so no session key can equal an index key.
const indexInfix = "u:"

// indexScript adds or replaces one entry of a user index in one atomic
// step. KEYS[1] is the index (a sorted set), ARGV[1] the session key,
// ARGV[2] its expiry and ARGV[3] the client's time, both in Unix
// milliseconds. It drops the entries expired at ARGV[3] and sets the time
// to live of the index to the time its last entry expires, relative to
// ARGV[3] (so the index expires with its last entry without depending on
// the server's clock; PEXPIRE exists on every Redis version). An index left
// empty is removed by Redis itself. It returns the number of live entries.
var indexScript = rueidis.NewLuaScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 0 then return 0 end
local ttl = tonumber(last[2]) - tonumber(ARGV[3])
if ttl < 1 then ttl = 1 end
redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
return redis.call('ZCARD', KEYS[1])
`)

// errUserShape is the reason a user or key of the wrong shape is refused.
var errUserShape = errors.New("user and key must be 1 to 250 bytes from [A-Za-z0-9_-]")

// indexKey returns the Redis key of user's index.
func (d *Driver) indexKey(user string) string { return d.prefix + indexInfix + user }

// IndexUser adds key to user's index with the given expiry, or replaces the
// expiry of its entry, so a key has at most one entry per user; it
// implements sessions.UserIndexer. An expiry that has already passed
// removes the entry, which is dead anyway. Expiries are kept to the
// millisecond, rounded down, on the application's clock.
//
// The index of user is one sorted set at prefix + "u:" + user whose
// members are keys and whose scores are expiries in Unix milliseconds.
// IndexUser is one round trip: a Lua script on that one key (so it works
// on Redis Cluster, each user's index living in its own slot) that adds
// the entry, drops the entries that have expired and sets the index key
// to expire when its last entry does. Concurrent calls, from any number of
// processes, are serialised by Redis and all take effect. The index has
// no size bound of its own: an entry lives until it expires or is
// removed, and expired entries go on the user's next IndexUser.
//
// The entry says nothing about the session record: deleting or expiring
// the record leaves it alone. user and key must be 1 to 250 bytes of
// [A-Za-z0-9_-]. The call is bounded by Options.Timeout. After Close it
// returns ErrClosed.
func (d *Driver) IndexUser(ctx context.Context, user, key string, expires time.Time) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if !isKeyShape(user) || !isKeyShape(key) {
		return fmt.Errorf("redis: index: %w", errUserShape)
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	now := time.Now().UnixMilli()
	err := indexScript.Exec(ctx, d.client,
		[]string{d.indexKey(user)},
		[]string{key, strconv.FormatInt(expires.UnixMilli(), 10), strconv.FormatInt(now, 10)},
	).Error()
	if err != nil {
		return fmt.Errorf("redis: index: %w", err)
	}
	return nil
}

// UnindexUser removes key from user's index with ZREM, one round trip; it
// implements sessions.UserIndexer. A missing entry or index is not an
// error. The index keeps its time to live, which may then outlast its last
// entry; nothing reads it past that. user and key must be 1 to 250 bytes
// of [A-Za-z0-9_-]. The call is bounded by Options.Timeout. After Close it
// returns ErrClosed.
func (d *Driver) UnindexUser(ctx context.Context, user, key string) error {
	return d.unindex(ctx, user, key)
}

// UnindexUserKeys removes keys from user's index with one ZREM, as
// UnindexUser would one by one; it implements sessions.UserBatchUnindexer.
// Keys not in the index are ignored. user and every key must be 1 to 250
// bytes of [A-Za-z0-9_-]. After Close it returns ErrClosed.
func (d *Driver) UnindexUserKeys(ctx context.Context, user string, keys []string) error {
	return d.unindex(ctx, user, keys...)
}

func (d *Driver) unindex(ctx context.Context, user string, keys ...string) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if !isKeyShape(user) {
		return fmt.Errorf("redis: unindex: %w", errUserShape)
	}
	if len(keys) == 0 {
		return nil
	}
	for _, key := range keys {
		if !isKeyShape(key) {
			return fmt.Errorf("redis: unindex: %w", errUserShape)
		}
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	// ZREM is idempotent, so rueidis may retry it after a network error.
	cmd := d.client.B().Zrem().Key(d.indexKey(user)).Member(keys...).Build().ToRetryable().Pin() // see loadDirect
	if err := d.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis: unindex: %w", err)
	}
	return nil
}

// UserKeys returns the keys of user's live index entries, those whose
// expiry is after the application's current time, in no particular order,
// or an empty slice; it implements sessions.UserIndexer. It is one
// ZRANGEBYSCORE round trip, bounded by Options.Timeout, and removes
// nothing (IndexUser and Redis' expiry of the whole index do). An entry
// says nothing about whether its session record still exists. user must
// be 1 to 250 bytes of [A-Za-z0-9_-]. After Close it returns ErrClosed.
func (d *Driver) UserKeys(ctx context.Context, user string) ([]string, error) {
	if d.closed.Load() {
		return nil, ErrClosed
	}
	if !isKeyShape(user) {
		return nil, fmt.Errorf("redis: user keys: %w", errUserShape)
	}
	ctx, cancel := d.withTimeout(ctx)
	defer cancel()
	now := time.Now().UnixMilli()
	cmd := d.client.B().Zrangebyscore().Key(d.indexKey(user)).
		Min("(" + strconv.FormatInt(now, 10)).Max("+inf").Build().Pin() // see loadDirect
	keys, err := d.client.Do(ctx, cmd).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redis: user keys: %w", err)
	}
	if keys == nil {
		keys = []string{}
	}
	return keys, nil
}
