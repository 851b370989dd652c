package archive

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
)

// Without Ubuntu's keyring on the host, its keys come out of Debian's
// ubuntu-keyring package, from the first suite that has it, verified
// through Debian's signed index, and are cached.
func TestUbuntuKeyringFromDebian(t *testing.T) {
	m := archivetest.NewMirror(t)
	deb := archivetest.BuildDeb(t, "xz",
		archivetest.TarEntry{Name: "./usr/share/doc/ubuntu-keyring/copyright", Body: "c"},
		archivetest.TarEntry{Name: "./" + ubuntuKeyringInDeb, Body: "UBUNTU KEYS"})
	m.Publish(t, "trixie", hostDebArch(), []archivetest.Package{{Name: "other", Version: "1", Deb: []byte("x")}})
	m.Publish(t, "bookworm-backports", hostDebArch(), []archivetest.Package{{Name: ubuntuKeyringPackage, Version: "2023.11.28.1-0.2~bpo12+1", Deb: deb}})
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	path, err := testFetcher(m, store, &logs).UbuntuKeyringFromDebian(context.Background())
	require.NoError(t, err)
	keys, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "UBUNTU KEYS", string(keys))
	assert.Contains(t, logs.String(), "Ubuntu's archive keyring from Debian's ubuntu-keyring 2023.11.28.1-0.2~bpo12+1 (bookworm-backports)")

	m.Close()
	again, err := testFetcher(m, store, &logs).UbuntuKeyringFromDebian(context.Background())
	require.NoError(t, err, "cached")
	assert.Equal(t, path, again)
}

func TestUbuntuKeyringNowhere(t *testing.T) {
	m := archivetest.NewMirror(t)
	for _, suite := range ubuntuKeyringSuites {
		m.Publish(t, suite, hostDebArch(), []archivetest.Package{{Name: "other", Version: "1", Deb: []byte("x")}})
	}
	var logs archivetest.Log
	_, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).UbuntuKeyringFromDebian(context.Background())
	assert.ErrorContains(t, err, "Debian's ubuntu-keyring package: trixie: ")
	assert.ErrorContains(t, err, "bookworm-backports: ")
}
