package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginkit/sessions"
)

// The live page: a page that holds a Server-Sent Events stream open, as a
// dashboard or a chat would, and shows that the stream belongs to the
// session. The stream's handler watches the session (sessions.Watch): when
// the session ends anywhere — "Log out other devices" on another browser,
// a logout in another tab, expiry — the stream tells the page and ends,
// within Config.WatchInterval (SESSION_WATCH_INTERVAL). While the stream
// runs, the watch keeps the session alive, so the user is not logged out
// by the idle timeout while the page is open.

// liveTick is how often the stream sends the time, so the page shows it
// is live.
const liveTick = 5 * time.Second

// liveCSP is pageHeaders' policy plus the page's one script file and its
// stream, both from this app.
const liveCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// livePage shows the live page, to a logged-in user.
func livePage(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		storeDown(c)
		return
	}
	user := sessions.User(c)
	if user == "" {
		if wantsJSON(c) {
			c.JSON(http.StatusUnauthorized, gin.H{"error": "log in first"})
			return
		}
		message(c, http.StatusUnauthorized, "Log in first", "The live page follows your session, so it needs to know who you are.", "/login", "Log in")
		return
	}
	if wantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"user": user, "events": "/live/events"})
		return
	}
	c.Header("Content-Security-Policy", liveCSP)
	render(c, http.StatusOK, "live", pageData{Title: "Live", User: user})
}

// liveEvents is the page's event stream: "watching" once the session is
// watched, "tick" with the time every liveTick, and "ended" when the
// session ends, after which the stream closes. A request without a
// logged-in session gets 204 No Content, which tells EventSource not to
// reconnect.
func liveEvents(c *gin.Context) {
	if sessions.LoadError(c) != nil {
		c.Status(http.StatusServiceUnavailable)
		return
	}
	user := sessions.User(c)
	ctx, stop := sessions.Watch(c)
	defer stop()
	if user == "" || ctx.Err() != nil {
		c.Status(http.StatusNoContent)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // a proxy must not hold the events back
	c.Status(http.StatusOK)
	send := func(event, data string) {
		fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", event, data)
		c.Writer.Flush()
	}
	send("watching", user)
	tick := time.NewTicker(liveTick)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			send("tick", now.Format(time.TimeOnly))
		case <-ctx.Done():
			// The client left, or the server is shutting down (it will
			// reconnect): nothing to tell. Otherwise the session ended.
			if c.Request.Context().Err() == nil && !errors.Is(context.Cause(ctx), sessions.ErrManagerClosed) {
				send("ended", "you were logged out")
			}
			return
		}
	}
}

// liveScript is the live page's script, served from this app so the
// page's policy needs no inline script.
const liveScript = `"use strict";
const status = document.getElementById("live-status");
const clock = document.getElementById("live-clock");
const show = (state, text) => { status.dataset.state = state; status.textContent = text; };
const events = new EventSource("/live/events");
events.addEventListener("watching", () => show("live", "Live: this page follows your session."));
events.addEventListener("tick", e => { clock.textContent = e.data; });
events.addEventListener("ended", e => {
	events.close();
	show("ended", "Your session ended: " + e.data + ".");
});
events.onerror = () => {
	if (events.readyState === EventSource.CLOSED) {
		if (status.dataset.state !== "ended") show("closed", "The live stream closed: you are not logged in.");
	} else {
		show("reconnecting", "Reconnecting…");
	}
};
`

func liveJS(c *gin.Context) {
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", []byte(liveScript))
}
