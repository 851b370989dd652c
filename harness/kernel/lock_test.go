package kernel

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ksystest/ksystest/harness/archive/archivetest"
	"github.com/ksystest/ksystest/harness/cache"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fake archive's next point release: the metapackage points at a
// newer kernel package.
const (
	newerRelease = "6.1.0-10-amd64"
	newerKernel  = "linux-image-" + newerRelease
	newerVersion = "6.1.10-1"
)

func newerKernelPackages(t testing.TB) []archivetest.Package {
	deb := archivetest.KernelDeb(t, newerRelease, "NEWER", "CONFIG_ARCH_HAS_SYSCALL_WRAPPER=y\nCONFIG_DEBUG_INFO_BTF=y\n")
	return []archivetest.Package{
		{Name: "linux-image-amd64", Version: "10", Depends: newerKernel + " (= " + newerVersion + ")"},
		{Name: newerKernel, Version: newerVersion, Deb: deb},
	}
}

var followAMD64 = Ref{Suite: "bookworm", DebArch: "amd64", Flavour: "amd64"}

// lockedArchive is the fake archive with the standard kernel published and
// locked for target x86_64-6.1 (following flavour amd64) in a lock file
// written and read back.
func lockedArchive(t *testing.T) (*archivetest.Mirror, *Lock) {
	t.Helper()
	m := archivetest.NewMirror(t)
	m.Publish(t, "bookworm", "amd64", archivetest.KernelPackages(t))
	var logs archivetest.Log
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	lock, changes, err := f.LockKernels(context.Background(), &Lock{File: filepath.Join(t.TempDir(), "kernels.lock")},
		[]LockTarget{{Name: "x86_64-6.1", Ref: followAMD64}}, false)
	require.NoError(t, err)
	require.Len(t, changes, 1)
	assert.Equal(t, "not locked → "+archivetest.Kernel+" "+archivetest.Version, changes[0].String())
	require.NoError(t, lock.Write())
	read, err := ReadLock(lock.File)
	require.NoError(t, err)
	assert.Equal(t, lock, read)
	return m, read
}

// publishMovedOn makes the archive move on: the index lists only the newer
// kernel, and the pool answers for the locked one with pool (nil: 404).
func publishMovedOn(t *testing.T, m *archivetest.Mirror, pool http.HandlerFunc) {
	m.Publish(t, "bookworm", "amd64", newerKernelPackages(t))
	if pool == nil {
		pool = http.NotFound
	}
	m.Fault(archivetest.KernelPackages(t)[1].Filename(), pool)
}

func TestLockFileFormat(t *testing.T) {
	_, lock := lockedArchive(t)
	data, err := os.ReadFile(lock.File)
	require.NoError(t, err)
	deb := archivetest.KernelPackages(t)[1]
	assert.Equal(t, lockHeader+`apiVersion: ksystest/v1
kernels:
  - target: x86_64-6.1
    distro: debian
    suite: bookworm
    arch: amd64
    flavour: amd64
    package: `+archivetest.Kernel+`
    version: `+archivetest.Version+`
    filename: `+deb.Filename()+`
    size: `+strconv.Itoa(len(deb.Deb))+`
    sha256: `+archivetest.SHA256(deb.Deb)+`
`, string(data))
	assert.NotContains(t, string(data), "http", "the lock names pool paths, never a mirror")
}

