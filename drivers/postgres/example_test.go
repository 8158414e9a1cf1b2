package postgres_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ginkit/sessions"
	"github.com/ginkit/sessions/drivers/postgres"
)

// An application that already holds a pgx pool gives it to the driver;
// the sessions then share its connections (4 pipelines for reads and 4
// for writes here, of a pool the application sized for them).
func ExampleNew() {
	pool, err := pgxpool.New(context.Background(), os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	d, err := postgres.New(pool, postgres.Options{Table: "app_sessions", Pipelines: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(context.Background()) // leaves the pool open
	m, err := sessions.NewManager(sessions.Config{Driver: d})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close() // does not close d

	r := gin.New()
	r.Use(m.Handler())
	_ = r.Run(":8080")
}

// Open reads the driver's options from the DSN, as SESSION_DSN gives it.
// It does not connect, and a malformed option is an error that names it,
// without the password.
func ExampleOpen() {
	u, _ := url.Parse("postgres://app:s3cret@db:5432/app?sslmode=disable&pipelines=lots")
	_, err := postgres.Open(u)
	fmt.Println(err)

	u, _ = url.Parse("postgres://app:s3cret@db:5432/app?sslmode=disable&pipelines=8&timeout=2s")
	d, err := postgres.Open(u)
	fmt.Println(err)
	_ = d.Close(context.Background())
	// Output:
	// postgres: option "pipelines": "lots": want a number from 0 to 64
	// <nil>
}
