package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, 3))
	line := regexp.MustCompile(`^GET http://127\.0\.0\.1:\d+/page/\d: 200 OK, 17 bytes$`)
	lines := bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n"))
	require.Len(t, lines, 3, out.String())
	for i, l := range lines {
		assert.Regexp(t, line, string(l), "line %d", i+1)
	}
}
