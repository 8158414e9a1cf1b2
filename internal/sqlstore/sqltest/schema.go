package sqltest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ginkit/sessions"
)

// CreateTableFalse checks d, a driver named name ("postgres") opened with
// create_table=false before its tables exist: its first Load fails with
// an error that starts "<name>: load: " and contains "create_table=false"
// and each of words (the table's name, the database's own words for a
// missing table), a Save fails too, and once creator, a driver on the
// same tables that may create them, has made its first call, the same d
// saves.
func CreateTableFalse(t *testing.T, name string, d, creator sessions.Driver, words ...string) {
	t.Helper()
	ctx := context.Background()
	_, _, _, err := d.Load(ctx, "k")
	if err == nil {
		t.Fatal("Load with create_table=false and no table succeeded")
	}
	if !strings.HasPrefix(err.Error(), name+": load: ") {
		t.Errorf("error %q lacks the %s: load: prefix", err, name)
	}
	for _, want := range append([]string{"create_table=false"}, words...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := d.Save(ctx, "k", []byte("x"), 0, time.Hour); err == nil || !strings.HasPrefix(err.Error(), name+": save: ") {
		t.Errorf("Save = %v; want a %s: save: error", err, name)
	}
	if _, _, _, err := creator.Load(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.Save(ctx, "k", []byte("x"), 0, time.Hour); err != nil || !ok {
		t.Fatalf("Save once the tables exist = %v, %v", ok, err)
	}
}
