package sessions_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/core"
)

// TestNewManagerRefusesPreviousSameStore: a previous backend that is the
// current store under another name is refused when the Manager is built
// (a move from it would delete every session), whatever the spelling; the
// sessions are all still there and no marker is left. Two folders, and
// two memory drivers, are still a valid move.
func TestNewManagerRefusesPreviousSameStore(t *testing.T) {
	ctx := context.Background()
	dsn := moveFileDSN(t)
	moveSeed(t, moveEngine(moveManager(t, dsn, "", nil)), 6)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, prev := range []string{dsn + "/", dsn + "/./", dsn + "?sweep_interval=-1s"} {
		m, err := sessions.NewManager(sessions.Config{DSN: dsn, PreviousDSN: prev, Logger: quiet})
		if m != nil {
			_ = m.Close()
		}
		require.Error(t, err, "previous %s", prev)
		msg := err.Error()
		assert.Equal(t, 1, strings.Count(msg, "sessions:"), msg)
		assert.Contains(t, msg, "name one store")
		assert.Contains(t, msg, "SESSION_DSN_PREVIOUS")
		assert.Contains(t, msg, "Config.PreviousDSN")
		assert.Contains(t, msg, sessions.RedactDSN(prev))
		assert.Equal(t, 6, moveCount(t, dsn), "previous %s: sessions lost", prev)
	}
	var keys []string
	require.NoError(t, moveOpen(t, dsn).(sessions.Scanner).Scan(ctx, func(k string) error { keys = append(keys, k); return nil }))
	for _, k := range keys {
		assert.False(t, strings.HasPrefix(k, core.SameStoreKeyPrefix), "a marker is left: %s", k)
	}

	// One Driver value as both is refused too; two stores are not.
	mem := memory.New(memory.Options{})
	defer mem.Close(ctx)
	_, err := sessions.NewManager(sessions.Config{Driver: mem, PreviousDriver: mem, Logger: quiet})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.PreviousDriver and current backend Config.Driver name one store")
	other := memory.New(memory.Options{})
	defer other.Close(ctx)
	moveManager(t, "", "", func(c *sessions.Config) { c.Driver, c.PreviousDriver = other, mem })

	to := moveFileDSN(t)
	stats, err := moveManager(t, to, dsn, nil).MovePrevious(ctx, nil)
	require.NoError(t, err)
	assert.Equal(t, 6, stats.Moved)
	assert.Equal(t, 6, moveCount(t, to))
}
