package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// SQLDB adapts a database/sql pool to DB. Statements with arguments are
// prepared once per pool (database/sql then prepares them once per
// connection and reuses them), so each call is one round trip whatever
// the pool's driver options; statements without arguments (the schema)
// run directly.
type SQLDB struct {
	DB    *sql.DB
	Owned bool // Close closes DB too

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// NewSQLDB returns an adapter of db; owned makes its Close close db.
func NewSQLDB(db *sql.DB, owned bool) *SQLDB {
	return &SQLDB{DB: db, Owned: owned, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement for query, preparing it on first
// use. A failed prepare is not cached.
func (d *SQLDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d.mu.Lock()
	st, ok := d.stmts[query]
	d.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.stmts[query]; ok {
		_ = st.Close() // another goroutine won the race
		return old, nil
	}
	d.stmts[query] = st
	return st, nil
}

// Exec implements DB.
func (d *SQLDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if len(args) == 0 {
		res, err = d.DB.ExecContext(ctx, query)
	} else {
		var st *sql.Stmt
		if st, err = d.stmt(ctx, query); err == nil {
			res, err = st.ExecContext(ctx, args...)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// QueryRow implements DB.
func (d *SQLDB) QueryRow(ctx context.Context, query string, args []any, dest ...any) (bool, error) {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return false, err
	}
	err = st.QueryRowContext(ctx, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// QueryStrings implements DB.
func (d *SQLDB) QueryStrings(ctx context.Context, query string, args ...any) ([]string, error) {
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Close implements DB: it closes the prepared statements, and the pool
// if Owned.
func (d *SQLDB) Close() {
	d.mu.Lock()
	for q, st := range d.stmts {
		_ = st.Close()
		delete(d.stmts, q)
	}
	d.mu.Unlock()
	if d.Owned {
		_ = d.DB.Close()
	}
}