// The locked kernel is booted while the index lists it, even when the
// flavour now points at a newer one.
func TestLockedKernelIsTheLockedOne(t *testing.T) {
	m, lock := lockedArchive(t)
	m.Publish(t, "bookworm", "amd64", append(newerKernelPackages(t), archivetest.KernelPackages(t)[1]))
	var logs archivetest.Log
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	ctx := context.Background()

	k, err := f.LockedKernel(ctx, lock, "x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel, k.Package)
	assert.Equal(t, archivetest.Version, k.Version)
	vmlinuz, _ := os.ReadFile(k.Vmlinuz)
	assert.Equal(t, "KERNEL", string(vmlinuz))
	assert.NotContains(t, logs.String(), "moved on", "the index still lists it")

	followed, err := f.Kernel(ctx, followAMD64)
	require.NoError(t, err)
	assert.Equal(t, newerKernel, followed.Package, "without the lock, the suite is followed")
}

// One hex digit changed in the lock: the index's hash wins, the kernel is
// refused before anything is downloaded, and the message says how to
// update.
func TestLockedKernelEditedSHA256IsRefused(t *testing.T) {
	m, lock := lockedArchive(t)
	data, err := os.ReadFile(lock.File)
	require.NoError(t, err)
	good := lock.Kernels[0].SHA256
	edited := flipHexDigit(good)
	require.NoError(t, os.WriteFile(lock.File, []byte(strings.Replace(string(data), good, edited, 1)), 0o644))
	lock, err = ReadLock(lock.File)
	require.NoError(t, err)

	var logs archivetest.Log
	_, err = testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).LockedKernel(context.Background(), lock, "x86_64-6.1", followAMD64)
	var mismatch *LockMismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.ErrorIs(t, err, ErrLock)
	assert.Equal(t, "x86_64-6.1: refusing "+archivetest.Kernel+" "+archivetest.Version+": "+lock.File+" locks sha256 "+edited+
		", but bookworm's signed index lists sha256 "+good+": the lock was edited, or the archive rebuilt the package; "+
		"run ksystest lock --update to lock what the archive has", err.Error())
	assert.Zero(t, m.HitsOf(archivetest.KernelPackages(t)[1].Filename()))
}

// Other hand edits: a version the index lists the locked hash under is
// refused too; a pool path is taken from the index while it lists the
// kernel.
func TestLockedKernelOtherEdits(t *testing.T) {
	m, lock := lockedArchive(t)
	var logs archivetest.Log
	ctx := context.Background()
	edited := *lock
	edited.Kernels = []LockedKernel{lock.Kernels[0]}
	edited.Kernels[0].Version = "6.1.8-1"
	_, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).LockedKernel(ctx, &edited, "x86_64-6.1", followAMD64)
	assert.ErrorIs(t, err, ErrLock)
	assert.EqualError(t, err, "x86_64-6.1: "+lock.File+" locks "+archivetest.Kernel+" 6.1.8-1, but bookworm's signed index lists its sha256 for "+
		archivetest.Kernel+" "+archivetest.Version+": the lock was edited; run ksystest lock --update to lock what the archive has")

	edited.Kernels[0] = lock.Kernels[0]
	edited.Kernels[0].Filename = "pool/main/l/nowhere.deb"
	k, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).LockedKernel(ctx, &edited, "x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Version, k.Version)
}

func flipHexDigit(s string) string {
	d := "1"
	if s[10] == '1' {
		d = "2"
	}
	return s[:10] + d + s[11:]
}

// The archive moved on and dropped the locked kernel from its index and
// pool: the cache still has it, keyed by the locked SHA256.
func TestLockedKernelFromCacheWhenArchiveMovedOn(t *testing.T) {
	m, lock := lockedArchive(t)
	store := &cache.Cache{Dir: t.TempDir()}
	var logs archivetest.Log
	ctx := context.Background()
	first, err := testFetcher(m, store, &logs).LockedKernel(ctx, lock, "x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.False(t, first.Cached)

	publishMovedOn(t, m, nil)
	k, err := testFetcher(m, store, &logs).LockedKernel(ctx, lock, "x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.True(t, k.Cached)
	assert.Equal(t, archivetest.Version, k.Version)
	assert.Equal(t, first.SHA256, k.SHA256)
	assert.Equal(t, 1, m.HitsOf(archivetest.KernelPackages(t)[1].Filename()), "downloaded once, before the archive moved on")
	assert.Contains(t, logs.String(), "x86_64-6.1: bookworm's index has moved on to "+newerKernel+" "+newerVersion+
		"; booting the locked "+archivetest.Kernel+" "+archivetest.Version)
}

// The archive moved on, the cache is empty: the locked .deb comes from its
// pool file, verified against the lock.
func TestLockedKernelFromPoolWhenArchiveMovedOn(t *testing.T) {
	m, lock := lockedArchive(t)
	deb := archivetest.KernelPackages(t)[1]
	publishMovedOn(t, m, func(w http.ResponseWriter, _ *http.Request) { w.Write(deb.Deb) })
	var logs archivetest.Log
	ctx := context.Background()
	k, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).LockedKernel(ctx, lock, "x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.False(t, k.Cached)
	assert.Equal(t, archivetest.Kernel, k.Package)
	assert.Equal(t, archivetest.Version, k.Version)

	// A pool file that is not what the lock says is never booted.
	m.Fault(deb.Filename(), func(w http.ResponseWriter, _ *http.Request) { w.Write(append([]byte("X"), deb.Deb[1:]...)) })
	store := &cache.Cache{Dir: t.TempDir()}
	_, err = testFetcher(m, store, &logs).LockedKernel(ctx, lock, "x86_64-6.1", followAMD64)
	var hash *cache.HashMismatchError
	require.ErrorAs(t, err, &hash)
	assert.Equal(t, lock.Kernels[0].SHA256, hash.Want)
	assert.Contains(t, err.Error(), archivetest.Kernel+" "+archivetest.Version+" is no longer in bookworm's index, and its pool file is not what "+lock.File+" locks: ")
	entries, _ := os.ReadDir(store.Path("kernels"))
	assert.Empty(t, entries)
}

// Neither the index, nor the pool, nor the cache has the locked kernel.
func TestLockedKernelGone(t *testing.T) {
	m, lock := lockedArchive(t)
	publishMovedOn(t, m, nil)
	var logs archivetest.Log
	_, err := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs).LockedKernel(context.Background(), lock, "x86_64-6.1", followAMD64)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLock)
	assert.Equal(t, archivetest.Kernel+" "+archivetest.Version+" (locked in "+lock.File+") is no longer in bookworm's index nor in the pool, "+
		"and not in the cache: run ksystest lock --update", err.Error())
}

