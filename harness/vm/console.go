package vm

import (
	"regexp"
	"strings"
)

// crashPatterns are console lines that mean the kernel is dying. Any one
// makes the cell a crash, whatever the agent said before.
var crashPatterns = regexp.MustCompile("(?:" + strings.Join([]string{
	`Kernel panic - not syncing`,
	`\bBUG: `,
	`\bOops[: ]`,
	`Unable to handle kernel`,
	`general protection fault`,
	`Internal error: `,
	`kernel BUG at`,
	`Attempted to kill init`,
}, ")|(?:") + ")")

// crashWords holds a literal of each crash pattern: a line without any is
// not searched by the regular expression, which on a megabyte-long line
// (a guest that never ends one) costs far more than these.
var crashWords = []string{"panic", "BUG", "Oops", "Unable to handle", "general protection", "Internal error", "Attempted to kill"}

// IsCrashLine reports whether a console line shows the kernel dying.
func IsCrashLine(line string) bool {
	for _, w := range crashWords {
		if strings.Contains(line, w) {
			return crashPatterns.MatchString(line)
		}
	}
	return false
}

// Tail keeps the last N lines of a console: a failed guest's evidence.
type Tail struct {
	N     int
	lines []string
}

// Add keeps line, dropping the oldest beyond N.
func (t *Tail) Add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.N {
		t.lines = t.lines[len(t.lines)-t.N:]
	}
}

// Lines returns the lines kept, oldest first.
func (t *Tail) Lines() []string { return append([]string(nil), t.lines...) }
