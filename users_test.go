package sessions_test

import (
	"context"
	"testing"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/file"
	"github.com/ginkit/sessions/drivers/memory"
	"github.com/ginkit/sessions/internal/suite"
)

func TestUsersMemory(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		d := memory.New(memory.Options{})
		t.Cleanup(func() { _ = d.Close(context.Background()) })
		return func() sessions.Driver { return d } // one process, one store
	})
}

func TestUsersFile(t *testing.T) {
	suite.Users(t, func(t *testing.T) func() sessions.Driver {
		dir := t.TempDir()
		return func() sessions.Driver {
			d, err := file.New(dir, file.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close(context.Background()) })
			return d
		}
	})
}
