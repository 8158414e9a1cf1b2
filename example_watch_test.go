package sessions_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// A Server-Sent Events handler that ends its stream when the session
// ends anywhere: here a logout from another tab. (WatchInterval is short
// for the example; the default is 10 seconds.)
func ExampleWatch() {
	gin.SetMode(gin.ReleaseMode)
	cfg := sessions.DefaultConfig()
	cfg.WatchInterval = 50 * time.Millisecond
	m, err := sessions.NewManager(cfg)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	r := gin.New()
	r.Use(m.Handler())
	r.POST("/login", func(c *gin.Context) { sessions.Set(c, "user", "ada"); c.Status(http.StatusNoContent) })
	r.POST("/logout", func(c *gin.Context) { _ = sessions.Destroy(c); c.Status(http.StatusNoContent) })
	r.GET("/events", func(c *gin.Context) {
		ctx, stop := sessions.Watch(c)
		defer stop()
		if ctx.Err() != nil {
			c.Status(http.StatusNoContent) // no session to follow
			return
		}
		c.Header("Content-Type", "text/event-stream")
		c.Status(http.StatusOK)
		fmt.Fprint(c.Writer, "event: watching\ndata: \n\n")
		c.Writer.Flush()
		<-ctx.Done() // a real handler also sends its own events meanwhile
		if errors.Is(context.Cause(ctx), sessions.ErrSessionEnded) {
			fmt.Fprint(c.Writer, "event: ended\ndata: logged out\n\n")
		}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	login := do(r, "POST", "/login", nil)
	req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
	req.AddCookie(login.Cookies()[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewScanner(resp.Body)
	next := func() string {
		for stream.Scan() {
			if ev, ok := strings.CutPrefix(stream.Text(), "event: "); ok {
				return ev
			}
		}
		return "(stream closed)"
	}
	fmt.Println(next())
	do(r, "POST", "/logout", login) // another tab logs out
	fmt.Println(next())
	fmt.Println(next())
	// Output:
	// watching
	// ended
	// (stream closed)
}
