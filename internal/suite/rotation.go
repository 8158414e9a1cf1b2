package suite

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ginkit/sessions"
)

// staleInstance checks key rotation across instances sharing a store: an
// instance that lacks the key a record was sealed with (a rolling deploy
// midway) reads it as no session, never deletes or overwrites it, and
// counts it; the instances that have the key keep the user logged in.
func staleInstance(t *testing.T, backend Backend) {
	t.Run("StaleInstanceDuringKeyRotation", func(t *testing.T) {
		oldKey, newKey := bytes.Repeat([]byte{0x11}, 32), bytes.Repeat([]byte{0x22}, 32)
		open := backend(t)
		fresh := newApp(t, open(), func(c *sessions.Config) { c.EncryptionKeys = [][]byte{newKey, oldKey} })
		stale := newApp(t, open(), func(c *sessions.Config) { c.EncryptionKeys = [][]byte{oldKey} })
		id := fresh.login("ada", "UA")

		assert.Equal(t, "", stale.whoami(id), "the stale instance cannot open the record: no session there")
		rec := stale.do("POST", "/cart", id, "UA")
		assert.Equal(t, 204, rec.Code)
		for _, c := range cookiesOf(rec) {
			assert.NotEqual(t, id, c, "a write on the stale instance starts a new session, never over the one it cannot read")
		}
		assert.Equal(t, "ada", fresh.whoami(id), "the session survives the stale instance's reads and writes")
		assert.GreaterOrEqual(t, stale.m.Stats().Unreadable, uint64(2), "the stale instance counts what it could not open")
		assert.Zero(t, fresh.m.Stats().Unreadable)
	})
}
