package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An Ubuntu target's kernel is named with its distro; --only picks the
// default matrix's Ubuntu targets by their names.
func TestListShowsUbuntuKernels(t *testing.T) {
	code, out, errs := runCLI(t, "list", "--matrix", "../../matrix.yaml", "--only", "*-ubuntu-*")
	require.Equal(t, 0, code, errs)
	assert.Regexp(t, `x86_64-ubuntu-5\.4\s+x86_64\s+ubuntu focal-updates linux-image-5\.4\.0-\d+-generic 5\.4\.0-\S+ \(locked\)`, out)
	assert.Regexp(t, `x86_64-ubuntu-5\.15\s+x86_64\s+ubuntu jammy-updates linux-image-5\.15\.0-\d+-generic \S+ \(locked\)`, out)
	assert.Regexp(t, `x86_64-ubuntu-6\.8\s+x86_64\s+ubuntu noble-updates linux-image-6\.8\.0-\d+-generic \S+ \(locked\)`, out)
	assert.NotContains(t, out, "bookworm")
}
