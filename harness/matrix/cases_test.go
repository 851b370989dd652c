package matrix

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An argument's name may be left out; one given is a parameter name, and
// two may not name the same parameter.
func TestArgNameValidation(t *testing.T) {
	f := writeFile(t, "cases.yaml", `apiVersion: ksystest/v1
cases:
  - name: unnamed
    probe: ksys_write
    syscall: write
    args:
      - {value: 1}
      - {name: buf, value: "buf:8"}
      - {value: 8}
  - name: bad
    probe: naive_mmap
    syscall: mmap
    args:
      - {name: "addr hint", value: 1}
      - {name: len, value: 2}
      - {name: prot, value: 3}
      - {name: flags, value: 4}
      - {name: offset, value: 5}
      - {name: off, value: 6}
`)
	_, err := LoadCatalogue(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `cases[1].args[0].name: "addr hint": a parameter name`)
	assert.Contains(t, err.Error(), `cases[1].args[5].name: "off" names what args[4] ("offset") names`)
	assert.NotContains(t, err.Error(), "cases[0]")
}