// A target the lock does not have, or has for another kernel than the
// matrix asks for now, is the lock's fault.
func TestLockFind(t *testing.T) {
	_, lock := lockedArchive(t)
	_, err := lock.Find("arm64-6.1", followAMD64)
	assert.ErrorIs(t, err, ErrLock)
	assert.EqualError(t, err, "arm64-6.1 is not in "+lock.File+": run ksystest lock to lock its kernel")

	_, err = lock.Find("x86_64-6.1", Ref{Suite: "trixie", DebArch: "amd64", Flavour: "amd64"})
	assert.ErrorIs(t, err, ErrLock)
	assert.EqualError(t, err, "x86_64-6.1: "+lock.File+" locks "+archivetest.Kernel+" "+archivetest.Version+
		" for bookworm amd64 flavour amd64, but the matrix asks for trixie amd64 flavour amd64: run ksystest lock to lock it again")

	_, err = lock.Find("x86_64-6.1", Ref{Suite: "bookworm", DebArch: "amd64", Package: archivetest.Kernel})
	assert.ErrorIs(t, err, ErrLock, "a flavour locked is not a package named")
	lk, err := lock.Find("x86_64-6.1", followAMD64)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel, lk.Package)
}

// ksystest lock keeps what still holds; lock --update moves every target
// to what the archive has now. Each change reads old → new.
func TestLockKernelsKeepAndUpdate(t *testing.T) {
	m, old := lockedArchive(t)
	old.Kernels = append(old.Kernels, LockedKernel{Target: "gone", Suite: "bookworm", Arch: "amd64", LockedPackage: LockedPackage{Package: archivetest.Kernel,
		Version: archivetest.Version, Filename: "pool/x.deb", Size: 1, SHA256: strings.Repeat("a", 64)}})
	m.Publish(t, "bookworm", "amd64", append(newerKernelPackages(t), archivetest.KernelPackages(t)[1]))
	var logs archivetest.Log
	f := testFetcher(m, &cache.Cache{Dir: t.TempDir()}, &logs)
	ctx := context.Background()
	targets := []LockTarget{
		{Name: "x86_64-6.1", Ref: followAMD64},
		{Name: "pinned", Ref: Ref{Suite: "bookworm", DebArch: "amd64", Package: archivetest.Kernel}},
	}
	strs := func(changes []LockChange) []string {
		var out []string
		for _, c := range changes {
			out = append(out, c.Target+": "+c.String())
		}
		return out
	}

	kept, changes, err := f.LockKernels(ctx, old, targets, false)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"x86_64-6.1: " + archivetest.Kernel + " " + archivetest.Version + " unchanged",
		"pinned: not locked → " + archivetest.Kernel + " " + archivetest.Version,
		"gone: " + archivetest.Kernel + " " + archivetest.Version + " → removed (no such target)",
	}, strs(changes))
	assert.Equal(t, old.File, kept.File)
	require.Len(t, kept.Kernels, 2)
	assert.Equal(t, old.Kernels[0], kept.Kernels[0])
	assert.Empty(t, kept.Kernels[1].Flavour, "a named package follows no flavour")

	updated, changes, err := f.LockKernels(ctx, kept, targets, true)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"x86_64-6.1: " + archivetest.Kernel + " " + archivetest.Version + " → " + newerKernel + " " + newerVersion,
		"pinned: " + archivetest.Kernel + " " + archivetest.Version + " unchanged",
	}, strs(changes))
	assert.True(t, changes[0].Changed())
	assert.False(t, changes[1].Changed())
	assert.Equal(t, newerKernel, updated.Kernels[0].Package)

	// An entry edited by hand is put right by --update, and says so.
	edited := *kept
	edited.Kernels = append([]LockedKernel(nil), kept.Kernels...)
	edited.Kernels[1].SHA256 = flipHexDigit(edited.Kernels[1].SHA256)
	_, changes, err = f.LockKernels(ctx, &edited, targets[1:], true)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel+" "+archivetest.Version+": sha256 "+edited.Kernels[1].SHA256+" → "+kept.Kernels[1].SHA256, changes[0].String())

	// A target that asks for another kernel than its entry was locked for
	// is looked up again, update or not.
	moved := []LockTarget{{Name: "x86_64-6.1", Ref: Ref{Suite: "bookworm", DebArch: "amd64", Package: archivetest.Kernel}}}
	_, changes, err = f.LockKernels(ctx, kept, moved, false)
	require.NoError(t, err)
	assert.Equal(t, archivetest.Kernel+" "+archivetest.Version+": locked for bookworm amd64 flavour amd64 → bookworm amd64 "+archivetest.Kernel, changes[0].String())
}

