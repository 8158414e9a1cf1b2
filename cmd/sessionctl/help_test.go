package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ginkit/sessions/driver"
	"github.com/ginkit/sessions/drivers/file"
	"github.com/ginkit/sessions/drivers/memcached"
	"github.com/ginkit/sessions/drivers/mysql"
	"github.com/ginkit/sessions/drivers/postgres"
	"github.com/ginkit/sessions/drivers/redis"
	"github.com/ginkit/sessions/drivers/sqlite"
)

// The help names, among the stores that can list their sessions, every
// built-in driver that implements driver.Scanner, and says memcached
// cannot: a driver that gains or loses Scan fails this test until the
// help follows.
func TestHelpNamesTheStoresThatList(t *testing.T) {
	scanner := reflect.TypeFor[driver.Scanner]()
	i := strings.Index(usage, "must be able to\nlist its sessions:")
	j := strings.Index(usage, "memcached:// cannot")
	if i < 0 || j < i {
		t.Fatalf("the help no longer says which stores can list their sessions:\n%s", usage)
	}
	can := usage[i:j]
	for scheme, typ := range map[string]reflect.Type{
		"file://":      reflect.TypeFor[*file.Driver](),
		"redis://":     reflect.TypeFor[*redis.Driver](),
		"sqlite://":    reflect.TypeFor[*sqlite.Driver](),
		"postgres://":  reflect.TypeFor[*postgres.Driver](),
		"mysql://":     reflect.TypeFor[*mysql.Driver](),
		"memcached://": reflect.TypeFor[*memcached.Driver](),
	} {
		if got, want := strings.Contains(can, scheme), typ.Implements(scanner); got != want {
			t.Errorf("help lists %s among the stores that can list their sessions: %v; its driver implements Scanner: %v", scheme, got, want)
		}
	}
}
