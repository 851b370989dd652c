package archive

import (
	"fmt"
	"slices"
	"strings"
)

// Distro is a distribution whose archive a Fetcher reads: Debian's or
// Ubuntu's. Both archives have the same layout (signed InRelease, hashed
// Packages indexes, a pool); they differ in where their mirror is found,
// which keys sign them, and how their suites are named.
type Distro struct {
	// Name is how a matrix and a lock name it ("debian", "ubuntu").
	Name string
	// Title names it in messages ("Debian").
	Title string
	// MirrorFlag and MirrorEnv override the mirror, in that order.
	MirrorFlag, MirrorEnv string
	// KeyringFlag names the keyring; DefaultKeyring is where
	// KeyringPackage installs it.
	KeyringFlag, DefaultKeyring, KeyringPackage string
	// codenames are the distro's suites without their pockets (bookworm,
	// not bookworm-backports): how its entries in apt sources are told
	// from another distro's.
	codenames []string
	// debootstrap says that debootstrap's suite scripts name the
	// distro's default mirror: the last place to look on a host whose apt
	// sources list another distro's.
	debootstrap bool
	// DebugPackages says the archive carries kernels' debug packages
	// (Debian's -dbg), from which BTF can be made for a kernel without.
	DebugPackages bool
	// cacheDir keeps the distro's indexes apart from another's suite of
	// the same name; empty for Debian, whose cache layout predates it.
	cacheDir string
}

// MirrorEnv names the environment variable that overrides Debian's
// mirror; UbuntuMirrorEnv Ubuntu's.
const (
	MirrorEnv       = "KSYSTEST_DEBIAN_MIRROR"
	UbuntuMirrorEnv = "KSYSTEST_UBUNTU_MIRROR"
)

// DefaultKeyring is where debian-archive-keyring installs the archive
// keys; UbuntuKeyring where Debian's ubuntu-keyring (and Ubuntu's own)
// installs Ubuntu's.
const (
	DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
	UbuntuKeyring  = "/usr/share/keyrings/ubuntu-archive-keyring.gpg"
)

var (
	Debian = &Distro{
		Name: "debian", Title: "Debian", MirrorFlag: "--debian-mirror", MirrorEnv: MirrorEnv,
		KeyringFlag: "--keyring", DefaultKeyring: DefaultKeyring, KeyringPackage: "debian-archive-keyring",
		codenames:     []string{"buster", "bullseye", "bookworm", "trixie", "forky", "sid", "stable", "testing", "unstable", "oldstable"},
		DebugPackages: true,
	}
	Ubuntu = &Distro{
		Name: "ubuntu", Title: "Ubuntu", MirrorFlag: "--ubuntu-mirror", MirrorEnv: UbuntuMirrorEnv,
		KeyringFlag: "--ubuntu-keyring", DefaultKeyring: UbuntuKeyring, KeyringPackage: "ubuntu-keyring",
		codenames: []string{"trusty", "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble",
			"oracular", "plucky", "questing", "resolute"},
		debootstrap: true,
		cacheDir:    "ubuntu",
	}
	// Distros are the distributions ksystest takes kernels from.
	Distros = []*Distro{Debian, Ubuntu}
)

// DistroNamed returns the distro a matrix or lock names; "" is Debian.
func DistroNamed(name string) (*Distro, error) {
	if name == "" {
		return Debian, nil
	}
	for _, d := range Distros {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("distro %q: want debian or ubuntu", name)
}

func (d *Distro) String() string { return d.Name }

// OwnsSuite reports whether suite is one of the distro's, a pocket
// (bookworm-backports, focal-updates) included, security excepted: it
// lives in another archive with another layout.
func (d *Distro) OwnsSuite(suite string) bool {
	base, _, _ := strings.Cut(suite, "-")
	return !strings.Contains(suite, "security") && slices.Contains(d.codenames, base)
}
