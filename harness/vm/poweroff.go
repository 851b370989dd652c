package vm

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// WatchPowerOff watches a guest whose init only powers off (the boot
// floor) until it ends, within limit, and says why it did not power off
// cleanly ("" when it did), with the console's tail. A guest that ends by
// itself without a crash line powered off: the kernel's own "reboot: Power
// down" does not reach the console on every arch (s390x's SCLP console is
// gone by then).
func WatchPowerOff(ctx context.Context, inst Instance, start time.Time, limit time.Duration) (took time.Duration, reason string, tail []string) {
	c := &powerOffConsole{limit: limit, tail: Tail{N: TailLines}}
	took = Follow(ctx, inst, start, limit, 2*time.Second, c)
	if c.reason != "" {
		return 0, c.reason, c.tail.Lines()
	}
	return took, "", nil
}

type powerOffConsole struct {
	limit  time.Duration
	tail   Tail
	reason string
}

func (c *powerOffConsole) Line(line []byte, _ time.Duration) Next {
	c.tail.Add(string(line[:min(len(line), maxConsoleLine)]))
	return Next{Text: true}
}

func (c *powerOffConsole) Expired(crash string) bool {
	if c.reason == "" && crash == "" {
		c.reason = fmt.Sprintf("the guest did not power off within %s", c.limit)
	}
	return true
}

func (c *powerOffConsole) Interrupted(cause error) {
	if c.reason == "" {
		c.reason = "interrupted: " + cause.Error()
	}
}

func (c *powerOffConsole) Ended(readErr, exitErr error, crash string) {
	switch {
	case crash != "":
		c.reason = "kernel: " + strings.TrimSpace(crash)
	case c.reason != "":
	case readErr != nil:
		c.reason = "host I/O error: read the guest's console: " + readErr.Error()
	case exitErr != nil:
		c.reason = exitErr.Error()
	}
}
