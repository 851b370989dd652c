package syscalls

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/internal/vmtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tables against golang.org/x/sys/unix's zsysnum_linux_*.go, which
// come from another source (the uapi headers, through a C compiler). The
// files are read as text, so one host checks every ABI. Where x/sys names
// a syscall the table has, the numbers must agree; names only one side
// has are logged.
func TestAgainstXSys(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(xsysDir(t), "unix", "zsysnum_linux_*.go"))
	require.NoError(t, err)
	checked := map[string]bool{}
	for _, file := range files {
		goarch := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "zsysnum_linux_"), ".go")
		abi, ok := ForGOARCH(goarch)
		if !ok {
			continue
		}
		checked[abi] = true
		consts := readSysConsts(t, file)
		var onlyXSys []string
		for name, nr := range consts {
			s, ok := Lookup(abi, name)
			if !ok {
				onlyXSys = append(onlyXSys, name)
				continue
			}
			assert.Equal(t, s.NR, nr, "%s: x/sys SYS_%s (%s) disagrees with the %s table", goarch, strings.ToUpper(name), filepath.Base(file), abi)
		}
		var onlyTable []string
		for _, s := range All(abi) {
			if _, ok := consts[s.Name]; !ok {
				onlyTable = append(onlyTable, s.Name)
			}
		}
		slices.Sort(onlyXSys)
		t.Logf("%s (%s): %d x/sys constants; only x/sys has %v; only the table has %v", goarch, abi, len(consts), onlyXSys, onlyTable)
	}
	for _, abi := range ABIs() {
		assert.True(t, checked[abi], "no x/sys file checked %s", abi)
	}
}

// readSysConsts returns a zsysnum file's SYS_NAME = NR constants by
// lowercase name: SYS__LLSEEK is _llseek.
func readSysConsts(t *testing.T, file string) map[string]int {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	consts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 || fields[1] != "=" || !strings.HasPrefix(fields[0], "SYS_") {
			continue
		}
		nr, err := strconv.Atoi(fields[2])
		require.NoError(t, err, sc.Text())
		consts[strings.ToLower(strings.TrimPrefix(fields[0], "SYS_"))] = nr
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, consts, file)
	return consts
}

// xsysDir is golang.org/x/sys in the module cache, at the version go.mod
// requires.
func xsysDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/sys").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		vmtest.Missing(t, fmt.Sprintf("golang.org/x/sys in the module cache (go mod download): %v", err))
	}
	return dir
}
