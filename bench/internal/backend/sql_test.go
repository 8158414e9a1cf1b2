package backend

import (
	"os"
	"strings"
	"testing"
	"time"
)

// ssOutput is ss -tinpeH for two sockets of process 32239 and one of
// another process.
const ssOutput = `0      0      127.0.0.1:40952 127.0.0.1:42799 users:(("loadtest",pid=32239,fd=4)) ino:590443 sk:1104 cgroup:/ <->
	 ts sack bbr wscale:10,10 rto:208 rtt:5.37/10.683 mss:32768 bytes_sent:10 segs_out:5 segs_in:4 data_segs_out:2 data_segs_in:1 send 585796648bps
0      0      127.0.0.1:40953 127.0.0.1:42799 users:(("loadtest",pid=32239,fd=5)) ino:590444 sk:1105 cgroup:/ <->
	 ts sack bbr wscale:10,10 rto:208 rtt:5.37/10.683 mss:32768 segs_out:1 segs_in:1
0      0      127.0.0.1:40954 127.0.0.1:42799 users:(("loadtest",pid=4,fd=6)) ino:590445 sk:1106 cgroup:/ <->
	 ts sack bbr wscale:10,10 rto:208 data_segs_out:99
`

func TestParseSS(t *testing.T) {
	st := ParseSS([]byte(ssOutput), 32239)
	if len(st) != 2 || st["590443"] != 2 || st["590444"] != 0 {
		t.Fatalf("ParseSS = %v; want 590443:2 590444:0", st)
	}
	// pid=4 must not match pid=42 or pid=32239's prefix.
	if st := ParseSS([]byte(ssOutput), 3223); len(st) != 0 {
		t.Errorf("pid 3223 matched %v", st)
	}
}

func TestSocketStatsArithmetic(t *testing.T) {
	before := SocketStats{"a": 10, "b": 20, "gone": 5}
	after := SocketStats{"a": 15, "b": 29, "new": 3}
	segs, opened := after.Sub(before)
	if segs != 5+9+3 || opened != 1 {
		t.Errorf("Sub = %d, %d; want 17, 1", segs, opened)
	}
	// Over the sockets open at both readings only.
	segs, opened = after.Only(before).Sub(before.Only(after))
	if segs != 14 || opened != 0 {
		t.Errorf("Sub over Only = %d, %d; want 14, 0", segs, opened)
	}
	m := SocketStats{"a": 10, "b": 21}.Mean(SocketStats{"a": 12, "b": 22, "c": 1})
	if len(m) != 2 || m["a"] != 11 || m["b"] != 21 {
		t.Errorf("Mean = %v", m)
	}
}

func TestStatementKind(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT data FROM t WHERE k = $1":                 "select",
		"\n  insert into sessions (token) values ($1)":    "insert",
		"UPDATE t SET data = $1":                          "update",
		"DELETE FROM t WHERE k = $1":                      "delete",
		"DO $$ BEGIN CREATE TABLE IF NOT EXISTS x(); END": "other",
		"": "other",
	} {
		if got := StatementKind(q); got != want {
			t.Errorf("StatementKind(%q) = %q; want %q", q, got, want)
		}
	}
}

func TestSQLStatsSub(t *testing.T) {
	// MariaDB: global counters; the harness' SHOW is one question.
	b := SQLStats{Statements: map[string]int64{"select": 10, "update": 4}, Extra: map[string]int64{"questions": 20, "stmt_execute": 14}, Connections: 7, CPU: 1}
	a := SQLStats{Statements: map[string]int64{"select": 110, "update": 4}, Extra: map[string]int64{"questions": 121, "stmt_execute": 114}, Connections: 8, CPU: 1.5}
	d := a.Sub(b)
	if d.Statements["select"] != 100 || len(d.Statements) != 1 {
		t.Errorf("statements = %v", d.Statements)
	}
	if d.Extra["questions"] != 100 || d.Extra["stmt_execute"] != 100 {
		t.Errorf("extra = %v", d.Extra)
	}
	if d.Connections != 1 || d.CPU != 0.5 {
		t.Errorf("connections, CPU = %d, %v", d.Connections, d.CPU)
	}

	// PostgreSQL: new connections are backends alive now that were not
	// before (a reused pid with a new start time counts).
	t0 := time.Unix(1000, 0)
	b = SQLStats{Backends: map[int64]time.Time{1: t0, 2: t0, 3: t0}}
	a = SQLStats{Backends: map[int64]time.Time{1: t0, 3: t0.Add(time.Second), 4: t0}}
	if d := a.Sub(b); d.Connections != 2 {
		t.Errorf("postgres connections = %d; want 2", d.Connections)
	}
}

func TestDBName(t *testing.T) {
	for server, want := range map[string]string{
		"ginkit/postgres":     "bench_ginkit_postgres_r1",
		"scs/pgxstore":        "bench_scs_pgxstore_r1",
		"gincontrib/postgres": "bench_gincontrib_postgres_r1",
		"ginkit/redis-cache":  "bench_ginkit_redis_cache_r1",
	} {
		got := DBName(server, 1)
		if got != want || !validDB.MatchString(got) {
			t.Errorf("DBName(%q) = %q; want %q", server, got, want)
		}
	}
	s := &SQLServer{Name: "postgres"}
	if err := s.CreateDatabase(`x"; DROP`); err == nil || !strings.Contains(err.Error(), "database name") {
		t.Errorf("CreateDatabase with a bad name: %v", err)
	}
}

func TestServerArgs(t *testing.T) {
	pg := strings.Join(PostgresArgs("/d/data", "/d", 5432), " ")
	for _, want := range []string{"-p 5432", "listen_addresses=127.0.0.1", "shared_preload_libraries=pg_stat_statements", "unix_socket_directories=/d"} {
		if !strings.Contains(pg, want) {
			t.Errorf("postgres args %q lack %q", pg, want)
		}
	}
	// Durability stays at PostgreSQL's defaults.
	for _, bad := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		if strings.Contains(pg, bad) {
			t.Errorf("postgres args %q change %s", pg, bad)
		}
	}
	my := strings.Join(MariaDBArgs("/d", 3307, true), " ")
	for _, want := range []string{"--port=3307", "--bind-address=127.0.0.1", "--innodb-flush-log-at-trx-commit=1", "--user=root", "--datadir=/d/data"} {
		if !strings.Contains(my, want) {
			t.Errorf("mariadb args %q lack %q", my, want)
		}
	}
	if strings.Contains(strings.Join(MariaDBArgs("/d", 3307, false), " "), "--user") {
		t.Error("--user given when not root")
	}
}

func TestTreeCPUOfSelf(t *testing.T) {
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	if TreeCPU(os.Getpid()) <= 0 {
		t.Error("TreeCPU of this process is not positive")
	}
	if TreeCPU(-1) != 0 {
		t.Error("TreeCPU(-1) != 0")
	}
}