// A lock is decoded as strictly as the matrix: every problem with file,
// line and key.
func TestReadLockStrict(t *testing.T) {
	write := func(text string) string {
		p := filepath.Join(t.TempDir(), "kernels.lock")
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	entry := `apiVersion: ksystest/v1
kernels:
  - target: x86_64-6.1
    suite: bookworm
    arch: amd64
    package: linux-image-6.1.0-50-amd64
    version: 6.1.176-1
    filename: pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-amd64_6.1.176-1_amd64.deb
    size: 70000000
    sha256: ` + strings.Repeat("ab", 32) + "\n"
	_, err := ReadLock(write(entry))
	require.NoError(t, err)

	for name, tc := range map[string]struct{ text, want string }{
		"unknown key": {strings.Replace(entry, "    size:", "    sizes:", 1), `:9: unknown field "sizes"`},
		"wrong type":  {strings.Replace(entry, "70000000", "big", 1), `:9: key "size": `},
		"bad hash": {strings.Replace(entry, strings.Repeat("ab", 32), strings.Repeat("AB", 32), 1),
			`:10: kernels[0].sha256: sha256 "` + strings.Repeat("AB", 32) + `": not a plain Debian name`},
		"path in filename": {strings.Replace(entry, "pool/main", "../main", 1), `:8: kernels[0].filename: filename "../main`},
		"url in filename":  {strings.Replace(entry, "pool/main", "http://x/pool/main", 1), `:8: kernels[0].filename: `},
		"missing key":      {strings.Replace(entry, "    version: 6.1.176-1\n", "", 1), `:3: kernels[0].version: missing`},
		"bad version":      {strings.Replace(entry, "6.1.176-1\n", "latest\n", 1), `:7: kernels[0].version: version "latest"`},
		"duplicate": {entry + strings.SplitN(entry, "kernels:\n", 2)[1],
			`:11: kernels[1].target: "x86_64-6.1" is locked already by kernels[0]`},
		"api version": {strings.Replace(entry, "ksystest/v1", "ksystest/v0", 1), `:1: apiVersion: is "ksystest/v0", want "ksystest/v1"`},
	} {
		t.Run(name, func(t *testing.T) {
			f := write(tc.text)
			_, err := ReadLock(f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), f+tc.want)
		})
	}

	// Every problem at once.
	f := write(strings.Replace(strings.Replace(entry, "size: 70000000", "size: 0", 1), "suite: bookworm", "suite: ../x", 1))
	_, err = ReadLock(f)
	require.Error(t, err)
	assert.Contains(t, err.Error(), f+":4: kernels[0].suite: ")
	assert.Contains(t, err.Error(), f+":9: kernels[0].size: 0: want the .deb's size in bytes")
}
