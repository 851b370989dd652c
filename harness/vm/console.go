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

// IsCrashLine reports whether a console line shows the kernel dying.
func IsCrashLine(line string) bool { return crashPatterns.MatchString(line) }

// tail keeps the last n lines.
type tail struct {
	n     int
	lines []string
}

func (t *tail) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tail) get() []string { return append([]string(nil), t.lines...) }
